"""The JSON API, v1: sessions and traces, authenticated by a project API key.

Every handler resolves the key to its project first, then asks the query
layer (the same functions the pages use). A session or trace of another
project is a 404, never a 403.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lamina.query import present
from lamina.runtime import Runtime


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=str)


Handler = Callable[[Runtime, str, Request], Any]


def _endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        runtime: Runtime = request.app.state.runtime
        project_id = await project_of(request)
        result = await run_in_threadpool(handler, runtime, project_id, request)
        return JSONResponse(result)

    return endpoint


async def project_of(request: Request) -> str:
    """The project a request may read: from its API key, or the signed-in browser."""
    runtime: Runtime = request.app.state.runtime
    browser = runtime.extras.get("browser_project")
    if browser is not None and request.headers.get("authorization") is None:
        project: str = await browser(request)
        return project
    return await run_in_threadpool(runtime.keys.project_for, request.headers.get("authorization"))


def _sessions(runtime: Runtime, project_id: str, request: Request) -> Any:
    return present.list_sessions(runtime.store, project_id, request.query_params)


def _session(runtime: Runtime, project_id: str, request: Request) -> Any:
    return present.get_session(runtime.store, project_id, request.path_params["session_id"])


def _traces(runtime: Runtime, project_id: str, request: Request) -> Any:
    metadata = request.query_params.getlist("metadata")
    return present.list_traces(runtime.store, project_id, request.query_params, metadata)


def _trace(runtime: Runtime, project_id: str, request: Request) -> Any:
    return present.get_trace(runtime.store, project_id, request.path_params["trace_id"])


routes = [
    Route("/api/v1/sessions", _endpoint(_sessions)),
    Route("/api/v1/sessions/{session_id:path}", _endpoint(_session)),
    Route("/api/v1/traces", _endpoint(_traces)),
    Route("/api/v1/traces/{trace_id}", _endpoint(_trace)),
]
