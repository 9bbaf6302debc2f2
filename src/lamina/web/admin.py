"""The local admin endpoint the CLI uses while the server holds the data dir.

``POST /api/admin/{operation}`` with a JSON object of keyword arguments, and
the data dir's admin token as the Bearer key. Only the operations listed in
:attr:`Operations.EXPOSED` can be called. A body is at most MAX_BODY bytes
(``lamina import`` sends chunks far below it) and counts against the server's
bound on request bytes held at once; each argument must have the type the
operation declares, or the answer is a 400 that says which.
"""

from __future__ import annotations

import hmac
import inspect
import types
import typing
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lamina.auth import bearer_token
from lamina.errors import BadRequest, NotFound, PayloadTooLarge, Unauthorized
from lamina.operations import Operations
from lamina.runtime import Runtime
from lamina.web.api import JSONResponse

MAX_BODY = 64 * 1024 * 1024


async def run_operation(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    token = bearer_token(request.headers.get("authorization")) or ""
    if not hmac.compare_digest(token.encode(), runtime.extras["admin_token"].encode()):
        raise Unauthorized("The admin endpoint needs the data directory's admin token.")
    name = request.path_params["operation"]
    if name not in Operations.EXPOSED:
        raise NotFound(f"No admin operation {name!r}.")
    taken = 0
    try:
        body, taken = await _read_body(request, runtime)
        try:
            kwargs = orjson.loads(body or b"{}")
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"The body must be a JSON object: {exc}") from exc
        del body
        if not isinstance(kwargs, dict):
            raise BadRequest("The body must be a JSON object of arguments.")
        operation = getattr(Operations(runtime.store, on_change=runtime.keys.forget), name)
        check_arguments(name, operation, kwargs)
        return JSONResponse(await run_in_threadpool(operation, **kwargs))
    finally:
        runtime.bodies.give_back(taken)


async def _read_body(request: Request, runtime: Runtime) -> tuple[bytes, int]:
    """The body, refused past MAX_BODY; the bytes taken from the server's budget."""
    too_large = PayloadTooLarge(
        f"An admin request body may hold at most {MAX_BODY // (1024 * 1024)} MiB. "
        "`lamina import` sends its spans in chunks well below that: a single span this "
        "large cannot be imported."
    )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise too_large
    chunks = []
    taken = 0
    try:
        async for chunk in request.stream():
            if taken + len(chunk) > MAX_BODY:
                raise too_large
            runtime.bodies.take(len(chunk))
            taken += len(chunk)
            chunks.append(chunk)
    except BaseException:
        runtime.bodies.give_back(taken)
        raise
    return b"".join(chunks), taken


def check_arguments(name: str, operation: Any, kwargs: dict[str, Any]) -> None:
    """BadRequest unless ``kwargs`` are the operation's arguments, each of its type."""
    try:
        inspect.signature(operation).bind(**kwargs)
    except TypeError as exc:
        raise BadRequest(f"Wrong arguments for {name}: {exc}") from exc
    hints = typing.get_type_hints(operation)
    for argument, value in kwargs.items():
        expected = hints.get(argument, Any)
        if not _is(value, expected):
            raise BadRequest(
                f"Wrong arguments for {name}: {argument} must be {_describe(expected)}; "
                f"got {orjson.dumps(value).decode()[:80]}."
            )


def _is(value: Any, expected: Any) -> bool:
    """Whether a JSON value has the type an operation declares (str, int, bool, None,
    unions of them, lists and dicts of them, Any)."""
    if expected is Any:
        return True
    origin = typing.get_origin(expected)
    if origin in (types.UnionType, typing.Union):
        return any(_is(value, option) for option in typing.get_args(expected))
    if expected is type(None):
        return value is None
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected in (str, bool, float):
        return isinstance(value, expected)
    parameters = typing.get_args(expected)
    if origin is list:
        return isinstance(value, list) and all(_is(item, parameters[0]) for item in value)
    if origin is dict:
        return isinstance(value, dict) and all(_is(item, parameters[1]) for item in value.values())
    return False


def _describe(expected: Any) -> str:
    if typing.get_origin(expected) in (types.UnionType, typing.Union):
        return " or ".join(_describe(option) for option in typing.get_args(expected))
    origin = typing.get_origin(expected)
    names = {str: "text", int: "a whole number", bool: "true or false", float: "a number"}
    if expected is Any:
        return "any JSON value"
    if expected is type(None):
        return "null"
    if origin is list:
        return f"a list, each item {_describe(typing.get_args(expected)[0])}"
    if origin is dict and typing.get_args(expected)[1] is not Any:
        return f"an object, each value {_describe(typing.get_args(expected)[1])}"
    if origin is dict or expected is dict:
        return "an object"
    return names.get(expected, "any JSON value")


routes = [Route("/api/admin/{operation}", run_operation, methods=["POST"])]
