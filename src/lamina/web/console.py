"""The JSON API's SQL console: ``POST /api/v1/sql`` ``{"query": "..."}`` runs one
read-only query over the caller's project's views (sessions, traces, spans, scores)
and answers ``{"columns", "rows", "row_count", "truncated", "elapsed_ms"}``
(:mod:`lamina.query.console`); ``/api/v1/sql/queries`` lists, saves (PUT by name) and
deletes the project's saved queries (:mod:`lamina.query.saved_queries`). The project is
the caller's, as on every project route (:mod:`lamina.web.access`); the store's guard
(lamina.store.console_guard) keeps a query to it.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lamina.query import console, saved_queries
from lamina.server_runtime import ServerRuntime
from lamina.web.access import giver_of, project_of
from lamina.web.api import JSONResponse
from lamina.web.bodies import TEXT, json_fields


async def _run_sql(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    fields = await json_fields(request, runtime, {"query": TEXT}, required=("query",))
    query = console.parse(fields["query"], runtime.settings)
    result = await run_in_threadpool(console.run, runtime.store, project_id, query)
    return JSONResponse(result)


async def _list_saved(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    found = await run_in_threadpool(saved_queries.list_saved, runtime.store, project_id)
    return JSONResponse({"items": [saved_queries.present(q) for q in found]})


async def _save(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    author = (await giver_of(request, project_id)).author
    fields = await json_fields(
        request, runtime, {"query": TEXT, "pinned": (bool,)}, required=("query",)
    )
    name = request.path_params["name"]
    saved = await run_in_threadpool(
        saved_queries.save,
        runtime.store,
        project_id,
        name,
        fields["query"],
        author,
        fields.get("pinned", False),
    )
    return JSONResponse(saved_queries.present(saved))


async def _delete_saved(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    name = request.path_params["name"]
    deleted = await run_in_threadpool(saved_queries.delete, runtime.store, project_id, name)
    return JSONResponse({"deleted": saved_queries.present(deleted)})


routes = [
    Route("/api/v1/sql", _run_sql, methods=["POST"]),
    Route("/api/v1/sql/queries", _list_saved),
    Route("/api/v1/sql/queries/{name}", _save, methods=["PUT"]),
    Route("/api/v1/sql/queries/{name}", _delete_saved, methods=["DELETE"]),
]
