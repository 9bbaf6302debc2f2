"""OTLP/HTTP receiver: POST /v1/traces (protobuf or JSON, gzip or not); /v1/logs and
/v1/metrics accepted and discarded (:mod:`lamina.receivers.common` does the rest).

Answers as the OTLP specification says: 200 with the Export response in the
request's encoding (``partial_success`` when spans were rejected), 400/401/413/415
for requests that can never succeed, 429/503 with Retry-After when the server
cannot take them now. Error bodies are a ``google.rpc.Status`` in the request's
encoding, its code the gRPC code of the error tree (:mod:`lamina.errors`).

An error found before the body is read (a wrong key, say) is answered only once
the rest of the body has been read and dropped, up to the body limit (see
:func:`drain`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import code_pb2, status_pb2
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from lamina.errors import LaminaError, Overloaded, PayloadTooLarge
from lamina.ingest.budget import Hold
from lamina.otlp import body as otlp_body
from lamina.otlp.body import JSON, PROTOBUF, body_too_large
from lamina.receivers.common import SIGNALS, Signal, receive
from lamina.server_runtime import ServerRuntime


async def read_body(request: Request, limit: int, hold: Hold) -> bytes:
    """The request body as it arrived (decompressing it is the decoder's work, off the
    event loop), each chunk held in the byte budget, refusing more than ``limit`` bytes.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(body_too_large(limit))
    chunks = []
    async for chunk in request.stream():
        if hold.size + len(chunk) > limit:
            raise PayloadTooLarge(body_too_large(limit))
        hold.take(len(chunk))
        chunks.append(chunk)
    return b"".join(chunks)


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


def error_response(error: LaminaError, content_type: str) -> Response:
    status = status_pb2.Status(code=code_pb2.Code.Value(error.grpc_code), message=error.message)
    headers = {}
    if isinstance(error, Overloaded):
        headers["Retry-After"] = str(error.retry_after)
    if content_type == PROTOBUF:
        return Response(status.SerializeToString(), error.status, headers, media_type=PROTOBUF)
    body = json_format.MessageToJson(status, indent=None)
    return Response(body, error.status, headers, media_type=JSON)


def endpoint(signal: Signal) -> Callable[[Request], Awaitable[Response]]:
    """The POST endpoint of one signal."""

    async def export(request: Request) -> Response:
        runtime: ServerRuntime = request.app.state.runtime
        limit = runtime.settings.max_body_bytes
        content_type = PROTOBUF  # the encoding of an error answered before it is known
        body_read = False

        async def read(hold: Hold) -> bytes:
            nonlocal body_read
            body = await read_body(request, limit, hold)
            body_read = True
            return body

        try:
            content_type = otlp_body.content_type(request.headers.get("content-type"))
            encoding = otlp_body.encoding(request.headers.get("content-encoding"))
            authorization = request.headers.get("authorization")
            answer = await receive(runtime, signal, authorization, read, content_type, encoding)
        except LaminaError as error:
            if not body_read and not isinstance(error, PayloadTooLarge):
                await drain(request, limit)
            return error_response(error, content_type)
        return _encode(answer, content_type)

    return export


def _encode(message: Message, content_type: str) -> Response:
    if content_type == PROTOBUF:
        return Response(message.SerializeToString(), 200, media_type=PROTOBUF)
    return Response(json_format.MessageToJson(message, indent=None), 200, media_type=JSON)


routes = [Route(signal.path, endpoint(signal), methods=["POST"]) for signal in SIGNALS]
