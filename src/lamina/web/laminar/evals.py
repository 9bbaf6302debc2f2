"""Laminar's evaluations API (#24), landing in Lamina's experiments
(lamina.evaluation.experiments): what ``evaluate(...)`` and ``lmnr eval`` of Laminar's
Python SDK call.

- ``POST /v1/evals`` ``{name, groupName, metadata}`` makes an experiment (its id a UUID,
  its group ``groupName``) and answers ``{id, createdAt, groupId, name, projectId}``;
- ``POST /v1/evals/{id}`` answers it again (``update_evaluation``: a new name is a 501,
  Lamina's runs keep theirs);
- ``POST /v1/evals/{id}/datapoints`` ``{points: [...]}`` puts its items: each
  datapoint's ``index``, ``data`` (the input), ``target`` (the expected output),
  ``executorOutput``, ``scores`` (given to ``traceId``'s trace too) and, from a
  dataset, ``datasetLink.datapointId`` as the item's id; the datapoint's own ``id`` is
  kept beside it. The SDK sends each datapoint twice, before the executor runs and with
  its results: the second replaces the first (same index);
- ``POST /v1/evals/{id}/datapoints/{datapoint_id}`` ``{executorOutput, scores,
  traceId}`` (``update_datapoint``, after ``create_datapoint``) gives the item of that
  datapoint id its output and scores;
- ``GET /project/{projectId}/evaluations/{id}``, the link ``evaluate`` prints (the SDK
  makes it from ``base_url`` and ``frontend_port``, 5667 unless told, Lamina's own
  port), leads to the experiment's page.

Laminar's evaluation metadata is not kept (Lamina's runs have none).
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from lamina.errors import BadRequest, NotFound
from lamina.evaluation import experiments
from lamina.query.present import moment
from lamina.server_runtime import ServerRuntime
from lamina.store.base import Row, Store
from lamina.store.experiments import Experiment, ExperimentItem
from lamina.web.access import project_of
from lamina.web.api import JSONResponse
from lamina.web.laminar import ids
from lamina.web.laminar.wire import json_object, not_supported, object_or_null, text_or_null

MiB = 1024 * 1024
MAX_POINTS_BODY = 32 * MiB  # the SDK cuts a datapoint's values at 16 MB


def _present(experiment: Experiment, project_id: str) -> Row:
    return {
        "id": experiment.experiment_id,
        "createdAt": moment(experiment.created_ns),
        "groupId": experiment.group_name,
        "name": experiment.name,
        "projectId": ids.project_uuid(project_id),
    }


def _eval_id(request: Request) -> str:
    return str(ids.as_uuid(request.path_params["eval_id"], "The evaluation's id"))


async def _create(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    given = await json_object(request, runtime)
    name = text_or_null(given, "name")
    group = text_or_null(given, "groupName")
    object_or_null(given, "metadata")
    made = experiments.new_experiment(
        {
            "experiment_id": str(uuid.uuid4()),
            "name": name or f"evaluation {time.strftime('%Y-%m-%d %H:%M:%S')}",
            "group": group,
        },
        time.time_ns(),
    )
    stored = await run_in_threadpool(runtime.store.put_experiment, project_id, made)
    return JSONResponse(_present(stored, project_id))


async def _update(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    eval_id = _eval_id(request)
    given = await json_object(request, runtime)
    name = text_or_null(given, "name")
    object_or_null(given, "metadata")
    found = await run_in_threadpool(runtime.store.get_experiment, project_id, eval_id)
    if found is None:
        raise NotFound(_no_evaluation(eval_id))
    if name is not None and name != found.name:
        raise not_supported(
            "renaming of an evaluation",
            f'The experiment keeps its name "{found.name}"; run it again under the new name.',
        )
    return JSONResponse(_present(found, project_id))


async def _save_points(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    eval_id = _eval_id(request)
    given = await json_object(request, runtime, MAX_POINTS_BODY)
    points = given.get("points")
    if not isinstance(points, list):
        raise BadRequest('The body must be {"points": [...]}, the evaluation\'s datapoints.')
    if len(points) > experiments.MAX_BATCH:
        raise BadRequest(
            f"One request saves at most {experiments.MAX_BATCH:,} datapoints; send them in several."
        )
    items = [_item(point, f"Datapoint {n + 1}: ") for n, point in enumerate(points)]
    stored = await run_in_threadpool(_record, runtime.store, project_id, eval_id, items)
    if not stored:
        raise NotFound(_no_evaluation(eval_id))
    return JSONResponse({"saved": len(items)})


def _record(store: Store, project_id: str, eval_id: str, items: list[ExperimentItem]) -> bool:
    return experiments.record(store, project_id, eval_id, items)


def _item(point: Any, at: str) -> ExperimentItem:
    """A Laminar datapoint as an experiment's item (checked by the experiments' rules),
    keeping the id the SDK gave it."""
    if not isinstance(point, dict):
        raise BadRequest(f"{at}a datapoint must be a JSON object.")
    datapoint_id = point.get("id")
    if datapoint_id is not None:
        datapoint_id = str(ids.as_uuid(datapoint_id, f"{at}id"))
    trace_id = point.get("traceId")
    link = point.get("datasetLink")
    item_id = None
    if isinstance(link, dict) and link.get("datapointId") is not None:
        item_id = ids.as_uuid(link["datapointId"], f"{at}datasetLink.datapointId").hex
    elif link is not None and not isinstance(link, dict):
        raise BadRequest(f"{at}datasetLink must be an object or null.")
    made = experiments.parse_item(
        {
            "index": point.get("index"),
            "item_id": item_id,
            "input": point.get("data"),
            "expected_output": point.get("target"),
            "output": point.get("executorOutput"),
            "trace_id": ids.trace_hex(trace_id, f"{at}traceId") if trace_id is not None else None,
            "scores": point.get("scores"),
        },
        at,
    )
    return dataclasses.replace(made, datapoint_id=datapoint_id)


async def _update_point(request: Request) -> Response:
    """``update_datapoint``: the item the SDK gave this datapoint id (when it saved it)
    gets the executor's output and the scores (replacing its own; given to its trace
    too) and, when given, another trace."""
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    eval_id = _eval_id(request)
    datapoint_id = str(ids.as_uuid(request.path_params["datapoint_id"], "The datapoint's id"))
    given = await json_object(request, runtime, MAX_POINTS_BODY)
    trace_id = given.get("traceId")
    results = experiments.parse_item(
        {
            "index": 0,
            "output": given.get("executorOutput"),
            "trace_id": ids.trace_hex(trace_id) if trace_id is not None else None,
            "scores": given.get("scores"),
        },
        "",
    )
    updated = await run_in_threadpool(
        _update_item, runtime.store, project_id, eval_id, datapoint_id, results
    )
    return JSONResponse({"id": datapoint_id, "index": updated.item_index})


def _update_item(
    store: Store, project_id: str, eval_id: str, datapoint_id: str, results: ExperimentItem
) -> ExperimentItem:
    found = store.find_experiment_item(project_id, eval_id, datapoint_id)
    if found is None and store.get_experiment(project_id, eval_id) is None:
        raise NotFound(_no_evaluation(eval_id))
    if found is None:
        raise NotFound(
            f'The evaluation has no datapoint "{datapoint_id}": save it first '
            "(create_datapoint or save_datapoints, with this id)."
        )
    item = dataclasses.replace(
        found,
        output=results.output,
        scores=results.scores,
        trace_id=results.trace_id or found.trace_id,
    )
    if not experiments.record(store, project_id, eval_id, [item]):  # deleted meanwhile
        raise NotFound(_no_evaluation(eval_id))
    return item


async def _results_page(request: Request) -> Response:
    """Laminar's results link: the experiment's page of the project it names."""
    runtime: ServerRuntime = request.app.state.runtime
    wanted = request.path_params["project_uuid"]
    projects = await run_in_threadpool(runtime.store.list_projects)
    project = ids.find_project(projects, wanted)
    if project is None:
        raise NotFound(f'There is no project "{wanted[:100]}".')
    eval_id = request.path_params["eval_id"]
    return RedirectResponse(experiments.page_link(project.name, eval_id), 303)


def _no_evaluation(eval_id: str) -> str:
    return f'No evaluation "{eval_id[:100]}" in this project.'


routes = [
    Route("/v1/evals", _create, methods=["POST"]),
    Route("/v1/evals/{eval_id}", _update, methods=["POST"]),
    Route("/v1/evals/{eval_id}/datapoints", _save_points, methods=["POST"]),
    Route("/v1/evals/{eval_id}/datapoints/{datapoint_id}", _update_point, methods=["POST"]),
    Route("/project/{project_uuid}/evaluations/{eval_id}", _results_page),
]
