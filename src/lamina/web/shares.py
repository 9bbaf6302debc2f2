"""The JSON API's share links: make one for a session or a trace, list a project's live
ones, revoke one (by its token or its id).

A link is ``<this server>/share/<token>``: a read-only page of that one session or
trace for whoever holds it (:mod:`lamina.web.pages.share`), until it expires or is
revoked. The project is the caller's, as on every project route
(:mod:`lamina.web.access`); the token is shown in this answer only.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lamina.errors import NotFound
from lamina.query import present
from lamina.query import shares as sharing
from lamina.server_runtime import ServerRuntime
from lamina.store.shares import ShareKind
from lamina.web.access import giver_of, project_of
from lamina.web.api import JSONResponse
from lamina.web.bodies import FLAG, WHOLE_OR_NULL, json_fields

_FIELDS = {"expires_in_days": WHOLE_OR_NULL, "redact_attributes": FLAG}


def share_url(request: Request, token: str) -> str:
    return f"{request.url.scheme}://{request.url.netloc}/share/{token}"


async def _create(request: Request, kind: ShareKind, object_id: str) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    giver = await giver_of(request, project_id)
    given = await json_fields(request, runtime, _FIELDS)
    made, token = await run_in_threadpool(
        sharing.create, runtime.store, project_id, kind, object_id, given, giver.author
    )
    body = {
        "url": share_url(request, token),
        "token": token,
        "expires_at": present.moment(made.expires_ns),
        "share": sharing.share(made),
    }
    return JSONResponse(body, 201)


async def _share_session(request: Request) -> Response:
    return await _create(request, ShareKind.SESSION, request.path_params["session_id"])


async def _share_trace(request: Request) -> Response:
    return await _create(request, ShareKind.TRACE, request.path_params["trace_id"])


async def _list(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    found = await run_in_threadpool(sharing.active, runtime.store, project_id)
    return JSONResponse({"items": [sharing.share(item) for item in found]})


async def _revoke(request: Request) -> Response:
    """By the share's id (``shr_…``, as lists show it) or by its token."""
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    key = request.path_params["key"]
    store = runtime.store
    deleted = None
    if key.startswith("shr_"):
        deleted = await run_in_threadpool(store.delete_share, project_id, key)
    if deleted is None:
        hashed = sharing.token_hash(key)
        deleted = await run_in_threadpool(store.delete_share, project_id, hashed)
    if deleted is None:
        raise NotFound("This project has no live share link with that token or id.")
    return JSONResponse({"deleted": sharing.share(deleted)})


routes = [
    Route("/api/v1/sessions/{session_id:path}/share", _share_session, methods=["POST"]),
    Route("/api/v1/traces/{trace_id}/share", _share_trace, methods=["POST"]),
    Route("/api/v1/shares", _list),
    Route("/api/v1/shares/{key}", _revoke, methods=["DELETE"]),
]
