"""``POST /v1/evaluators/score`` (lamina.web.laminar.traces, #24), what the TypeScript
SDK's ``LaminarClient().evaluators.score`` sends: ``{name, score, source: "Code",
metadata, traceId | spanId}``, ids as Laminar writes them (a trace's 32 hex digits as a
UUID, a span's 16 after 16 zeros). A score by trace id lands on the trace; by span id
alone, on the span's trace and the span. One real server (the shared one)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import LaminaServer
from tests.reliability.test_data_lifecycle import send_session
from tests.support import otlp


def _score(server: LaminaServer, key: str, body: dict[str, Any]) -> httpx.Response:
    return otlp.client().post(
        server.url + "/v1/evaluators/score",
        headers={"Authorization": f"Bearer {key}"},
        json=body,
    )


def _span_uuid(span_id: str) -> str:
    """A span id as the TypeScript SDK sends it (otelSpanIdToUUID)."""
    return str(uuid.UUID(hex=span_id.rjust(32, "0")))


@pytest.fixture(scope="module")
def stored(server: LaminaServer) -> tuple[str, str, str]:
    """A project's key, a stored trace's id and the id of its second span."""
    _, key = otlp.new_project(server, "laminar-scores")
    (trace_id,) = send_session(server, key, otlp.uid("scored"), 1)
    trace = server.wait_for(f"/api/v1/traces/{trace_id}", lambda t: t["span_count"] == 2, key=key)
    return key, trace_id, trace["spans"][1]["span_id"]


def test_a_score_by_trace_id_lands_on_the_trace(
    server: LaminaServer, stored: tuple[str, str, str]
) -> None:
    key, trace_id, _ = stored
    body = {
        "name": "quality",
        "score": 0.95,
        "source": "Code",
        "metadata": {"model": "m"},
        "traceId": str(uuid.UUID(hex=trace_id)),
    }
    answer = _score(server, key, body)
    assert answer.status_code == 200, answer.text
    found = server.api("/api/v1/scores", key=key, trace_id=trace_id, name="quality")["items"]
    assert [(s["value"], s["source"], s["trace_id"], s["span_id"]) for s in found] == [
        (0.95, "sdk", trace_id, None)
    ]


def test_a_score_by_span_id_alone_lands_on_its_trace(
    server: LaminaServer, stored: tuple[str, str, str]
) -> None:
    key, trace_id, span_id = stored
    body = {"name": "relevance", "score": 0.5, "source": "Code", "spanId": _span_uuid(span_id)}
    answer = _score(server, key, body)
    assert answer.status_code == 200, answer.text
    found = server.api("/api/v1/scores", key=key, trace_id=trace_id, name="relevance")["items"]
    assert [(s["value"], s["trace_id"], s["span_id"]) for s in found] == [(0.5, trace_id, span_id)]


def test_another_projects_span_is_not_found(
    server: LaminaServer, stored: tuple[str, str, str]
) -> None:
    _, trace_id, span_id = stored
    _, other = otlp.new_project(server, "laminar-scores-other")
    answer = _score(server, other, {"name": "x", "score": 1, "spanId": _span_uuid(span_id)})
    assert answer.status_code == 404, answer.text
    assert "No span" in answer.json()["error"]["message"]
    assert server.api("/api/v1/scores", key=other, trace_id=trace_id)["items"] == []


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"name": "x", "score": 1}, ("traceId", "spanId")),
        ({"name": "x", "score": 1, "traceId": "t", "spanId": "s"}, ("one of them",)),
        ({"name": "x", "score": 1, "traceId": "not-a-uuid"}, ("traceId", "UUID")),
        ({"name": "x", "score": 1, "spanId": str(uuid.uuid4())}, ("spanId", "16 zeros")),
        ({"name": "x", "score": "high", "traceId": str(uuid.uuid4())}, ("value", "number")),
        ({"name": "", "score": 1, "traceId": str(uuid.uuid4())}, ("name",)),
    ],
)
def test_a_score_it_cannot_use_is_a_400_naming_the_field(
    server: LaminaServer, stored: tuple[str, str, str], body: dict[str, Any], words: tuple[str]
) -> None:
    answer = _score(server, stored[0], body)
    assert answer.status_code == 400, answer.text
    message = answer.json()["error"]["message"]
    for word in words:
        assert word in message, message
