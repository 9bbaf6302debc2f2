"""Laminar's datasets API (#24), landing in Lamina's datasets (lamina.evaluation.datasets):
what ``LaminarClient().datasets`` and ``LaminarDataset`` of Laminar's SDKs call.

- ``GET /v1/datasets`` (``?name=`` for one) lists ``[{id, name, createdAt}]``;
- ``POST /v1/datasets`` ``{name}`` makes an empty dataset (the TypeScript SDK's
  ``datasets.create``; the project's dataset of that name when it has one), answering it
  as listed; ``GET`` and ``DELETE /v1/datasets/{id}`` (``getById``, ``delete``) answer
  it, the second after deleting it and its items. Renaming one (``PATCH``,
  ``update``) is a 501: Lamina names a dataset for good;
- ``POST /v1/datasets/datapoints`` ``{name | datasetId, datapoints, createDataset}``
  adds items: a datapoint's ``data`` is the item's input, ``target`` its expected output,
  ``metadata`` its metadata, ``id`` (a UUID) its id; with ``createDataset`` the dataset
  ``name`` is made when missing (a 201). Answers ``{datasetId}``;
- ``GET /v1/datasets/datapoints`` (``name`` or ``datasetId``, ``offset``, ``limit``)
  answers ``{items: [{id, createdAt, data, target, metadata}], totalCount}``, oldest
  first.

A dataset's Laminar id and an item's are made from Lamina's (lamina.web.laminar.ids).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lamina.errors import BadRequest, NotFound
from lamina.evaluation import datasets
from lamina.query.present import moment
from lamina.server_runtime import ServerRuntime
from lamina.store.base import Row, Store
from lamina.store.datasets import Dataset, DatasetItem, ItemQuery
from lamina.store.queries import MAX_LIMIT, Cursor
from lamina.web.access import project_of
from lamina.web.api import JSONResponse
from lamina.web.laminar import ids
from lamina.web.laminar.wire import json_object, not_supported

MiB = 1024 * 1024
MAX_PUSH_BODY = 32 * MiB
MAX_PULL = 1_000  # datapoints answered at once
_POINT_FIELDS = ("data", "target", "metadata", "id", "created_at", "createdAt")


def _present(project_id: str, dataset: Dataset) -> Row:
    return {
        "id": ids.dataset_uuid(project_id, dataset.name),
        "name": dataset.name,
        "createdAt": moment(dataset.created_ns),
    }


def _find(store: Store, project_id: str, name: Any, dataset_id: Any) -> Dataset | None:
    """The dataset a request names by ``name`` or by Laminar's ``datasetId``."""
    if (name is None) == (dataset_id is None):
        raise BadRequest("Give the dataset's name or its datasetId (one of them).")
    if name is not None:
        return store.get_dataset(project_id, datasets.check_name(name))
    wanted = str(ids.as_uuid(dataset_id, "datasetId"))
    found = store.list_datasets(project_id)
    return next((d for d in found if ids.dataset_uuid(project_id, d.name) == wanted), None)


def _missing(name: Any, dataset_id: Any) -> NotFound:
    shown = name if name is not None else dataset_id
    return NotFound(f'No dataset "{str(shown)[:100]}" in this project.')


async def _list(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    name = request.query_params.get("name")
    found = await run_in_threadpool(runtime.store.list_datasets, project_id)
    if name is not None:
        found = [d for d in found if d.name == name]
    return JSONResponse([_present(project_id, d) for d in found])


async def _push(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    given = await json_object(request, runtime, MAX_PUSH_BODY)
    points = given.get("datapoints")
    if not isinstance(points, list):
        raise BadRequest('"datapoints" must be a list of datapoints ({data, target, metadata}).')
    create = given.get("createDataset", False)
    if not isinstance(create, bool):
        raise BadRequest("createDataset must be true or false.")
    name, dataset_id = given.get("name"), given.get("datasetId")
    items = datasets.plain_items([_item(point, n + 1) for n, point in enumerate(points)], 0)
    store = runtime.store

    def push() -> tuple[Dataset, bool]:
        found = _find(store, project_id, name, dataset_id)
        made = False
        if found is None:
            if not create or name is None:
                raise _missing(name, dataset_id)
            found, made = datasets.create(store, project_id, {"name": name})
        now = datasets.now()
        stamped = [_stamped(item, now + n) for n, item in enumerate(items)]
        datasets.add_items(store, project_id, found.name, stamped)
        return found, made

    dataset, made = await run_in_threadpool(push)
    return JSONResponse(
        {"datasetId": ids.dataset_uuid(project_id, dataset.name)}, 201 if made else 200
    )


async def _create(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    given = await json_object(request, runtime)
    name = datasets.check_name(given.get("name"))
    dataset, made = await run_in_threadpool(
        datasets.create, runtime.store, project_id, {"name": name}
    )
    return JSONResponse(_present(project_id, dataset), 201 if made else 200)


async def _by_id(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    dataset_id = request.path_params["dataset_id"]
    store = runtime.store

    def find_it() -> Dataset:
        found = _find(store, project_id, None, dataset_id)
        if found is None:
            raise _missing(None, dataset_id)
        if request.method == "DELETE" and store.delete_dataset(project_id, found.name) is None:
            raise _missing(None, dataset_id)
        return found

    return JSONResponse(_present(project_id, await run_in_threadpool(find_it)))


async def _rename(request: Request) -> Response:
    await project_of(request)
    raise not_supported(
        "renaming of a dataset",
        "A Lamina dataset keeps its name; push its items to a dataset of the new name.",
    )


def _item(point: Any, line: int) -> dict[str, Any]:
    """A Laminar datapoint as Lamina's item (checked by the datasets' rules)."""
    if not isinstance(point, dict):
        raise BadRequest(f"Item {line}: a datapoint must be a JSON object.")
    unknown = sorted(point.keys() - set(_POINT_FIELDS))
    if unknown:
        raise BadRequest(
            f"Item {line}: unknown field {unknown[0][:80]!r}: a datapoint takes data, "
            "target, metadata and id."
        )
    if point.get("data") is None:
        raise BadRequest(f"Item {line}: a datapoint needs data (any JSON value but null).")
    item: dict[str, Any] = {
        "input": point["data"],
        "expected_output": point.get("target"),
        "metadata": point.get("metadata") or None,
    }
    if point.get("id") is not None:
        item["item_id"] = ids.as_uuid(point["id"], f"Item {line}: id").hex
    return item


def _stamped(item: DatasetItem, now_ns: int) -> DatasetItem:
    return dataclasses.replace(item, created_ns=now_ns, updated_ns=now_ns)


async def _pull(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    params = request.query_params
    offset = _whole(params.get("offset", "0"), "offset", 0, datasets.MAX_ITEMS)
    limit = _whole(params.get("limit", "100"), "limit", 1, MAX_PULL)
    store = runtime.store

    def pull() -> tuple[list[DatasetItem], int]:
        found = _find(store, project_id, params.get("name"), params.get("datasetId"))
        if found is None:
            raise _missing(params.get("name"), params.get("datasetId"))
        return _window(store, project_id, found.name, offset, limit), found.item_count

    items, total = await run_in_threadpool(pull)
    return JSONResponse({"items": [_point(item) for item in items], "totalCount": total})


def _window(store: Store, project_id: str, name: str, offset: int, limit: int) -> list[DatasetItem]:
    """Items ``offset`` to ``offset + limit`` (oldest first), read a page at a time."""
    kept: list[DatasetItem] = []
    seen = 0
    cursor: str | None = None
    while len(kept) < limit:
        query = ItemQuery(MAX_LIMIT, Cursor.decode(cursor, "created") if cursor else None)
        page = store.list_dataset_items(project_id, name, query)
        for item in page.items:
            if seen >= offset and len(kept) < limit:
                kept.append(item)
            seen += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    return kept


def _point(item: DatasetItem) -> Row:
    shown = datasets.present_item(item, "")
    return {
        "id": ids.item_uuid(item.item_id),
        "createdAt": shown["created_at"],
        "data": shown["input"],
        "target": shown["expected_output"],
        "metadata": shown["metadata"] or {},
    }


def _whole(text: str, field: str, least: int, most: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = least - 1
    if not least <= value <= most:
        raise BadRequest(f"{field} must be a whole number from {least} to {most:,}.")
    return value


routes = [
    Route("/v1/datasets", _list),
    Route("/v1/datasets", _create, methods=["POST"]),
    Route("/v1/datasets/datapoints", _push, methods=["POST"]),
    Route("/v1/datasets/datapoints", _pull),
    # after the datapoints: a dataset's id is any path segment
    Route("/v1/datasets/{dataset_id}", _by_id, methods=["GET", "DELETE"]),
    Route("/v1/datasets/{dataset_id}", _rename, methods=["PATCH"]),
]
