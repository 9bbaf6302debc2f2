"""The JSON API's datasets (#22): make, list and delete a project's datasets, and add,
edit, list, export and delete their items (lamina.evaluation.datasets checks them).

Items are added one a request (given whole, or made from a trace or a session:
lamina.evaluation.items), many at once (``{"items": [...]}``), or as JSONL (a body of
Content-Type ``application/x-ndjson`` or ``application/jsonl``, one item a line: the
import). ``GET .../items?format=jsonl`` answers every item of the dataset as JSONL, the
lines an import takes back; ``format=parquet`` as one Parquet file (the project export's
writer, values as JSON text). The project is the caller's, as on every project route
(:mod:`lamina.web.access`).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import Route

from lamina.errors import BadRequest, NotFound
from lamina.evaluation import datasets
from lamina.exchange import export
from lamina.exchange.datasets import item_line
from lamina.query.params import parse_item_query
from lamina.query.present import json_bytes
from lamina.server_runtime import ServerRuntime
from lamina.store.base import Store
from lamina.store.datasets import DatasetItem, ItemQuery
from lamina.store.queries import MAX_LIMIT, Cursor
from lamina.web.access import project_of
from lamina.web.api import JSONResponse, attachment
from lamina.web.bodies import json_fields, parse_json, read_body

MiB = 1024 * 1024
MAX_ITEMS_BODY = 32 * MiB  # an import of many items
_LINES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines")
_TEXT_OR_NULL = (str, type(None))


def _name(request: Request) -> str:
    return datasets.check_name(request.path_params["name"], "The dataset's name")


def _project_name(store: Store, project_id: str) -> str:
    project = store.find_project(project_id)
    return project.name if project is not None else project_id


async def _list(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    found = await run_in_threadpool(runtime.store.list_datasets, project_id)
    return JSONResponse({"items": [datasets.present_dataset(item) for item in found]})


async def _create(request: Request) -> Response:
    """Make a dataset (201), or change the description of the one of that name (200)."""
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    given = await json_fields(
        request, runtime, {"name": (str,), "description": _TEXT_OR_NULL}, ("name",)
    )
    made, new = await run_in_threadpool(datasets.create, runtime.store, project_id, given)
    return JSONResponse({"dataset": datasets.present_dataset(made)}, 201 if new else 200)


async def _get(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    name = _name(request)
    found = await run_in_threadpool(runtime.store.get_dataset, project_id, name)
    if found is None:
        raise NotFound(datasets.no_dataset(name))
    return JSONResponse({"dataset": datasets.present_dataset(found)})


async def _delete(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    name = _name(request)
    found = await run_in_threadpool(runtime.store.delete_dataset, project_id, name)
    if found is None:
        raise NotFound(datasets.no_dataset(name))
    return JSONResponse({"deleted": datasets.present_dataset(found)})


async def _list_items(request: Request) -> Response:
    """A page of items (oldest first), or with ``format=jsonl`` all of them as JSONL."""
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    name = _name(request)
    file_format = request.query_params.get("format", "json")
    if file_format not in ("json", "jsonl", "parquet"):
        raise BadRequest(
            "format must be json (a page of items), jsonl or parquet (all of them, a file)."
        )
    query = parse_item_query(request.query_params)
    store = runtime.store

    def read() -> tuple[str, Any]:
        if store.get_dataset(project_id, name) is None:
            raise NotFound(datasets.no_dataset(name))
        return _project_name(store, project_id), store.list_dataset_items(project_id, name, query)

    project_name, page = await run_in_threadpool(read)
    if file_format == "parquet":
        folder = await run_in_threadpool(_parquet, store, project_id, name)
        return FileResponse(
            folder / "dataset_items.parquet",
            media_type="application/vnd.apache.parquet",
            headers={"Content-Disposition": attachment(f"dataset-{name}", ".parquet")},
            background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
        )
    if file_format == "jsonl":
        return StreamingResponse(
            _lines(store, project_id, name, project_name),
            media_type="application/x-ndjson",
            headers={"Content-Disposition": attachment(f"dataset-{name}", ".jsonl")},
        )
    items = [datasets.present_item(item, project_name) for item in page.items]
    return JSONResponse({"items": items, "next_cursor": page.next_cursor})


def _parquet(store: Store, project_id: str, name: str) -> Path:
    """A temporary folder holding dataset_items.parquet: every item of the dataset, as
    the project's Parquet export writes its tables (lamina.exchange.export)."""
    folder = Path(tempfile.mkdtemp(prefix="lamina-dataset-"))

    def pages() -> Iterator[tuple[str, list[Any]]]:
        cursor: str | None = None
        while True:
            query = ItemQuery(MAX_LIMIT, Cursor.decode(cursor, "created") if cursor else None)
            page = store.list_dataset_items(project_id, name, query)
            yield "dataset_items", [item_line(name, item) for item in page.items]
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    try:
        export.write_parquet(folder, pages(), ("dataset_items",))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder


def _lines(store: Store, project_id: str, name: str, project_name: str) -> Iterator[bytes]:
    """Every item of the dataset, a JSON line each, read a page at a time (the
    starlette iterates a sync generator in a thread)."""
    cursor: str | None = None
    while True:
        query = ItemQuery(MAX_LIMIT, Cursor.decode(cursor, "created") if cursor else None)
        page = store.list_dataset_items(project_id, name, query)
        for item in page.items:
            yield json_bytes(datasets.present_item(item, project_name)) + b"\n"
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


async def _add_items(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    name = _name(request)
    body, taken = await read_body(
        request,
        runtime,
        MAX_ITEMS_BODY,
        f"One request adds at most {MAX_ITEMS_BODY // MiB} MiB of items: send them in several.",
    )
    try:
        lines = request.headers.get("content-type", "").split(";")[0].strip() in _LINES
        given = _parse(body, lines)
    finally:
        runtime.bodies.give_back(taken)
    store = runtime.store
    many = isinstance(given, list) or (isinstance(given, dict) and "items" in given)

    def add() -> tuple[str, list[DatasetItem]]:
        if store.get_dataset(project_id, name) is None:  # before reading traces for it
            raise NotFound(datasets.no_dataset(name))
        now = datasets.now()
        if isinstance(given, dict) and "items" in given:
            if set(given) != {"items"} or not isinstance(given["items"], list):
                raise BadRequest('"items" must be a list of items, with no other field beside.')
            made = datasets.plain_items(given["items"], now)
        elif many:
            made = datasets.plain_items(given, now)
        else:
            made = [datasets.one_item(store, project_id, given, now)]
        datasets.add_items(store, project_id, name, made)
        return _project_name(store, project_id), made

    project_name, made = await run_in_threadpool(add)
    if many:
        ids = [item.item_id for item in made]
        return JSONResponse({"added": len(made), "item_ids": ids}, 201)
    return JSONResponse({"item": datasets.present_item(made[0], project_name)}, 201)


def _parse(body: bytes, lines: bool) -> Any:
    if lines:
        return datasets.parse_lines(body)
    return parse_json(
        body or b"null",
        'a JSON object (an item, or {"items": [...]}), a list of items, or JSON lines '
        "sent with Content-Type application/x-ndjson",
    )


async def _edit_item(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    name = _name(request)
    item_id = request.path_params["item_id"]
    any_json = (str, int, float, bool, list, dict, type(None))
    given = await json_fields(
        request,
        runtime,
        {"input": any_json, "expected_output": any_json, "metadata": any_json},
    )
    store = runtime.store

    def edit() -> tuple[str, DatasetItem]:
        found = store.get_dataset_item(project_id, name, item_id)
        if found is None:
            raise NotFound(_no_item(name, item_id))
        changed = datasets.edited(found, given, datasets.now())
        if not store.put_dataset_items(project_id, name, [changed]):
            raise NotFound(datasets.no_dataset(name))
        return _project_name(store, project_id), changed

    project_name, changed = await run_in_threadpool(edit)
    return JSONResponse({"item": datasets.present_item(changed, project_name)})


async def _delete_item(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    name = _name(request)
    item_id = request.path_params["item_id"]
    store = runtime.store

    def delete() -> tuple[str, DatasetItem | None]:
        return _project_name(store, project_id), store.delete_dataset_item(
            project_id, name, item_id
        )

    project_name, found = await run_in_threadpool(delete)
    if found is None:
        raise NotFound(_no_item(name, item_id))
    return JSONResponse({"deleted": datasets.present_item(found, project_name)})


def _no_item(name: str, item_id: str) -> str:
    return f'No item "{item_id[:100]}" in the dataset "{name[:100]}" of this project.'


routes = [
    Route("/api/v1/datasets", _list),
    Route("/api/v1/datasets", _create, methods=["POST"]),
    Route("/api/v1/datasets/{name}", _get),
    Route("/api/v1/datasets/{name}", _delete, methods=["DELETE"]),
    Route("/api/v1/datasets/{name}/items", _list_items),
    Route("/api/v1/datasets/{name}/items", _add_items, methods=["POST"]),
    Route("/api/v1/datasets/{name}/items/{item_id}", _edit_item, methods=["PATCH"]),
    Route("/api/v1/datasets/{name}/items/{item_id}", _delete_item, methods=["DELETE"]),
]
