"""A plain OpenTelemetry application using the GenAI semantic conventions, no
LLM SDK of any vendor: ``gen_ai.conversation.id`` makes the session,
``gen_ai.usage.*`` the tokens (and, through the price table, the cost),
``gen_ai.input.messages``/``gen_ai.output.messages`` the input and output; the
older indexed ``gen_ai.prompt.N.*``/``gen_ai.completion.N.*`` convention too.
Sent with OpenTelemetry's own OTLP exporters, gRPC and HTTP, from a tracer
provider of the test's own (never the global one)."""

from __future__ import annotations

import json
import uuid

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind

from tests.compat.conftest import expected_cost, spans_by_name
from tests.conftest import LaminaServer


def _exporter(server: LaminaServer, transport: str) -> SpanExporter:
    if transport == "grpc":
        return GrpcExporter(
            endpoint=server.grpc_target,
            insecure=True,
            headers=(("authorization", f"Bearer {server.api_key}"),),
        )
    return HttpExporter(
        endpoint=f"{server.url}/v1/traces",
        headers={"Authorization": f"Bearer {server.api_key}"},
    )


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_current_genai_conventions(server: LaminaServer, transport: str) -> None:
    conversation = f"genai-{uuid.uuid4().hex[:10]}"
    provider = TracerProvider(resource=Resource.create({"service.name": "genai-app"}))
    provider.add_span_processor(SimpleSpanProcessor(_exporter(server, transport)))
    tracer = provider.get_tracer("genai-app")
    trace_ids = []
    for turn, question in enumerate(["What is Lamina?", "Does it keep sessions?"]):
        answer = f"Answer {turn}: yes it does"
        with tracer.start_as_current_span(
            "invoke_agent support",
            attributes={
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": "support",
                "gen_ai.conversation.id": conversation,
                "enduser.id": "genai-user",
            },
        ) as agent:
            trace_ids.append(format(agent.get_span_context().trace_id, "032x"))
            with tracer.start_as_current_span(
                "chat gpt-4o-mini",
                kind=SpanKind.CLIENT,
                attributes={
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.conversation.id": conversation,
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                    "gen_ai.usage.input_tokens": 120,
                    "gen_ai.usage.output_tokens": 30,
                    "gen_ai.input.messages": json.dumps(
                        [{"role": "user", "parts": [{"type": "text", "content": question}]}]
                    ),
                    "gen_ai.output.messages": json.dumps(
                        [{"role": "assistant", "parts": [{"type": "text", "content": answer}]}]
                    ),
                },
            ):
                pass
    provider.shutdown()

    session = server.api(f"/api/v1/sessions/{conversation}")
    assert [t["trace_id"] for t in session["traces"]] == trace_ids
    assert (session["trace_count"], session["span_count"]) == (2, 4)
    assert session["user_ids"] == ["genai-user"]
    assert (session["input_tokens"], session["output_tokens"]) == (240, 60)
    cost = expected_cost("gpt-4o-mini-2024-07-18", 120, 30)
    assert session["cost"] == pytest.approx(2 * cost)
    detail = server.api(f"/api/v1/traces/{trace_ids[1]}")
    spans = spans_by_name(detail)
    chat, agent = spans["chat gpt-4o-mini"], spans["invoke_agent support"]
    assert chat["parent_span_id"] == agent["span_id"]
    assert (chat["span_type"], agent["span_type"]) == ("LLM", "DEFAULT")
    assert (chat["model"], chat["provider"]) == ("gpt-4o-mini-2024-07-18", "openai")
    assert (chat["input_tokens"], chat["output_tokens"]) == (120, 30)
    assert chat["cost"] == pytest.approx(cost)
    assert "Does it keep sessions?" in chat["input"]
    assert "Answer 1: yes it does" in chat["output"]


def test_indexed_prompt_and_completion_conventions(server: LaminaServer) -> None:
    conversation = f"genai-old-{uuid.uuid4().hex[:10]}"
    provider = TracerProvider(resource=Resource.create({"service.name": "genai-app"}))
    provider.add_span_processor(SimpleSpanProcessor(_exporter(server, "http")))
    with provider.get_tracer("genai-app").start_as_current_span(
        "anthropic.chat",
        attributes={
            "gen_ai.system": "anthropic",
            "gen_ai.conversation.id": conversation,
            "gen_ai.request.model": "claude-3-5-haiku-20241022",
            "gen_ai.prompt.0.role": "system",
            "gen_ai.prompt.0.content": "Be brief.",
            "gen_ai.prompt.1.role": "user",
            "gen_ai.prompt.1.content": "Hello",
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.content": "Hi!",
            "gen_ai.usage.prompt_tokens": 12,
            "gen_ai.usage.completion_tokens": 3,
        },
    ) as span:
        trace_id = format(span.get_span_context().trace_id, "032x")
    provider.shutdown()

    (llm,) = server.api(f"/api/v1/traces/{trace_id}")["spans"]
    assert llm["session_id"] == conversation
    assert (llm["span_type"], llm["model"], llm["provider"]) == (
        "LLM",
        "claude-3-5-haiku-20241022",
        "anthropic",
    )
    assert json.loads(llm["input"]) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello"},
    ]
    assert json.loads(llm["output"]) == [{"role": "assistant", "content": "Hi!"}]
    assert (llm["input_tokens"], llm["output_tokens"]) == (12, 3)
    assert llm["cost"] == pytest.approx(expected_cost("claude-3-5-haiku-20241022", 12, 3))
