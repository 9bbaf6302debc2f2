"""The real OpenTelemetry exporters send sessions of traces; the API shows exactly them,
as soon as the exporter's force_flush returns (a request is answered only once its spans
are committed)."""

from __future__ import annotations

import uuid

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from tests.conftest import LaminaServer
from tests.support import otlp

pytestmark = pytest.mark.both_stores  # tests/conftest.py


def _provider(exporter: object) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": "test-app"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))  # type: ignore[arg-type]
    return provider


def _send_conversation(
    provider: TracerProvider, session_id: str, turns: int, first_turn: int = 0
) -> list[str]:
    tracer = provider.get_tracer("test")
    trace_ids = []
    for turn in range(first_turn, first_turn + turns):
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
                llm.set_attribute(
                    "gen_ai.input.messages",
                    f'[{{"role": "user", "content": "question {turn}"}}]',
                )
                llm.set_attribute(
                    "gen_ai.output.messages",
                    f'[{{"role": "assistant", "content": "answer {turn}"}}]',
                )
            trace_ids.append(format(root.get_span_context().trace_id, "032x"))
    assert provider.force_flush(10_000)
    return trace_ids


def _check(server: LaminaServer, session_id: str, trace_ids: list[str]) -> None:
    turns = len(trace_ids)
    session = otlp.api(server, f"/api/v1/sessions/{session_id}")
    assert session["trace_count"] == turns
    assert session["span_count"] == 2 * turns
    assert session["input_tokens"] == 1000 * turns
    assert session["output_tokens"] == 200 * turns
    assert session["total_tokens"] == 1200 * turns
    # gpt-4o-mini costs $0.15 / $0.60 per million tokens
    assert session["cost"] == pytest.approx(turns * (1000 * 0.15 + 200 * 0.60) / 1e6, rel=1e-9)
    assert session["user_ids"] == ["u-1"]
    assert session["error_count"] == 0
    assert session["first_input"] == "question 0"  # the message, as the transcript shows
    assert session["last_output"] == f"answer {turns - 1}"  # a JSON string, unquoted
    assert [t["trace_id"] for t in session["traces"]] == trace_ids
    for turn, trace in enumerate(session["traces"]):
        assert trace["name"] == "handle_turn" and trace["span_count"] == 2
        assert trace["input_preview"] == f"question {turn}"
        assert trace["output_preview"] == f"answer {turn}"
        assert trace["status"] == "ok"
    detail = otlp.api(server, f"/api/v1/traces/{trace_ids[-1]}")
    root, llm = detail["spans"]
    last = turns - 1
    assert root["input"] == f'{{"message": "question {last}"}}'  # the full text, as sent
    assert root["output"] == f'"answer {last}"'
    assert llm["input"] == f'[{{"role": "user", "content": "question {last}"}}]'
    assert llm["output"] == f'[{{"role": "assistant", "content": "answer {last}"}}]'
    assert llm["parent_span_id"] == root["span_id"]
    assert llm["span_type"] == "LLM" and llm["model"] == "gpt-4o-mini"
    assert llm["provider"] == "openai"
    assert root["resource"]["service.name"] == "test-app"


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_http_exporter_sessions(server: LaminaServer, compression: Compression) -> None:
    exporter = HttpExporter(
        endpoint=f"{server.url}/v1/traces",
        headers={"Authorization": f"Bearer {server.api_key}"},
        compression=compression,
    )
    provider = _provider(exporter)
    session_id = f"http-{uuid.uuid4().hex[:8]}"
    trace_ids = _send_conversation(provider, session_id, 3)
    _check(server, session_id, trace_ids)  # right after force_flush, before shutdown
    provider.shutdown()


@pytest.mark.parametrize("compression", [None, grpc.Compression.Gzip], ids=["plain", "gzip"])
def test_grpc_exporter_sessions(server: LaminaServer, compression: grpc.Compression | None) -> None:
    exporter = GrpcExporter(
        endpoint=server.grpc_target,
        insecure=True,
        headers={"authorization": f"Bearer {server.api_key}"},
        compression=compression,
    )
    provider = _provider(exporter)
    session_id = f"grpc-{uuid.uuid4().hex[:8]}"
    trace_ids = _send_conversation(provider, session_id, 4)
    _check(server, session_id, trace_ids)
    provider.shutdown()


def test_one_session_from_two_clients_and_both_transports(server: LaminaServer) -> None:
    """A conversation handled by two processes, one on HTTP and one on gRPC."""
    session_id = f"mixed-{uuid.uuid4().hex[:8]}"
    http = _provider(
        HttpExporter(
            endpoint=f"{server.url}/v1/traces",
            headers={"Authorization": f"Bearer {server.api_key}"},
        )
    )
    grpc_provider = _provider(
        GrpcExporter(
            endpoint=server.grpc_target,
            insecure=True,
            headers={"authorization": f"Bearer {server.api_key}"},
        )
    )
    trace_ids = _send_conversation(http, session_id, 2)
    trace_ids += _send_conversation(grpc_provider, session_id, 2, first_turn=2)
    _check(server, session_id, trace_ids)
    http.shutdown()
    grpc_provider.shutdown()


def test_errors_and_exceptions_reach_the_api(server: LaminaServer) -> None:
    exporter = HttpExporter(
        endpoint=f"{server.url}/v1/traces",
        headers={"Authorization": f"Bearer {server.api_key}"},
    )
    provider = _provider(exporter)
    tracer = provider.get_tracer("test")
    session_id = f"errors-{uuid.uuid4().hex[:8]}"
    with tracer.start_as_current_span("checkout") as root:
        root.set_attribute("session.id", session_id)
        with pytest.raises(ValueError), tracer.start_as_current_span("charge"):
            raise ValueError("card declined")  # the SDK records it, with its traceback
        trace_id = format(root.get_span_context().trace_id, "032x")
    assert provider.force_flush(10_000)
    session = otlp.api(server, f"/api/v1/sessions/{session_id}")
    assert session["error_count"] == 1
    trace = otlp.api(server, f"/api/v1/traces/{trace_id}")
    assert trace["status"] == "error"
    charge_span = next(span for span in trace["spans"] if span["name"] == "charge")
    assert charge_span["status"] == "error"
    assert charge_span["status_message"] == "ValueError: card declined"
    (event,) = charge_span["events"]
    assert event["name"] == "exception"
    assert event["attributes"]["exception.type"] == "ValueError"
    assert event["attributes"]["exception.message"] == "card declined"
    assert "Traceback" in event["attributes"]["exception.stacktrace"]
    assert event["time"].endswith("Z")
    root_span = next(span for span in trace["spans"] if span["name"] == "checkout")
    assert root_span["status"] == "unset"
    provider.shutdown()
