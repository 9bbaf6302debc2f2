"""The real OpenTelemetry exporters send sessions of traces; the API shows exactly them."""

from __future__ import annotations

import uuid

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from tests.conftest import LaminaServer


def _provider(exporter: object) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": "test-app"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))  # type: ignore[arg-type]
    return provider


def _send_conversation(provider: TracerProvider, session_id: str, turns: int) -> list[str]:
    tracer = provider.get_tracer("test")
    trace_ids = []
    for turn in range(turns):
        with tracer.start_as_current_span("handle_turn") as root:
            root.set_attribute("session.id", session_id)
            root.set_attribute("user.id", "u-1")
            root.set_attribute("input.value", f'{{"message": "question {turn}"}}')
            root.set_attribute("output.value", f'"answer {turn}"')
            with tracer.start_as_current_span("openai.chat") as llm:
                llm.set_attribute("gen_ai.system", "openai")
                llm.set_attribute("gen_ai.request.model", "gpt-4o-mini")
                llm.set_attribute("gen_ai.usage.input_tokens", 1000)
                llm.set_attribute("gen_ai.usage.output_tokens", 200)
            trace_ids.append(format(root.get_span_context().trace_id, "032x"))
    assert provider.force_flush(10_000)
    return trace_ids


def _check(server: LaminaServer, session_id: str, trace_ids: list[str]) -> None:
    session = server.api(f"/api/v1/sessions/{session_id}")
    assert session["trace_count"] == len(trace_ids)
    assert session["span_count"] == 2 * len(trace_ids)
    assert session["input_tokens"] == 1000 * len(trace_ids)
    assert session["output_tokens"] == 200 * len(trace_ids)
    assert session["total_tokens"] == 1200 * len(trace_ids)
    # gpt-4o-mini costs $0.15 / $0.60 per million tokens
    assert abs(session["cost"] - len(trace_ids) * (1000 * 0.15 + 200 * 0.60) / 1e6) < 1e-9
    assert session["user_ids"] == ["u-1"]
    assert session["first_input"] == "question 0" or "question 0" in session["first_input"]
    assert session["last_output"] == f"answer {len(trace_ids) - 1}"
    assert [t["trace_id"] for t in session["traces"]] == trace_ids
    assert all(t["name"] == "handle_turn" and t["span_count"] == 2 for t in session["traces"])


def test_http_exporter_sessions(server: LaminaServer) -> None:
    exporter = HttpExporter(
        endpoint=f"{server.url}/v1/traces",
        headers={"Authorization": f"Bearer {server.api_key}"},
        compression=Compression.Gzip,
    )
    provider = _provider(exporter)
    session_id = f"http-{uuid.uuid4().hex[:8]}"
    trace_ids = _send_conversation(provider, session_id, 3)
    provider.shutdown()
    _check(server, session_id, trace_ids)


def test_grpc_exporter_sessions(server: LaminaServer) -> None:
    exporter = GrpcExporter(
        endpoint=server.grpc_target,
        insecure=True,
        headers={"authorization": f"Bearer {server.api_key}"},
    )
    provider = _provider(exporter)
    session_id = f"grpc-{uuid.uuid4().hex[:8]}"
    trace_ids = _send_conversation(provider, session_id, 4)
    provider.shutdown()
    _check(server, session_id, trace_ids)
