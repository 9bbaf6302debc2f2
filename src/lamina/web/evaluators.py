"""The JSON API's evaluators (#20): define, list, change and delete a project's
evaluators, list their runs, try one on a session or trace, judge an output an
experiment gives (by the evaluator's id or name: ``lamina.judge``), and backfill.

The project is the caller's, as on every project route (:mod:`lamina.web.access`):
another project's evaluator is a 404. An evaluator's API key is write-only: no answer
carries it (``llm.api_key_set`` says whether one is kept), and it is kept encrypted
(lamina.evaluation.secrets). A GET answers its state too (lamina.evaluation.health):
``ok``, ``failing`` (with ``last_error``), ``idle`` or ``disabled``.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lamina.errors import BadRequest
from lamina.evaluation import definition, health, manage
from lamina.evaluation.llm import allowed_hosts
from lamina.evaluation.secrets import KeyBox
from lamina.query.params import _limit, _time
from lamina.server_runtime import ServerRuntime
from lamina.store.evaluators import Run, RunQuery, RunStatus
from lamina.web.access import project_of
from lamina.web.api import JSONResponse
from lamina.web.bodies import MAX_JSON_BODY, read_json


async def _body(request: Request, runtime: ServerRuntime, what: str) -> dict[str, Any]:
    return await read_json(request, runtime, MAX_JSON_BODY, what)


def _keys(runtime: ServerRuntime) -> KeyBox:
    return KeyBox(runtime.settings.data_dir)


async def _list(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)

    def read() -> list[dict[str, Any]]:
        found = runtime.store.list_evaluators(project_id)
        return [manage.shown(runtime.store, project_id, item) for item in found]

    return JSONResponse({"items": await run_in_threadpool(read)})


async def _create(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    given = await _body(
        request, runtime, "an evaluator's fields: name, kind, target, ...; see docs/api.md"
    )
    made = await run_in_threadpool(manage.save, runtime.store, _keys(runtime), project_id, given)
    return JSONResponse(definition.present(made), 201)


async def _get(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    evaluator_id = request.path_params["evaluator_id"]

    def read() -> dict[str, Any]:
        found = manage.find(runtime.store, project_id, evaluator_id)
        progress = runtime.store.run_progress(project_id, evaluator_id)
        return manage.shown(runtime.store, project_id, found) | {
            "progress": health.present_progress(progress)
        }

    return JSONResponse(await run_in_threadpool(read))


async def _change(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    given = await _body(request, runtime, "the evaluator's fields to change; see docs/api.md")
    evaluator_id = request.path_params["evaluator_id"]
    changed = await run_in_threadpool(
        manage.save, runtime.store, _keys(runtime), project_id, given, evaluator_id
    )
    return JSONResponse(definition.present(changed))


async def _delete(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    evaluator_id = request.path_params["evaluator_id"]
    await run_in_threadpool(manage.find, runtime.store, project_id, evaluator_id)
    deleted = await run_in_threadpool(runtime.store.delete_evaluator, project_id, evaluator_id)
    assert deleted is not None
    return JSONResponse({"deleted": definition.present(deleted)})


async def _runs(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    evaluator_id = request.path_params["evaluator_id"]
    params = request.query_params
    status = params.get("status")
    if status is not None and status not in RunStatus.__members__.values():
        raise BadRequest(f"status is one of {', '.join(RunStatus)}; got {status[:40]!r}.")
    query = RunQuery(
        limit=_limit(params),
        before_ns=_time(params, "before"),
        target_id=params.get("target_id") or None,
        status=RunStatus(status) if status else None,
    )

    def read() -> list[Run]:
        manage.find(runtime.store, project_id, evaluator_id)
        return runtime.store.list_runs(project_id, evaluator_id, query)

    runs = await run_in_threadpool(read)
    return JSONResponse({"items": [manage.present_run(run) for run in runs]})


async def _test(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    given = await _body(request, runtime, "with session_id or trace_id")
    evaluator_id = request.path_params["evaluator_id"]

    def try_it() -> object:
        found = manage.find(runtime.store, project_id, evaluator_id)
        allowed = allowed_hosts(runtime.settings.evaluator_allowed_hosts)
        return manage.dry_run(runtime.store, _keys(runtime), project_id, found, given, allowed)

    return JSONResponse(await run_in_threadpool(try_it))


async def _judge(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    given = await _body(request, runtime, "with output, and input, metadata or trace_id")
    wanted = request.path_params["evaluator"]

    def judge_it() -> object:
        found = manage.find_named(runtime.store, project_id, wanted)
        allowed = allowed_hosts(runtime.settings.evaluator_allowed_hosts)
        return manage.judge_given(runtime.store, _keys(runtime), project_id, found, given, allowed)

    return JSONResponse(await run_in_threadpool(judge_it))


async def _backfill(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    given = await _body(request, runtime, "with since and until")
    evaluator_id = request.path_params["evaluator_id"]

    def fill() -> int:
        found = manage.find(runtime.store, project_id, evaluator_id)  # a 404 before a 400
        if not isinstance(given, dict) or set(given) - {"since", "until"}:
            raise BadRequest("A backfill takes since and until: ISO-8601 times.")
        times = {name: str(value) for name, value in given.items() if value is not None}
        since = _time(times, "since")
        if since is None:
            raise BadRequest("A backfill needs since: the earliest end of a session or trace.")
        until = _time(times, "until") or time.time_ns()
        return manage.backfill(runtime.store, project_id, found, since, until)

    return JSONResponse({"queued": await run_in_threadpool(fill)}, 202)


routes = [
    Route("/api/v1/evaluators", _list),
    Route("/api/v1/evaluators", _create, methods=["POST"]),
    Route("/api/v1/evaluators/{evaluator_id}", _get),
    Route("/api/v1/evaluators/{evaluator_id}", _change, methods=["PUT"]),
    Route("/api/v1/evaluators/{evaluator_id}", _delete, methods=["DELETE"]),
    Route("/api/v1/evaluators/{evaluator_id}/runs", _runs),
    Route("/api/v1/evaluators/{evaluator_id}/test", _test, methods=["POST"]),
    Route("/api/v1/evaluators/{evaluator_id}/backfill", _backfill, methods=["POST"]),
    Route("/api/v1/evaluators/{evaluator}/judge", _judge, methods=["POST"]),
]
