"""The JSON API's managing routes: projects, API keys, accounts (who signs in), and the
writes the store set aside. Only the data directory's admin token (what the ``lamina``
command sends while a server holds the data dir) or a signed-in administrator may call
them (see :mod:`lamina.web.access`); each runs an :class:`~lamina.operations.Operations` method,
the very one the command runs on a data dir no server holds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lamina.errors import BadRequest
from lamina.operations import Operations
from lamina.server_runtime import ServerRuntime
from lamina.web.access import require_admin
from lamina.web.api import JSONResponse
from lamina.web.bodies import FLAG, TEXT, WHOLE, WHOLE_OR_NULL, json_fields

# An operation and its arguments: the JSON body's fields and the path's parameters.
Handler = Callable[[Operations, dict[str, Any]], Any]


def _route(
    path: str,
    method: str,
    handler: Handler,
    fields: dict[str, tuple[type, ...]] | None = None,
    required: tuple[str, ...] = (),
    query: tuple[str, ...] = (),
    status: int = 200,
) -> Route:
    async def endpoint(request: Request) -> Response:
        await require_admin(request)
        runtime: ServerRuntime = request.app.state.runtime
        arguments: dict[str, Any] = {
            name: request.query_params[name] for name in query if name in request.query_params
        }
        if fields is not None:
            arguments.update(await json_fields(request, runtime, fields, required))
        arguments.update(request.path_params)
        operations = Operations(runtime.store, on_change=runtime.keys.forget)
        result = await run_in_threadpool(handler, operations, arguments)
        return JSONResponse(result, status)

    return Route(path, endpoint, methods=[method])


def _change_project(ops: Operations, arguments: dict[str, Any]) -> Any:
    """Set the project's retention, its sessions' idle timeout, or both."""
    if "retention_days" not in arguments and "session_idle_minutes" not in arguments:
        raise BadRequest("Give retention_days, session_idle_minutes or both.")
    project = arguments["project"]
    answer = None
    if "session_idle_minutes" in arguments:
        answer = ops.set_session_idle_minutes(project, arguments["session_idle_minutes"])
    if "retention_days" in arguments:
        answer = ops.set_retention(project, arguments["retention_days"])
    return answer


def _items(found: list[dict[str, Any]]) -> dict[str, Any]:
    return {"items": found}


routes = [
    _route("/api/v1/projects", "GET", lambda ops, _: _items(ops.list_projects())),
    _route(
        "/api/v1/projects",
        "POST",
        lambda ops, a: ops.create_project(a["name"]),
        fields={"name": TEXT},
        required=("name",),
        status=201,
    ),
    _route("/api/v1/projects/{project:path}", "GET", lambda ops, a: ops.get_project(a["project"])),
    _route(
        "/api/v1/projects/{project:path}",
        "PATCH",
        _change_project,
        fields={"retention_days": WHOLE_OR_NULL, "session_idle_minutes": WHOLE},
    ),
    _route(
        "/api/v1/projects/{project:path}",
        "DELETE",
        lambda ops, a: ops.delete_project(a["project"]),
    ),
    _route(
        "/api/v1/keys",
        "GET",
        lambda ops, a: _items(ops.list_keys(a.get("project"))),
        query=("project",),
    ),
    _route(
        "/api/v1/keys",
        "POST",
        lambda ops, a: ops.create_key(a["project"], a.get("name", "default")),
        fields={"project": TEXT, "name": TEXT},
        required=("project",),
        status=201,
    ),
    _route(
        "/api/v1/keys/{key_id}/revoke",
        "POST",
        lambda ops, a: ops.revoke_key(a["key_id"]),
        fields={},
    ),
    # The accounts that sign in; /api/v1/users is a project's end users (lamina.web.users).
    _route("/api/v1/accounts", "GET", lambda ops, _: _items(ops.list_users())),
    _route(
        "/api/v1/accounts",
        "POST",
        lambda ops, a: ops.create_user(a["email"], a["password"], a.get("is_admin", False)),
        fields={"email": TEXT, "password": TEXT, "is_admin": FLAG},
        required=("email", "password"),
        status=201,
    ),
    _route("/api/v1/quarantine", "GET", lambda ops, _: _items(ops.list_quarantined())),
    _route(
        "/api/v1/quarantine/{entry_id}/retry",
        "POST",
        lambda ops, a: ops.retry_quarantined(a["entry_id"]),
        fields={},
    ),
    _route(
        "/api/v1/quarantine/{entry_id}",
        "DELETE",
        lambda ops, a: ops.drop_quarantined(a["entry_id"]),
    ),
]
