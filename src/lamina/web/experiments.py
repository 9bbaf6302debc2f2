"""The JSON API's experiments (#22): the runs ``lamina.evaluate`` makes, their items
and results, two runs compared, and a run deleted (lamina.evaluation.experiments checks and reads
them). The project is the caller's, as on every project route (lamina.web.access).
"""

from __future__ import annotations

import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lamina.errors import BadRequest, NotFound
from lamina.evaluation import experiments
from lamina.evaluation.datasets import check_name
from lamina.server_runtime import ServerRuntime
from lamina.store.base import Row, Store
from lamina.web.access import project_of
from lamina.web.api import JSONResponse
from lamina.web.bodies import json_fields, read_json

MiB = 1024 * 1024
MAX_ITEMS_BODY = 32 * MiB
_TEXT_OR_NULL = (str, type(None))


def _project_name(store: Store, project_id: str) -> str:
    project = store.find_project(project_id)
    return project.name if project is not None else project_id


def no_experiment(experiment_id: str) -> str:
    return f'No experiment "{experiment_id[:100]}" in this project.'


def _id(request: Request, name: str = "experiment_id") -> str:
    return check_name(request.path_params[name], "The experiment's id")


async def _list(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    group = request.query_params.get("group") or None
    try:
        limit = int(request.query_params.get("limit", experiments.MAX_RUNS))
    except ValueError:
        raise BadRequest(
            f"limit must be a whole number from 1 to {experiments.MAX_RUNS}."
        ) from None
    if not 1 <= limit <= experiments.MAX_RUNS:
        raise BadRequest(f"limit must be a whole number from 1 to {experiments.MAX_RUNS}.")
    store = runtime.store

    def read() -> list[Row]:
        name = _project_name(store, project_id)
        runs = store.list_experiments(project_id, group, limit)
        return [
            {
                **experiments.present_experiment(run, name),
                "averages": experiments.averages(
                    store.list_experiment_items(project_id, run.experiment_id)
                ),
            }
            for run in runs
        ]

    return JSONResponse({"items": await run_in_threadpool(read)})


async def _create(request: Request) -> Response:
    """Make a run (201), or answer the one of that id (200: a retried request)."""
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    given = await json_fields(
        request,
        runtime,
        {
            "experiment_id": (str,),
            "name": _TEXT_OR_NULL,
            "group": _TEXT_OR_NULL,
            "dataset": _TEXT_OR_NULL,
        },
        ("experiment_id",),
    )
    made = experiments.new_experiment(given, time.time_ns())
    store = runtime.store

    def create() -> tuple[Row, bool]:
        found = store.get_experiment(project_id, made.experiment_id)
        stored = store.put_experiment(project_id, made)
        return experiments.present_experiment(stored, _project_name(store, project_id)), (
            found is None
        )

    shown, new = await run_in_threadpool(create)
    return JSONResponse({"experiment": shown}, 201 if new else 200)


async def _get(request: Request) -> Response:
    """A run whole; with ``compare=<id>``, beside it that run's items matched to its
    own, the items whose scores fell most first."""
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    experiment_id = _id(request)
    other = request.query_params.get("compare")
    if other is not None:
        check_name(other, "compare")
    store = runtime.store

    def read() -> Row:
        run = experiments.read(store, project_id, experiment_id)
        if run is None:
            raise NotFound(no_experiment(experiment_id))
        name = _project_name(store, project_id)
        shown = {"experiment": run.present(name)}
        if other is not None:
            before = store.list_experiment_items(project_id, other)
            if store.get_experiment(project_id, other) is None:
                raise NotFound(no_experiment(other))
            pairs = experiments.compare(before, run.items)
            shown["comparison"] = {
                "compared_to": other,
                "items": experiments.present_comparison(pairs, name),
            }
        return shown

    return JSONResponse(await run_in_threadpool(read))


async def _delete(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    experiment_id = _id(request)
    gone = await run_in_threadpool(experiments.delete, runtime.store, project_id, experiment_id)
    if gone is None:
        raise NotFound(no_experiment(experiment_id))
    return JSONResponse(gone)


async def _add_items(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    experiment_id = _id(request)
    given = await read_json(
        request,
        runtime,
        MAX_ITEMS_BODY,
        '{"items": [...]}, the run\'s items',
        f"One request adds at most {MAX_ITEMS_BODY // MiB} MiB of items: send them in several.",
    )
    items = experiments.parse_items(given)
    stored = await run_in_threadpool(
        experiments.record, runtime.store, project_id, experiment_id, items
    )
    if not stored:
        raise NotFound(no_experiment(experiment_id))
    return JSONResponse({"added": len(items)}, 201)


routes = [
    Route("/api/v1/experiments", _list),
    Route("/api/v1/experiments", _create, methods=["POST"]),
    Route("/api/v1/experiments/{experiment_id}", _get),
    Route("/api/v1/experiments/{experiment_id}", _delete, methods=["DELETE"]),
    Route("/api/v1/experiments/{experiment_id}/items", _add_items, methods=["POST"]),
]
