"""OTLP/gRPC TraceService/Export and LogsService/Export answer with the matching status codes.

Real clients: the OpenTelemetry gRPC span exporter, and the generated OTLP stubs over a
real channel (for the cases an exporter hides, such as partial success).
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.conftest import LaminaServer
from tests.support import otlp

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


@pytest.fixture
def channel(server: LaminaServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.grpc_target) as opened:
        yield opened


def _auth(key: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {key}")]


def _absent(server: LaminaServer, *trace_ids: bytes) -> None:
    for trace_id in trace_ids:
        assert otlp.get(server, f"/api/v1/traces/{trace_id.hex()}").status_code == 404


def _finished_spans(session_id: str) -> list[object]:
    """Real SDK spans (ReadableSpan) for the exporter to send."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "grpc-test"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("t").start_as_current_span("root") as root:
        root.set_attribute("session.id", session_id)
    provider.shutdown()
    return list(memory.get_finished_spans())


@pytest.mark.parametrize("compression", [None, grpc.Compression.Gzip], ids=["plain", "gzip"])
def test_stub_export_is_stored(
    server: LaminaServer, channel: grpc.Channel, compression: grpc.Compression | None
) -> None:
    session_id = otlp.uid("grpc-stub")
    spans = otlp.conversation_turn(session_id, 0, start_ns=time.time_ns())
    stub = trace_service_pb2_grpc.TraceServiceStub(channel)
    answer = stub.Export(
        otlp.export(spans), metadata=_auth(server.api_key), compression=compression, timeout=10
    )
    assert not answer.HasField("partial_success")
    session = otlp.api(server, f"/api/v1/sessions/{session_id}")
    assert session["trace_count"] == 1 and session["span_count"] == 2
    assert session["input_tokens"] == 1000 and session["output_tokens"] == 200


@pytest.mark.parametrize(
    "metadata",
    [[], _auth("lmn_notarealkey0000000000000000000000000000000"), [("authorization", "xyz")]],
    ids=["missing", "unknown", "not-bearer"],
)
def test_bad_key_is_unauthenticated(
    server: LaminaServer, channel: grpc.Channel, metadata: list[tuple[str, str]]
) -> None:
    spans = otlp.conversation_turn(otlp.uid("grpc-auth"), 0, start_ns=time.time_ns())
    stub = trace_service_pb2_grpc.TraceServiceStub(channel)
    with pytest.raises(grpc.RpcError) as raised:
        stub.Export(otlp.export(spans), metadata=metadata, timeout=10)
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "API key" in (raised.value.details() or "")
    _absent(server, spans[0].trace_id)


def test_real_exporter_with_a_bad_key_fails_at_once_and_stores_nothing(
    server: LaminaServer,
) -> None:
    """UNAUTHENTICATED is not retryable: the exporter gives up at once instead of looping."""
    session_id = otlp.uid("grpc-badkey")
    exporter = OTLPSpanExporter(
        endpoint=server.grpc_target, insecure=True, headers={"authorization": "Bearer lmn_nope"}
    )
    started = time.monotonic()
    result = exporter.export(_finished_spans(session_id))  # type: ignore[arg-type]
    exporter.shutdown()
    assert result == SpanExportResult.FAILURE
    assert time.monotonic() - started < 5
    assert otlp.get(server, f"/api/v1/sessions/{session_id}").status_code == 404


def test_garbage_body_is_invalid_argument(server: LaminaServer, channel: grpc.Channel) -> None:
    raw = channel.unary_unary(EXPORT)
    spans = otlp.conversation_turn(otlp.uid("grpc-garbage"), 0, start_ns=time.time_ns())
    data = otlp.export(spans).SerializeToString()
    with pytest.raises(grpc.RpcError) as raised:
        raw(data[: len(data) // 2], metadata=_auth(server.api_key), timeout=10)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "protobuf" in (raised.value.details() or "")
    _absent(server, spans[0].trace_id)


def test_garbage_body_with_a_bad_key_is_unauthenticated(
    server: LaminaServer, channel: grpc.Channel
) -> None:
    raw = channel.unary_unary(EXPORT)
    with pytest.raises(grpc.RpcError) as raised:
        raw(b"\xff\xff\xff", metadata=_auth("lmn_nope"), timeout=10)
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_mixed_batch_reports_partial_success(server: LaminaServer, channel: grpc.Channel) -> None:
    session_id = otlp.uid("grpc-mixed")
    good = otlp.conversation_turn(session_id, 0, start_ns=time.time_ns())
    bad = [otlp.span(b"", "no trace id"), otlp.span(otlp.new_trace_id()[:8], "short")]
    stub = trace_service_pb2_grpc.TraceServiceStub(channel)
    answer = stub.Export(
        otlp.export([bad[0], *good, bad[1]]), metadata=_auth(server.api_key), timeout=10
    )
    assert answer.partial_success.rejected_spans == 2
    assert "trace_id" in answer.partial_success.error_message
    assert otlp.api(server, f"/api/v1/sessions/{session_id}")["span_count"] == 2


def test_logs_export_is_accepted(server: LaminaServer, channel: grpc.Channel) -> None:
    stub = logs_service_pb2_grpc.LogsServiceStub(channel)
    request = logs_service_pb2.ExportLogsServiceRequest()
    record = request.resource_logs.add().scope_logs.add().log_records.add()
    record.body.string_value = "a log line"
    answer = stub.Export(request, metadata=_auth(server.api_key), timeout=10)
    assert isinstance(answer, logs_service_pb2.ExportLogsServiceResponse)
    with pytest.raises(grpc.RpcError) as raised:
        stub.Export(request, metadata=[], timeout=10)
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_message_over_the_size_limit_is_refused(small_body_server: LaminaServer) -> None:
    server = small_body_server  # --max-body-bytes 4096
    trace_id = otlp.new_trace_id()
    over = otlp.export([otlp.span(trace_id, "over", attributes={"input.value": "x" * 5_000})])
    huge = otlp.export([otlp.span(trace_id, "huge", attributes={"input.value": "x" * 20_000})])
    with grpc.insecure_channel(server.grpc_target) as opened:
        stub = trace_service_pb2_grpc.TraceServiceStub(opened)
        # Over the limit: a clear answer that clients do not retry.
        with pytest.raises(grpc.RpcError) as raised:
            stub.Export(over, metadata=_auth(server.api_key), timeout=10)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "4096 bytes" in (raised.value.details() or "")
        # Far over it (twice the limit): gRPC itself refuses to read the message.
        with pytest.raises(grpc.RpcError) as raised:
            stub.Export(huge, metadata=_auth(server.api_key), timeout=10)
        assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        small = otlp.export([otlp.span(trace_id, "small")])
        stub.Export(small, metadata=_auth(server.api_key), timeout=10)
    assert otlp.api(server, f"/api/v1/traces/{trace_id.hex()}")["span_count"] == 1


def test_full_queue_is_resource_exhausted(small_queue_server: LaminaServer) -> None:
    server = small_queue_server
    with grpc.insecure_channel(server.grpc_target) as opened:
        stub = trace_service_pb2_grpc.TraceServiceStub(opened)
        trace_id = otlp.new_trace_id()
        with pytest.raises(grpc.RpcError) as raised:  # can never fit
            stub.Export(
                otlp.export([otlp.span(trace_id, f"s{i}") for i in range(11)]),
                metadata=_auth(server.api_key),
                timeout=10,
            )
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        _absent(server, trace_id)

        def send(_: int) -> tuple[bytes, grpc.StatusCode]:
            trace = otlp.new_trace_id()
            spans = [
                otlp.span(trace, f"s{i}", attributes={"input.value": "x" * 100_000})
                for i in range(5)
            ]
            try:
                stub.Export(otlp.export(spans), metadata=_auth(server.api_key), timeout=30)
            except grpc.RpcError as error:
                return trace, error.code()
            return trace, grpc.StatusCode.OK

        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            results = list(pool.map(send, range(16)))
    codes = [code for _, code in results]
    assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}, codes
    assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes and grpc.StatusCode.OK in codes
    for trace, code in results:
        if code == grpc.StatusCode.OK:
            assert otlp.api(server, f"/api/v1/traces/{trace.hex()}")["span_count"] == 5
        else:
            _absent(server, trace)


def test_messages_larger_than_grpcs_default_limit_are_taken(
    server: LaminaServer, channel: grpc.Channel
) -> None:
    """gRPC refuses messages over 4 MiB unless told otherwise; Lamina's limit is 16 MiB, on
    both transports (large prompts make large batches)."""
    trace_id = otlp.new_trace_id()
    payload = "x" * 1_000_000
    spans = [otlp.span(trace_id, f"s{n}", attributes={"input.value": payload}) for n in range(6)]
    stub = trace_service_pb2_grpc.TraceServiceStub(channel)
    stub.Export(otlp.export(spans), metadata=_auth(server.api_key), timeout=30)
    trace = otlp.api(server, f"/api/v1/traces/{trace_id.hex()}")
    assert trace["span_count"] == 6
    for span in trace["spans"]:  # the trace shows each cut; the value route reads it whole
        assert span["truncated"] == {"input": len(payload)}
        path = f"/api/v1/traces/{trace_id.hex()}/spans/{span['span_id']}/input"
        assert otlp.api(server, path)["value"] == payload
