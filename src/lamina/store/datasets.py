"""Datasets: named lists of test cases per project, for experiments (#22).

A dataset has a name (unique in its project), a description and its items. An item is
an ``input``, an ``expected_output`` (or none) and ``metadata`` (a JSON object, or
none), each kept as JSON text, and where it came from when it was made from the data:
the session, the trace and the turn (counted from 1). An item is a copy: deleting its
session or trace later leaves it (its source then names something gone). Deleting a
dataset deletes its items; deleting a project deletes its datasets.

Putting an item whose ``item_id`` the dataset has already replaces it (an edit, or an
import run twice). The checks of names and values, and items made from traces and
sessions, are lamina.evaluation.datasets'.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from lamina.store.queries import DEFAULT_LIMIT, Cursor


@dataclass(frozen=True, slots=True)
class Dataset:
    name: str
    description: str | None
    created_ns: int
    item_count: int = 0  # as read; what is given to put_dataset is not used


@dataclass(frozen=True, slots=True)
class DatasetItem:
    item_id: str
    input: str  # JSON text
    expected_output: str | None  # JSON text; None: no expected output
    metadata: str | None  # JSON text of an object; None: none
    source_session_id: str | None
    source_trace_id: str | None
    source_turn: int | None  # counted from 1
    created_ns: int
    updated_ns: int


@dataclass(frozen=True, slots=True)
class ItemQuery:
    """A dataset's items in the order they were added (oldest first)."""

    limit: int = DEFAULT_LIMIT
    cursor: Cursor | None = None  # (created_ns, item_id) of the last one read


# The items' columns in both stores' tables, after project_id and dataset.
ITEM_TYPES = {
    "item_id": pa.string(),
    "input": pa.string(),
    "expected_output": pa.string(),
    "metadata": pa.string(),
    "source_session_id": pa.string(),
    "source_trace_id": pa.string(),
    "source_turn": pa.int32(),
    "created_ns": pa.int64(),
    "updated_ns": pa.int64(),
}


def item_columns(project_id: str, name: str, items: Sequence[DatasetItem]) -> dict[str, pa.Array]:
    """The items as Arrow columns, in their tables' order (a store's bulk insert)."""
    columns = {
        "project_id": pa.array([project_id] * len(items), pa.string()),
        "dataset": pa.array([name] * len(items), pa.string()),
    }
    for field, kind in ITEM_TYPES.items():
        columns[field] = pa.array([getattr(item, field) for item in items], kind)
    return columns
