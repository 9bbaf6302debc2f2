"""The JSON API's SQL console: ``POST /api/v1/sql`` ``{"query": "..."}`` runs one
read-only query over the caller's project's views (sessions, traces, spans, scores)
and answers ``{"columns", "rows", "row_count", "truncated", "elapsed_ms"}``
(:mod:`lamina.query.console`). The project is the caller's, as on every project route
(:mod:`lamina.web.access`); the store's guard (lamina.store.console_guard) keeps the
query to it.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lamina.query import console
from lamina.server_runtime import ServerRuntime
from lamina.web.access import project_of
from lamina.web.api import JSONResponse
from lamina.web.bodies import TEXT, json_fields


async def _run_sql(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    fields = await json_fields(request, runtime, {"query": TEXT}, required=("query",))
    query = console.parse(fields["query"], runtime.settings)
    result = await run_in_threadpool(console.run, runtime.store, project_id, query)
    return JSONResponse(result)


routes = [Route("/api/v1/sql", _run_sql, methods=["POST"])]
