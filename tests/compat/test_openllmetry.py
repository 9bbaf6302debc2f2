"""An OpenLLMetry-instrumented application: the Traceloop SDK, whose
``opentelemetry-instrumentation-openai`` traces the real ``openai`` client, with
Traceloop association properties and ``@workflow``/``@task`` spans, exporting to
Lamina with ``Traceloop.init(api_endpoint=..., headers=...)``: its session, user,
metadata, inputs, outputs, model, tokens and cost land right
(apps/openllmetry_app.py is the application)."""

from __future__ import annotations

import pytest

from tests.compat.conftest import AppRun, Launched, assert_clean, expected_cost, spans_by_name
from tests.conftest import LaminaServer
from tests.fakes.llm import count_tokens


@pytest.fixture
def app(apps: dict[str, Launched]) -> tuple[str, AppRun]:
    launched = apps["openllmetry"]
    return launched.run, launched.result()


def test_association_properties_give_session_user_and_metadata(
    server: LaminaServer, app: tuple[str, AppRun]
) -> None:
    run, result = app
    assert result.output["reply"] == "You said: Where is my order? (shipped)"
    assert_clean(result.stderr)
    session = server.api(f"/api/v1/sessions/ollm-session-{run}")
    assert (session["trace_count"], session["span_count"]) == (1, 3)
    assert session["user_ids"] == [f"ollm-user-{run}"]
    (trace,) = session["traces"]
    assert trace["trace_id"] == result.output["workflow"]
    assert trace["name"] == "support_turn.workflow"
    # The association properties other than session_id and user_id are metadata.
    assert trace["metadata"] == {"plan": "pro"}


def test_workflow_and_task_inputs_and_outputs(
    server: LaminaServer, app: tuple[str, AppRun]
) -> None:
    _, result = app
    spans = spans_by_name(server.api(f"/api/v1/traces/{result.output['workflow']}"))
    workflow, task = spans["support_turn.workflow"], spans["lookup_order.task"]
    assert task["parent_span_id"] == workflow["span_id"]
    assert workflow["input"] == '{"args": ["Where is my order?"], "kwargs": {}}'
    assert workflow["output"] == '"You said: Where is my order? (shipped)"'
    assert task["output"] == '{"order_id": "o-42", "status": "shipped"}'


def test_llm_span_model_tokens_cost_and_messages(
    server: LaminaServer, app: tuple[str, AppRun]
) -> None:
    run, result = app
    detail = server.api(f"/api/v1/traces/{result.output['workflow']}")
    llm = spans_by_name(detail)["openai.chat"]
    tokens = (count_tokens("Where is my order?"), count_tokens("You said: Where is my order?"))
    assert llm["span_type"] == "LLM"
    assert (llm["model"], llm["provider"]) == ("gpt-4o-mini", "openai")
    assert (llm["input_tokens"], llm["output_tokens"]) == tokens
    assert llm["cost"] == pytest.approx(expected_cost("gpt-4o-mini", *tokens))
    assert detail["cost"] == pytest.approx(llm["cost"])
    assert "Where is my order?" in llm["input"]
    assert "You said: Where is my order?" in llm["output"]
    assert llm["session_id"] == f"ollm-session-{run}"
