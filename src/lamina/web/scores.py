"""The JSON API's scores: give, list and delete a project's scores, manage its score
configs, and end a session (with its outcome).

A score is checked against the project's config of its name
(:mod:`lamina.query.scores`) and stored at once (by the scores' thread,
:mod:`lamina.ingest.score_queue`); a score on a session or trace not
seen yet is kept and shows when its spans arrive. A client may make the score's id
(``score_id``): sending the same score again (a retry) does not add a second one.
The project is the caller's, as on every project route (:mod:`lamina.web.access`).
"""

from __future__ import annotations

import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lamina.errors import BadRequest, NotFound
from lamina.query import present
from lamina.query import scores as judged
from lamina.query.params import parse_score_query
from lamina.server_runtime import ServerRuntime
from lamina.store.scores import BUILT_IN_CONFIGS
from lamina.web.access import caller_of, project_of
from lamina.web.api import JSONResponse
from lamina.web.bodies import TEXT, json_fields, read_json
from lamina.web.direct import Endpoint, routed

MiB = 1024 * 1024
# A batch of MAX_BATCH scores with long comments.
MAX_SCORES_BODY = 16 * MiB


async def _add_scores(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id, giver = await caller_of(request)
    given = await read_json(
        request,
        runtime,
        MAX_SCORES_BODY,
        'one score, or {"scores": [...]}',
        f"A scores request may hold at most {MAX_SCORES_BODY // MiB} MiB: send "
        f"batches of at most {judged.MAX_BATCH} scores.",
    )

    # Checked on the event loop, the configs read only when the store does not hold
    # them in memory; stored by the scores' thread (lamina.ingest.score_queue).
    known = judged.cached_configs(runtime.store, project_id)
    if known is None:
        known = await run_in_threadpool(judged.configs, runtime.store, project_id)
    made, batch = judged.to_scores(given, known, giver, time.time_ns(), judged.new_score_id)
    await runtime.scores.add(project_id, made)
    if batch:
        return JSONResponse({"scores": [present.score(item) for item in made]}, 201)
    return JSONResponse({"score": present.score(made[0])}, 201)


async def _list_scores(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    query = parse_score_query(request.query_params)
    page = await run_in_threadpool(runtime.store.list_scores, project_id, query)
    items = [present.score(item) for item in page.items]
    return JSONResponse({"items": items, "next_cursor": page.next_cursor})


async def _delete_score(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    score_id = request.path_params["score_id"]
    deleted = await run_in_threadpool(runtime.store.delete_score, project_id, score_id)
    if deleted is None:
        raise NotFound(f'No score "{score_id[:100]}" in this project.')
    return JSONResponse({"deleted": present.score(deleted)})


async def _list_configs(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    found = await run_in_threadpool(judged.configs, runtime.store, project_id)
    items = [judged.config(found[name]) for name in sorted(found)]
    return JSONResponse({"items": items})


async def _put_config(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    fields = dict.fromkeys(judged.CONFIG_FIELDS, (object,))
    config = judged.to_config(await json_fields(request, runtime, fields))
    stored = await run_in_threadpool(runtime.store.put_score_config, project_id, config)
    return JSONResponse(judged.config(stored), 201)


async def _delete_config(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    name = request.path_params["name"]
    if name in BUILT_IN_CONFIGS:
        raise BadRequest(f"{name} is built in: it cannot be deleted.")
    deleted = await run_in_threadpool(runtime.store.delete_score_config, project_id, name)
    if deleted is None:
        raise NotFound(f'No score config "{name[:100]}" in this project.')
    return JSONResponse({"deleted": judged.config(deleted)})


async def _end_session(request: Request) -> Response:
    """End the session now and, with an ``outcome``, give it an outcome score."""
    runtime: ServerRuntime = request.app.state.runtime
    project_id, giver = await caller_of(request)
    given = await json_fields(request, runtime, {"outcome": TEXT})
    session_id = request.path_params["session_id"]
    answer = await run_in_threadpool(
        judged.end_session, runtime.store, project_id, session_id, given.get("outcome"), giver
    )
    return JSONResponse(answer)


routes = [  # the one a client calls many times a second first (lamina.web.app)
    Route("/api/v1/scores", routed(_add_scores), methods=["POST"]),
    Route("/api/v1/scores", _list_scores),
    Route("/api/v1/scores/{score_id}", _delete_score, methods=["DELETE"]),
    Route("/api/v1/score-configs", _list_configs),
    Route("/api/v1/score-configs", _put_config, methods=["POST"]),
    Route("/api/v1/score-configs/{name}", _delete_config, methods=["DELETE"]),
    Route("/api/v1/sessions/{session_id:path}/end", _end_session, methods=["POST"]),
]

# One score a request (a thumbs-up handler): past the router (lamina.web.direct).
direct: dict[tuple[str, str], Endpoint] = {("POST", "/api/v1/scores"): _add_scores}
