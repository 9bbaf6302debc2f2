"""An OpenInference-instrumented application (``openinference-instrumentation-openai``
with ``using_session``/``using_user``/``using_metadata``/``using_tags``), exporting
through OpenTelemetry's OTLP/HTTP exporter: its sessions, users, metadata, tags,
span kinds, inputs, outputs, models, tokens and costs land right
(apps/openinference_app.py is the application)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.compat.conftest import AppRun, Launched, assert_clean, expected_cost, spans_by_name
from tests.conftest import LaminaServer
from tests.fakes.llm import count_tokens


@pytest.fixture
def app(apps: dict[str, Launched]) -> tuple[str, AppRun]:
    launched = apps["openinference"]
    return launched.run, launched.result()


def _session(server: LaminaServer, run: str) -> dict[str, Any]:
    result: dict[str, Any] = server.api(f"/api/v1/sessions/oi-session-{run}")
    return result


def test_using_session_and_user_group_both_traces_in_one_session(
    server: LaminaServer, app: tuple[str, AppRun]
) -> None:
    run, result = app
    assert result.output["flushed"] == "True"
    assert_clean(result.stderr)
    session = _session(server, run)
    assert [t["name"] for t in session["traces"]] == ["answer", "ChatCompletion"]
    assert session["user_ids"] == [f"oi-user-{run}"]
    assert (session["trace_count"], session["span_count"]) == (2, 3)
    for trace in session["traces"]:
        assert trace["user_id"] == f"oi-user-{run}"
        assert trace["metadata"] == {"plan": "pro", "turn": "1"}
        assert sorted(trace["tags"]) == ["openinference", "support"]


def test_span_kinds_inputs_and_outputs(server: LaminaServer, app: tuple[str, AppRun]) -> None:
    run, result = app
    detail = server.api(f"/api/v1/traces/{result.output['chain']}")
    assert detail["session_id"] == f"oi-session-{run}"
    spans = spans_by_name(detail)
    chain, llm = spans["answer"], spans["ChatCompletion"]
    assert (chain["span_type"], llm["span_type"]) == ("CHAIN", "LLM")
    assert llm["parent_span_id"] == chain["span_id"]
    assert (chain["input"], chain["output"]) == (
        "Where is my order?",
        "You said: Where is my order?",
    )
    assert '"content": "Where is my order?"' in llm["input"]
    assert '"content":"You said: Where is my order?"' in llm["output"]
    assert detail["input_preview"] == "Where is my order?"
    assert detail["output_preview"] == "You said: Where is my order?"


def test_models_tokens_and_costs_of_plain_and_streamed_calls(
    server: LaminaServer, app: tuple[str, AppRun]
) -> None:
    run, result = app
    assert result.output["stream_text"] == "You said: Stream it please"
    session = _session(server, run)
    expected = {
        "answer": ("Where is my order?", "You said: Where is my order?"),
        "ChatCompletion": ("Stream it please", "You said: Stream it please"),
    }
    for trace in session["traces"]:
        prompt, reply = expected[trace["name"]]
        tokens = (count_tokens(prompt), count_tokens(reply))
        assert (trace["input_tokens"], trace["output_tokens"]) == tokens
        assert trace["cost"] == pytest.approx(expected_cost("gpt-4o-mini", *tokens))
        llm = next(
            s
            for s in server.api(f"/api/v1/traces/{trace['trace_id']}")["spans"]
            if s["span_type"] == "LLM"
        )
        assert (llm["model"], llm["provider"]) == ("gpt-4o-mini", "openai")
