"""The Datasets page (#22): the project's datasets, and a dataset's page with its items
(input, expected output, metadata, and a link to the trace, session or turn each was
made from), to edit and delete.

The pages only read; their controls, and "Add to dataset" on the trace and session
pages (``_dataset_add.html``), send the JSON API's requests as the signed-in user
(``web/static/datasets.js``, with the page's CSRF token), so the pages, the API and the
CLI change datasets through one path (:mod:`lamina.evaluation.datasets`). Values are
shown as text: a chat conversation as its messages, anything else as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson
from starlette.responses import Response

from lamina.errors import BadRequest, NotFound
from lamina.evaluation import datasets
from lamina.query.params import parse_item_query
from lamina.store.base import Row, Store
from lamina.web.pages.base import Page

ITEMS_PAGE = 100


@dataclass(frozen=True, slots=True)
class Shown:
    """One item as its row shows it."""

    item: Row  # as the API presents it
    input: Any  # a list of messages ({role, content}), or the JSON text of the value
    expected: str | None
    metadata: str | None
    # the fields as the edit form holds them: JSON text (a text value as itself)
    edit_input: str
    edit_expected: str
    edit_metadata: str


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def _editable(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else _json(value)


def _messages(value: Any) -> list[Row] | None:
    """A conversation as chat messages, when ``value`` is one."""
    if not isinstance(value, list) or not value:
        return None
    if all(isinstance(m, dict) and set(m) <= {"role", "content"} and "role" in m for m in value):
        return [{"role": str(m["role"]), "content": _editable(m.get("content"))} for m in value]
    return None


def show(item: Row) -> Shown:
    value, expected, metadata = item["input"], item["expected_output"], item["metadata"]
    return Shown(
        item=item,
        input=_messages(value) or _editable(value),
        expected=_editable(expected) if expected is not None else None,
        metadata=_json(metadata) if metadata else None,
        edit_input=_editable(value),
        edit_expected=_editable(expected),
        edit_metadata=_json(metadata) if metadata is not None else "",
    )


async def datasets_page(page: Page) -> Response:
    assert page.project is not None
    found = await page.call(page.store.list_datasets, page.project.id)
    return await page.render(
        "datasets.html",
        nav="datasets",
        datasets=[datasets.present_dataset(item) for item in found],
        api_project=f"?project={quote(page.project.name, safe='')}",
    )


async def dataset_page(page: Page) -> Response:
    """One dataset: its items, oldest first, a page of ITEMS_PAGE at a time."""
    assert page.project is not None
    project = page.project
    name = page.request.path_params["name"]
    try:
        datasets.check_name(name)
    except BadRequest:
        raise NotFound(datasets.no_dataset(name)) from None
    params = {**page.params, "limit": str(ITEMS_PAGE)}

    def read(store: Store) -> tuple[Row, list[Shown], str | None]:
        dataset = store.get_dataset(project.id, name)
        if dataset is None:
            raise NotFound(datasets.no_dataset(name))
        items = store.list_dataset_items(project.id, name, parse_item_query(params))
        shown = [show(datasets.present_item(item, project.name)) for item in items.items]
        return datasets.present_dataset(dataset), shown, items.next_cursor

    dataset, items, next_cursor = await page.call(read, page.store)
    return await page.render(
        "dataset.html",
        nav="datasets",
        dataset=dataset,
        items=items,
        next_cursor=next_cursor,
        api_project=f"?project={quote(project.name, safe='')}",
    )
