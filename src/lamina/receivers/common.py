"""What both OTLP receivers do with one export call, in this order:

1. authorise: the project of the key, before any of the body is read;
2. hold the body's bytes in the in-flight byte budget (``ServerRuntime.bodies``) as the
   receiver reads it (a :class:`~lamina.ingest.budget.Hold`: given back once the
   call is answered);
3. decode and ingest: traces go to the decoder and the batcher, and the call waits
   for their commit; logs and metrics are accepted and dropped;
4. answer: the signal's Export response, with OTLP's ``partial_success`` when spans
   were rejected.

Any step may raise a :class:`~lamina.errors.LaminaError`; each receiver answers it
in its protocol (an HTTP status and a ``google.rpc.Status`` body, or a gRPC status),
both from the error tree's codes. How a body is read (and checked against the body
limit) is the receiver's: HTTP takes each chunk as it arrives, gRPC takes the
limit before it asks for the message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from lamina.ingest.budget import Hold
from lamina.otlp.body import PROTOBUF
from lamina.server_runtime import ServerRuntime
from lamina.spans.batch import ColumnBatch

# How a receiver reads a call's body, holding its bytes in the budget as it goes.
ReadBody = Callable[[Hold], Awaitable[bytes]]


@dataclass(frozen=True, slots=True)
class Signal:
    """One OTLP signal: where each receiver takes it, and what its answer is."""

    path: str  # OTLP/HTTP
    service: str  # OTLP/gRPC; the method is Export
    response: Callable[[], Message]  # the Export response
    # Only traces are stored. The Laminar SDK exports logs beside its traces and
    # OpenLLMetry exports metrics; an error would make them retry for ever, so once the
    # key and the body's size are checked they are answered as accepted, and dropped.
    stored: bool


TRACES = Signal(
    "/v1/traces",
    "opentelemetry.proto.collector.trace.v1.TraceService",
    ExportTraceServiceResponse,
    stored=True,
)
LOGS = Signal(
    "/v1/logs",
    "opentelemetry.proto.collector.logs.v1.LogsService",
    ExportLogsServiceResponse,
    stored=False,
)
METRICS = Signal(
    "/v1/metrics",
    "opentelemetry.proto.collector.metrics.v1.MetricsService",
    ExportMetricsServiceResponse,
    stored=False,
)
SIGNALS = (TRACES, LOGS, METRICS)


async def receive(
    runtime: ServerRuntime,
    signal: Signal,
    authorization: str | None,
    read: ReadBody,
    content_type: str = PROTOBUF,
    encoding: str = "identity",
) -> Message:
    """One export call, authorised, read, ingested and answered (see the module
    docstring); returns the Export response once its spans are committed."""
    project_id = runtime.keys.project_for(authorization)
    with runtime.bodies.hold() as hold:
        body = await read(hold)
        response = signal.response()
        if not signal.stored:
            return response
        batch = await runtime.ingest(project_id, body, content_type, encoding)
    if batch.rejected:
        _partial_success(response, batch)
    return response


def _partial_success(response: Any, batch: ColumnBatch) -> None:
    """Say in a trace export's answer how many of its spans were rejected, and why."""
    response.partial_success.rejected_spans = batch.rejected
    response.partial_success.error_message = batch.rejection
