"""Datasets in an export (#22; see :mod:`lamina.exchange.export`): after the comments, a
JSONL export has a ``dataset`` line per dataset (``{name, description, created_ns,
created_at}``) and a ``dataset_item`` line per item (``{dataset, item_id, input,
expected_output, metadata, source, created_ns, updated_ns}``, the values as JSON). A
session's export has none, and the Parquet export none (``lamina datasets export``
writes a dataset as JSONL). ``lamina import`` reads them back into datasets of their
names (made when new), each item replacing the one of its id, so importing a file
twice adds each item once; ``POST /api/v1/import`` makes them too (its lines read by
:func:`datasets_of_lines`, stored by lamina.evaluation.datasets).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from lamina.errors import InvalidCursor
from lamina.exchange.grouped import Kinds, group_lines, read_grouped
from lamina.query.present import moment
from lamina.store.base import Store
from lamina.store.datasets import DatasetItem, ItemQuery
from lamina.store.queries import MAX_LIMIT, Cursor

LINES = ("dataset", "dataset_item")
CHUNK = 1000  # items sent a request by an import


def _iso(ns: int | None) -> str | None:
    found = moment(ns)
    return None if found is None else found.isoformat().replace("+00:00", "Z")


def _loads(text: str | None) -> Any:
    return orjson.loads(text) if text is not None else None


def datasets_page(store: Store, project_id: str, session_id: str | None) -> dict[str, Any]:
    """Every dataset of the project, one page (a project holds at most 1,000)."""
    if session_id is not None:
        return {"items": [], "next_cursor": None}
    items = [
        {
            "kind": "dataset",
            "name": found.name,
            "description": found.description,
            "created_ns": found.created_ns,
            "created_at": _iso(found.created_ns),
        }
        for found in store.list_datasets(project_id)
    ]
    return {"items": items, "next_cursor": None}


def items_page(
    store: Store, project_id: str, after: str | None, limit: int, session_id: str | None
) -> dict[str, Any]:
    """A page of the items of one dataset (by name, then oldest first); the cursor
    names the dataset and the item the next page starts after."""
    if session_id is not None:
        return {"items": [], "next_cursor": None}
    names = [found.name for found in store.list_datasets(project_id)]
    name, cursor = _decode(after) if after else (names[0] if names else None, None)
    if name is None or name not in names:  # none, or deleted while it was exported
        return {"items": [], "next_cursor": None}
    query = ItemQuery(limit=min(limit, MAX_LIMIT), cursor=cursor)
    page = store.list_dataset_items(project_id, name, query)
    items = [item_line(name, item) for item in page.items]
    if page.next_cursor is not None:
        return {"items": items, "next_cursor": _encode(name, page.next_cursor)}
    later = names[names.index(name) + 1 :]
    return {"items": items, "next_cursor": _encode(later[0], None) if later else None}


def item_line(name: str, item: DatasetItem) -> dict[str, Any]:
    source = None
    if item.source_session_id is not None or item.source_trace_id is not None:
        source = {
            "session_id": item.source_session_id,
            "trace_id": item.source_trace_id,
            "turn": item.source_turn,
        }
    return {
        "kind": "dataset_item",
        "dataset": name,
        "item_id": item.item_id,
        "input": orjson.loads(item.input),
        "expected_output": _loads(item.expected_output),
        "metadata": _loads(item.metadata),
        "source": source,
        "created_ns": item.created_ns,
        "updated_ns": item.updated_ns,
    }


def _encode(name: str, cursor: str | None) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([name, cursor])).decode().rstrip("=")


def _decode(after: str) -> tuple[str, Cursor | None]:
    try:
        name, cursor = orjson.loads(base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)))
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidCursor("The cursor is not one this server issued.") from exc
    if not isinstance(name, str) or not (cursor is None or isinstance(cursor, str)):
        raise InvalidCursor("The cursor is not one this server issued.")
    return name, Cursor.decode(cursor, "created") if cursor else None


def read_datasets(path: Path) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """The datasets of a JSONL export, each with a chunk of its items (as an item is
    given to the datasets API: its source kept, its times made anew); a dataset of many
    items comes in several chunks. None from a Parquet export or directory."""
    return read_grouped(path, _KINDS)


def datasets_of_lines(body: bytes) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """The datasets of ``POST /api/v1/import``'s lines, as :func:`read_datasets` reads a
    file's."""
    return group_lines(body.splitlines(), _KINDS)


_KINDS = Kinds(
    *LINES,
    owner_key="name",
    item_key="dataset",
    owner_fields=("name", "description"),
    item_fields=("item_id", "input", "expected_output", "metadata", "source"),
    chunk=CHUNK,
)
