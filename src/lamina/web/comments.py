"""The JSON API's comments and stars: write, read and delete the comments on a
project's sessions, traces and spans, and star or unstar a session or trace.

A comment is written by whoever sends it (a signed-in user, an API key, the admin
token) and deleted only by its author (:mod:`lamina.query.comments`). Stars belong
to a signed-in user; a request with an API key may not star. The project is the
caller's, as on every project route (:mod:`lamina.web.access`): another project's
comments and its sessions and traces are a 404 here.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lamina.query import comments
from lamina.query.params import parse_comment_query
from lamina.server_runtime import ServerRuntime
from lamina.web.access import commenter_of, project_of
from lamina.web.api import JSONResponse
from lamina.web.bodies import TEXT, json_fields

_TARGET = {"session_id": TEXT, "trace_id": TEXT, "span_id": TEXT}


async def _add_comment(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    commenter = await commenter_of(request, project_id)
    given = await json_fields(request, runtime, {**_TARGET, "body": TEXT}, ("body",))
    made = comments.new_comment(given, commenter)
    stored = await run_in_threadpool(comments.add, runtime.store, project_id, made)
    return JSONResponse({"comment": comments.present(stored)}, 201)


async def _list_comments(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    query = parse_comment_query(request.query_params)
    page = await run_in_threadpool(runtime.store.list_comments, project_id, query)
    items = [comments.present(item) for item in page.items]
    return JSONResponse({"items": items, "next_cursor": page.next_cursor})


async def _delete_comment(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    commenter = await commenter_of(request, project_id)
    comment_id = request.path_params["comment_id"]
    deleted = await run_in_threadpool(
        comments.delete, runtime.store, project_id, comment_id, commenter
    )
    return JSONResponse({"deleted": comments.present(deleted)})


async def _star(request: Request) -> Response:
    """PUT stars, DELETE unstars the session or trace the body names."""
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    commenter = await commenter_of(request, project_id)
    given = await json_fields(request, runtime, _TARGET)
    starred = request.method == "PUT"
    answer = await run_in_threadpool(
        comments.star, runtime.store, project_id, commenter, given, starred
    )
    return JSONResponse(answer)


routes = [
    Route("/api/v1/comments", _list_comments),
    Route("/api/v1/comments", _add_comment, methods=["POST"]),
    Route("/api/v1/comments/{comment_id}", _delete_comment, methods=["DELETE"]),
    Route("/api/v1/bookmarks", _star, methods=["PUT", "DELETE"]),
]
