"""The local admin endpoint the CLI uses while the server holds the data dir.

``POST /api/admin/{operation}`` with a JSON object of keyword arguments, and
the data dir's admin token as the Bearer key. Only the operations listed in
:attr:`Operations.EXPOSED` can be called.
"""

from __future__ import annotations

import hmac
import inspect

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lamina.auth import bearer_token
from lamina.errors import BadRequest, NotFound, Unauthorized
from lamina.operations import Operations
from lamina.runtime import Runtime
from lamina.web.api import JSONResponse


async def run_operation(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    token = bearer_token(request.headers.get("authorization")) or ""
    if not hmac.compare_digest(token.encode(), runtime.extras["admin_token"].encode()):
        raise Unauthorized("The admin endpoint needs the data directory's admin token.")
    name = request.path_params["operation"]
    if name not in Operations.EXPOSED:
        raise NotFound(f"No admin operation {name!r}.")
    try:
        kwargs = orjson.loads(await request.body() or b"{}")
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The body must be a JSON object: {exc}") from exc
    if not isinstance(kwargs, dict):
        raise BadRequest("The body must be a JSON object of arguments.")
    operation = getattr(Operations(runtime.store, on_change=runtime.keys.forget), name)
    try:
        inspect.signature(operation).bind(**kwargs)
    except TypeError as exc:
        raise BadRequest(f"Wrong arguments for {name}: {exc}") from exc
    return JSONResponse(await run_in_threadpool(operation, **kwargs))


routes = [Route("/api/admin/{operation}", run_operation, methods=["POST"])]
