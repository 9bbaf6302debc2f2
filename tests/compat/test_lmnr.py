"""The official Laminar Python SDK (``lmnr``), unchanged, pointed at Lamina with
``base_url``/``http_port``/``grpc_port``, over its default gRPC transport and with
``force_http=True``: what it sends lands in the right fields of sessions, traces
and spans (apps/lmnr_app.py is the application)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.compat.conftest import AppRun, Launched, assert_clean, expected_cost, spans_by_name
from tests.conftest import LaminaServer
from tests.fakes.llm import count_tokens


@dataclass(frozen=True)
class LmnrRun:
    run: str
    app: AppRun

    @property
    def session_id(self) -> str:
        return f"lmnr-session-{self.run}"

    @property
    def user_id(self) -> str:
        return f"lmnr-user-{self.run}"


@pytest.fixture(params=["grpc", "http"])
def lmnr(request: pytest.FixtureRequest, apps: dict[str, Launched]) -> LmnrRun:
    app = apps[f"lmnr-{request.param}"]
    return LmnrRun(app.run, app.result())


def _trace(server: LaminaServer, trace_id: str) -> dict[str, Any]:
    detail: dict[str, Any] = server.api(f"/api/v1/traces/{trace_id}")
    return detail


def test_observe_session_user_metadata_and_tags_land_on_the_trace(
    server: LaminaServer, lmnr: LmnrRun
) -> None:
    detail = _trace(server, lmnr.app.output["observe"])
    assert detail["name"] == "handle_turn"
    assert detail["session_id"] == lmnr.session_id
    assert detail["user_id"] == lmnr.user_id
    assert detail["metadata"] == {"plan": "pro", "region": "eu"}
    assert sorted(detail["tags"]) == ["lmnr", "support"]
    assert detail["status"] == "ok"
    assert detail["input_preview"] == "Where is my order?"
    assert detail["output_preview"] == "You said: Where is my order? (shipped)"
    spans = spans_by_name(detail)
    assert {name: s["span_type"] for name, s in spans.items()} == {
        "handle_turn": "DEFAULT",
        "lookup_order": "TOOL",
        "openai.chat": "LLM",
    }
    root = spans["handle_turn"]["span_id"]
    assert spans["lookup_order"]["parent_span_id"] == root
    assert spans["lookup_order"]["input"] == '{"order_id":"o-42"}'
    assert spans["lookup_order"]["output"] == '{"order_id":"o-42","status":"shipped"}'
    assert all(s["session_id"] == lmnr.session_id for s in detail["spans"])


def test_openai_instrumentation_gives_an_llm_span_with_model_tokens_and_cost(
    server: LaminaServer, lmnr: LmnrRun
) -> None:
    llm = spans_by_name(_trace(server, lmnr.app.output["observe"]))["openai.chat"]
    prompt = count_tokens("You are a support agent. Where is my order?")
    completion = count_tokens("You said: Where is my order?")
    assert (llm["model"], llm["provider"]) == ("gpt-4o-mini", "openai")
    assert (llm["input_tokens"], llm["output_tokens"]) == (prompt, completion)
    assert llm["cost"] == pytest.approx(expected_cost("gpt-4o-mini", prompt, completion))
    assert "Where is my order?" in llm["input"] and "You are a support agent." in llm["input"]
    assert "You said: Where is my order?" in llm["output"]


def test_set_trace_session_id_puts_a_trace_started_outside_in_the_session(
    server: LaminaServer, lmnr: LmnrRun
) -> None:
    detail = _trace(server, lmnr.app.output["set_trace_session_id"])
    assert (detail["name"], detail["session_id"], detail["user_id"]) == (
        "second_turn",
        lmnr.session_id,
        lmnr.user_id,
    )
    assert detail["output_preview"] == "THANKS"


def test_start_as_current_span_records_type_input_output_and_its_session(
    server: LaminaServer, lmnr: LmnrRun
) -> None:
    detail = _trace(server, lmnr.app.output["start_as_current_span"])
    assert detail["session_id"] == f"lmnr-manual-{lmnr.run}"
    (span,) = detail["spans"]
    assert (span["name"], span["span_type"]) == ("manual_llm_call", "LLM")
    assert span["input"] == '{"prompt":"Summarise the conversation"}'
    assert detail["output_preview"] == "A customer asked where their order was."


def test_the_session_holds_exactly_its_traces_with_their_token_totals(
    server: LaminaServer, lmnr: LmnrRun
) -> None:
    result = server.api(f"/api/v1/sessions/{lmnr.session_id}")
    assert [t["name"] for t in result["traces"]] == ["handle_turn", "second_turn"]
    assert (result["trace_count"], result["span_count"]) == (2, 4)
    assert result["user_ids"] == [lmnr.user_id]
    assert (result["input_tokens"], result["output_tokens"]) == (9, 6)
    assert result["error_count"] == 0


def test_span_and_log_export_report_no_error(lmnr: LmnrRun) -> None:
    # The app exported its spans and a log record (gRPC LogsService or /v1/logs)
    # and shut down: flush reported success and nothing failed on the way.
    assert lmnr.app.output["flushed"] == "True"
    assert_clean(lmnr.app.stderr)
