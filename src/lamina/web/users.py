"""The JSON API's end users: ``GET /api/v1/users`` (a page of the user ids the project's
sessions carry, with their totals) and ``GET /api/v1/users/{user_id}`` (one), the JSON
twins of the Users page (both call :mod:`lamina.query.users`). The project is the
caller's, as on every project route (:mod:`lamina.web.access`). The accounts that sign
in are ``/api/v1/accounts`` (:mod:`lamina.web.admin`).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lamina.query import users
from lamina.server_runtime import ServerRuntime
from lamina.web.access import project_of
from lamina.web.api import JSONResponse


async def _list(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    found = await run_in_threadpool(
        users.list_users, runtime.store, project_id, request.query_params
    )
    return JSONResponse(found)


async def _one(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    user_id = request.path_params["user_id"]
    found = await run_in_threadpool(users.get_user, runtime.store, project_id, user_id)
    return JSONResponse(found)


routes = [
    Route("/api/v1/users", _list),
    Route("/api/v1/users/{user_id:path}", _one),
]
