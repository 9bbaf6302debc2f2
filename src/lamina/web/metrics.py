"""The JSON API's metrics: ``GET /api/v1/metrics`` (a metric over time) and
``GET /api/v1/metrics/distribution`` (a histogram of sessions), the JSON twins of the
dashboard's charts (both call :mod:`lamina.query.metrics`). The project is the
caller's, as on every project route (:mod:`lamina.web.access`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lamina.query import metrics
from lamina.server_runtime import ServerRuntime
from lamina.web.access import project_of
from lamina.web.api import JSONResponse


def _reading(read: Callable[..., Any]) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        runtime: ServerRuntime = request.app.state.runtime
        project_id = await project_of(request)
        metadata = request.query_params.getlist("metadata")
        result = await run_in_threadpool(
            read, runtime.store, project_id, request.query_params, metadata
        )
        return JSONResponse(result)

    return endpoint


routes = [
    Route("/api/v1/metrics", _reading(metrics.read_series)),
    Route("/api/v1/metrics/distribution", _reading(metrics.read_distribution)),
]
