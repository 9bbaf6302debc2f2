"""``POST /api/v1/import``: the span lines of an export go through the ingest batcher,
as OTLP spans do, and are answered once committed, all or none."""

from __future__ import annotations

import os
from typing import Any

import httpx
import orjson

from tests.conftest import LaminaServer
from tests.support import otlp

BASE_NS = 1_767_225_600 * 1_000_000_000  # 2026-01-01T00:00:00Z


def _span(session_id: str, n: int, trace_id: str | None = None) -> dict[str, Any]:
    return {
        "kind": "span",
        "trace_id": trace_id or os.urandom(16).hex(),
        "span_id": os.urandom(8).hex(),
        "name": f"imported-{n}",
        "start_ns": BASE_NS + n * 1_000_000,
        "end_ns": BASE_NS + n * 1_000_000 + 500_000,
        "session_id": session_id,
        "input": f"question {n}",
        "output": f"answer {n}",
    }


def _lines(*items: dict[str, Any]) -> bytes:
    return b"".join(orjson.dumps(item) + b"\n" for item in items)


def _import(server: LaminaServer, body: bytes, key: str, **params: str) -> httpx.Response:
    return otlp.client().post(
        f"{server.url}/api/v1/import",
        params=params,
        content=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/x-ndjson"},
    )


def _admin_token(server: LaminaServer) -> str:
    return (server.data_dir / "admin.token").read_text().strip()


def test_an_import_goes_through_the_batcher_and_answers_once_committed(
    server: LaminaServer,
) -> None:
    name, key = otlp.new_project(server, "import")
    session_id = otlp.uid("imported")
    spans = [_span(session_id, n) for n in range(5)]
    written = otlp.api(server, "/healthz")["spans_written"]
    header = {"lamina_export": 1, "project": "elsewhere"}
    trailer = {"kind": "trailer", "sessions": 1, "traces": 5, "spans": 5}
    other = {"kind": "session", "session_id": session_id}
    answer = _import(
        server, _lines(header, other, *spans, trailer), _admin_token(server), project=name
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "spans": 5,
        "traces": 5,
        "scores": 0,
        "comments": 0,
        "datasets": 0,
        "dataset_items": 0,
        "experiments": 0,
        "experiment_items": 0,
    }
    # the batcher wrote them (an import once went around it, to the store directly)
    assert otlp.api(server, "/healthz")["spans_written"] == written + 5
    # committed before the answer: readable at once, the session rebuilt from the spans
    session = otlp.api(server, f"/api/v1/sessions/{session_id}", key=key)
    assert session["trace_count"] == 5 and session["first_input"] == "question 0"


def test_a_project_key_imports_into_its_own_project_only(server: LaminaServer) -> None:
    name, key = otlp.new_project(server, "import-own")
    other_name, other_key = otlp.new_project(server, "import-other")
    session_id = otlp.uid("own")
    answer = _import(server, _lines(_span(session_id, 0)), key, project=other_name)
    assert answer.status_code == 200, answer.text
    assert otlp.api(server, f"/api/v1/sessions/{session_id}", key=key)["trace_count"] == 1
    assert otlp.get(server, f"/api/v1/sessions/{session_id}", key=other_key).status_code == 404
    assert name != other_name


def test_a_bad_span_stores_none_of_the_request(server: LaminaServer) -> None:
    name, key = otlp.new_project(server, "import-bad")
    session_id = otlp.uid("none")
    bad = {**_span(session_id, 2), "start_ns": "yesterday"}
    body = _lines(_span(session_id, 0), _span(session_id, 1), bad)
    answer = _import(server, body, key)
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith("line 3: start_ns must be nanoseconds")
    assert otlp.get(server, f"/api/v1/sessions/{session_id}", key=key).status_code == 404

    newer = _lines({"lamina_export": 99}, _span(session_id, 0))
    refused = _import(server, newer, _admin_token(server), project=name)
    assert refused.status_code == 400 and "newer Lamina" in refused.text
    assert otlp.get(server, f"/api/v1/sessions/{session_id}", key=key).status_code == 404
