"""OTLP/gRPC receiver: TraceService/Export (and accepting LogsService/MetricsService/Export).

Runs on the same asyncio loop as the HTTP server, and each call goes through the
same steps (:mod:`lamina.receivers.common`). The key comes in the ``authorization``
metadata.

Nothing is read before the key is checked. gRPC hands a unary method's handler
a message it has already received whole (up to twice the body limit, inflated
if the client compressed it), so each Export is served by a handler that takes
its request as a stream: once the key is checked, it takes ``max_body_bytes`` in
the in-flight byte budget the HTTP receiver uses, and only then asks for the
message, as raw bytes, keeping the message's size in the budget until it is
decoded. A call with a wrong key or arriving while the budget is spent costs the
server no more than its metadata. The number of calls served at once is bounded
too (:data:`MAX_CONCURRENT_RPCS`); gRPC answers RESOURCE_EXHAUSTED past it.
A body that is not a valid message gets INVALID_ARGUMENT with a reason, like a
400 over HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf.message import Message

from lamina.errors import BadRequest, LaminaError, PayloadTooLarge
from lamina.ingest.budget import Hold
from lamina.otlp.body import body_too_large
from lamina.receivers.common import SIGNALS, Signal, receive
from lamina.server_runtime import ServerRuntime

# Calls served at once, all services together; gRPC refuses more with
# RESOURCE_EXHAUSTED, which exporters retry. Each waiting call holds at most its
# HTTP/2 flow-control window, never its whole message (see the module docstring).
MAX_CONCURRENT_RPCS = 64


def _authorization(context: Any) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key.lower() == "authorization":
            return str(value)
    return None


def _serialize(message: Any) -> bytes:
    data: bytes = message.SerializeToString()
    return data


async def _first(requests: AsyncIterator[bytes]) -> bytes:
    async for message in requests:
        return message  # a unary call carries one message; nothing after it is read
    raise BadRequest("The call carried no request message.")


def export_handler(runtime: ServerRuntime, signal: Signal) -> grpc.RpcMethodHandler:
    """The handler of one signal's Export method: the key, then room in the byte budget,
    then the message, in that order (see the module docstring)."""
    limit = runtime.settings.max_body_bytes

    async def handle(requests: AsyncIterator[bytes], context: Any) -> Message:
        async def read(hold: Hold) -> bytes:
            hold.take(limit)
            body = await _first(requests)
            if len(body) > limit:
                raise PayloadTooLarge(body_too_large(limit))
            hold.keep(len(body))
            return body

        try:
            return await receive(runtime, signal, _authorization(context), read)
        except LaminaError as error:
            await context.abort(grpc.StatusCode[error.grpc_code], error.message)
            raise AssertionError("unreachable: abort raises") from None

    return grpc.stream_unary_rpc_method_handler(
        handle, request_deserializer=None, response_serializer=_serialize
    )


def handlers(runtime: ServerRuntime) -> list[grpc.GenericRpcHandler]:
    return [
        grpc.method_handlers_generic_handler(
            signal.service, {"Export": export_handler(runtime, signal)}
        )
        for signal in SIGNALS
    ]


async def start_grpc(
    runtime: ServerRuntime, host: str, port: int, share_port: bool = True
) -> tuple[Any, int]:
    """Start the gRPC server; returns it and the port it listens on. ``share_port``:
    bind with SO_REUSEPORT (grpcio's default), so the workers of one server can share
    the port."""
    server = grpc.aio.server(
        options=[
            ("grpc.so_reuseport", 1 if share_port else 0),
            # Twice the limit, so a request over it reaches the handler and gets a
            # clear INVALID_ARGUMENT (which clients do not retry) rather than gRPC's
            # own RESOURCE_EXHAUSTED (which they retry until they time out).
            ("grpc.max_receive_message_length", 2 * runtime.settings.max_body_bytes),
            ("grpc.max_send_message_length", 4 * 1024 * 1024),
        ],
        maximum_concurrent_rpcs=MAX_CONCURRENT_RPCS,
    )
    server.add_generic_rpc_handlers(handlers(runtime))
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot listen for gRPC on {host}:{port} (is the port in use?)")
    await server.start()
    return server, bound
