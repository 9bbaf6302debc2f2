"""OTLP/HTTP receiver: POST /v1/traces (protobuf or JSON, gzip or not); /v1/logs and
/v1/metrics accepted and discarded.

Answers as the OTLP specification says: 200 with an ExportTraceServiceResponse
in the request's encoding (``partial_success`` when spans were rejected),
400/401/413/415 for requests that can never succeed, 429/503 with
Retry-After when the server cannot take them now. Error bodies are a
``google.rpc.Status`` in the request's encoding.

An error found before the body is read (a wrong key, say) is answered only once
the rest of the body has been read and dropped, up to the body limit (see
:func:`drain`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from lamina.errors import (
    LaminaError,
    Overloaded,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from lamina.ingest.budget import ByteBudget
from lamina.otlp.body import ENCODINGS, JSON, PROTOBUF, body_too_large
from lamina.runtime import Runtime

_GRPC_STATUS = {400: 3, 401: 16, 413: 3, 415: 3, 429: 8, 503: 14}


def _content_type(request: Request) -> str:
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type in (PROTOBUF, "application/protobuf"):
        return PROTOBUF
    if content_type == JSON:
        return JSON
    raise UnsupportedMediaType(
        f"Content-Type {content_type or '(none)'} is not supported. OTLP/HTTP bodies are "
        f"{PROTOBUF} or {JSON}."
    )


async def read_body(request: Request, limit: int, budget: ByteBudget) -> tuple[bytes, int]:
    """The request body as it arrived (decompressing it is the decoder's work, off the
    event loop), refusing more than ``limit`` bytes.

    Returns the body and the bytes taken from ``budget``; the caller gives them
    back once the body is decoded.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(body_too_large(limit))
    chunks = []
    taken = 0
    try:
        async for chunk in request.stream():
            if taken + len(chunk) > limit:
                raise PayloadTooLarge(body_too_large(limit))
            budget.take(len(chunk))
            taken += len(chunk)
            chunks.append(chunk)
    except BaseException:
        budget.give_back(taken)
        raise
    return b"".join(chunks), taken


async def drain(request: Request, limit: int) -> None:
    """Read what is left of the body and drop it, up to ``limit`` bytes, before an
    error is answered.

    A server that closes a connection while bytes it has not read are still
    arriving resets it, and a client that writes its whole body before reading the
    answer (Python's http.client, Node with keep-alive off, both of which ask the
    server to close) then sees "broken pipe" instead of the 401 and its message,
    and retries for ever. Nothing read here is kept, so it costs no memory.
    """
    read = 0
    try:
        async for chunk in request.stream():
            read += len(chunk)
            if read > limit:
                return
    except ClientDisconnect:
        return
    except RuntimeError:  # Starlette's "Stream consumed": the body had been read whole
        return


def _encoding(request: Request) -> str:
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ENCODINGS:
        raise UnsupportedMediaType(
            f"Content-Encoding {encoding} is not supported; use gzip or no encoding."
        )
    return encoding


def error_response(error: LaminaError, content_type: str) -> Response:
    status = status_pb2.Status(code=_GRPC_STATUS.get(error.status, 13), message=error.message)
    headers = {}
    if isinstance(error, Overloaded):
        headers["Retry-After"] = str(error.retry_after)
    if content_type == PROTOBUF:
        return Response(status.SerializeToString(), error.status, headers, media_type=PROTOBUF)
    body = json_format.MessageToJson(status, indent=None)
    return Response(body, error.status, headers, media_type=JSON)


async def export_traces(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    content_type = PROTOBUF
    limit = runtime.settings.max_body_bytes
    body_read = False
    try:
        content_type = _content_type(request)
        encoding = _encoding(request)
        project_id = runtime.keys.project_for(request.headers.get("authorization"))
        body, taken = await read_body(request, limit, runtime.bodies)
        body_read = True
        try:
            batch = await runtime.ingest(project_id, body, content_type, encoding)
        finally:
            runtime.bodies.give_back(taken)
    except LaminaError as error:
        if not body_read and not isinstance(error, PayloadTooLarge):
            await drain(request, limit)
        return error_response(error, content_type)
    response = ExportTraceServiceResponse()
    if batch.rejected:
        response.partial_success.rejected_spans = batch.rejected
        response.partial_success.error_message = batch.rejection
    return _encode(response, content_type)


def _discarding(response: Message) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint that accepts a signal Lamina does not store (logs, metrics) and drops it.

    The Laminar SDK exports logs beside traces and OpenLLMetry exports metrics; an
    error would make them retry for ever, so after the key and size checks the
    answer is always 200.
    """

    async def endpoint(request: Request) -> Response:
        runtime: Runtime = request.app.state.runtime
        content_type = PROTOBUF
        limit = runtime.settings.max_body_bytes
        try:
            content_type = _content_type(request)
            _encoding(request)
            runtime.keys.project_for(request.headers.get("authorization"))
            _, taken = await read_body(request, limit, runtime.bodies)
            runtime.bodies.give_back(taken)
        except LaminaError as error:
            if not isinstance(error, PayloadTooLarge):
                await drain(request, limit)
            return error_response(error, content_type)
        return _encode(response, content_type)

    return endpoint


def _encode(message: Message, content_type: str) -> Response:
    if content_type == PROTOBUF:
        return Response(message.SerializeToString(), 200, media_type=PROTOBUF)
    return Response(json_format.MessageToJson(message, indent=None), 200, media_type=JSON)


routes = [
    Route("/v1/traces", export_traces, methods=["POST"]),
    Route("/v1/logs", _discarding(ExportLogsServiceResponse()), methods=["POST"]),
    Route("/v1/metrics", _discarding(ExportMetricsServiceResponse()), methods=["POST"]),
]
