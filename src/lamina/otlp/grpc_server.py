"""OTLP/gRPC receiver: TraceService/Export (and an accepting LogsService/Export).

Runs on the same asyncio loop as the HTTP server and ingests through the same
decode step and batcher. The key comes in the ``authorization`` metadata.
Requests arrive as raw bytes and are parsed here, so a body that is not a
valid message gets INVALID_ARGUMENT with a reason, like a 400 over HTTP.
"""

from __future__ import annotations

from typing import Any

import grpc
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from lamina.errors import LaminaError, PayloadTooLarge
from lamina.ingest.decoder import PROTOBUF
from lamina.runtime import Runtime

TRACE_SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
LOGS_SERVICE = "opentelemetry.proto.collector.logs.v1.LogsService"
METRICS_SERVICE = "opentelemetry.proto.collector.metrics.v1.MetricsService"


def _authorization(context: Any) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key.lower() == "authorization":
            return str(value)
    return None


async def _abort(context: Any, error: LaminaError) -> None:
    await context.abort(getattr(grpc.StatusCode, error.grpc_code), error.message)


def _serialize(message: Any) -> bytes:
    data: bytes = message.SerializeToString()
    return data


def handlers(runtime: Runtime) -> list[Any]:
    async def export_traces(body: bytes, context: Any) -> ExportTraceServiceResponse:
        response = ExportTraceServiceResponse()
        try:
            project_id = runtime.keys.project_for(_authorization(context))
            if len(body) > runtime.settings.max_body_bytes:
                raise PayloadTooLarge(
                    f"The request is larger than {runtime.settings.max_body_bytes} bytes "
                    "(LAMINA_MAX_BODY_BYTES). Send smaller batches."
                )
            batch = await runtime.ingest(project_id, body, PROTOBUF)
        except LaminaError as error:
            await _abort(context, error)
            return response
        if batch.rejected:
            response.partial_success.rejected_spans = batch.rejected
            response.partial_success.error_message = batch.error_message
        return response

    def discarding(response: Any) -> Any:
        """Logs and metrics are accepted and dropped, so their exporters never retry."""

        async def export(body: bytes, context: Any) -> Any:
            try:
                runtime.keys.project_for(_authorization(context))
            except LaminaError as error:
                await _abort(context, error)
            return response

        return export

    def unary(method: Any) -> Any:
        return grpc.unary_unary_rpc_method_handler(
            method, request_deserializer=None, response_serializer=_serialize
        )

    return [
        grpc.method_handlers_generic_handler(TRACE_SERVICE, {"Export": unary(export_traces)}),
        grpc.method_handlers_generic_handler(
            LOGS_SERVICE, {"Export": unary(discarding(ExportLogsServiceResponse()))}
        ),
        grpc.method_handlers_generic_handler(
            METRICS_SERVICE, {"Export": unary(discarding(ExportMetricsServiceResponse()))}
        ),
    ]


async def start_grpc(runtime: Runtime, host: str, port: int) -> tuple[Any, int]:
    """Start the gRPC server; returns it and the port it listens on."""
    server = grpc.aio.server(
        options=[
            # Twice the limit, so a request over it reaches the handler and gets a
            # clear INVALID_ARGUMENT (which clients do not retry) rather than gRPC's
            # own RESOURCE_EXHAUSTED (which they retry until they time out).
            ("grpc.max_receive_message_length", 2 * runtime.settings.max_body_bytes),
            ("grpc.max_send_message_length", 4 * 1024 * 1024),
        ]
    )
    server.add_generic_rpc_handlers(handlers(runtime))
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot listen for gRPC on {host}:{port} (is the port in use?)")
    await server.start()
    return server, bound
