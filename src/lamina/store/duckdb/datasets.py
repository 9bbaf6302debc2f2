"""Datasets and their items in the DuckDB store (see lamina.store.datasets).

Two small tables without key indexes (ART indexes are held in memory), changed under
this module's lock so two writers never change one row at once (a write-write
conflict in DuckDB): a dataset's row is replaced in one transaction, its items put
(deleted by id, then inserted) in another. A dataset's item count is counted when read.
Deleting a project takes both tables' rows in its own transaction
(lamina.store.duckdb.lifecycle).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from lamina.store.datasets import Dataset, DatasetItem, ItemQuery, item_columns
from lamina.store.duckdb.connection import Connection, append
from lamina.store.queries import Cursor, Page

_ITEM_FIELDS = tuple(field.name for field in dataclasses.fields(DatasetItem))
_ITEMS = ", ".join(_ITEM_FIELDS)
_SORT = "created"
_FAILURE = "Could not save the dataset ({error}). {advice}"
_DATASETS = """
    SELECT d.name, d.description, d.created_ns, coalesce(n.items, 0) AS item_count
    FROM datasets d LEFT JOIN (
        SELECT dataset, count(*) AS items FROM dataset_items WHERE project_id = ?
        GROUP BY dataset
    ) n ON n.dataset = d.name
    WHERE d.project_id = ?
"""
_lock = threading.Lock()


def put_dataset(connection: Connection, project_id: str, dataset: Dataset) -> Dataset:
    """Create the dataset, or change the description of the one of its name (which
    keeps its creation time and items)."""
    with _lock:
        found = get_dataset(connection, project_id, dataset.name)
        created_ns = found.created_ns if found is not None else dataset.created_ns
        with connection.transaction(_FAILURE) as con:
            con.execute(
                "DELETE FROM datasets WHERE project_id = ? AND name = ?",
                [project_id, dataset.name],
            )
            con.execute(
                "INSERT INTO datasets VALUES (?, ?, ?, ?)",
                [project_id, dataset.name, dataset.description, created_ns],
            )
    stored = get_dataset(connection, project_id, dataset.name)
    assert stored is not None
    return stored


def list_datasets(connection: Connection, project_id: str) -> list[Dataset]:
    rows = connection.query(f"{_DATASETS} ORDER BY d.name", [project_id, project_id])
    return [Dataset(**row) for row in rows]


def get_dataset(connection: Connection, project_id: str, name: str) -> Dataset | None:
    rows = connection.query(f"{_DATASETS} AND d.name = ?", [project_id, project_id, name])
    return Dataset(**rows[0]) if rows else None


def delete_dataset(connection: Connection, project_id: str, name: str) -> Dataset | None:
    with _lock:
        found = get_dataset(connection, project_id, name)
        if found is not None:
            with connection.transaction(_FAILURE) as con:
                for table, column in (("dataset_items", "dataset"), ("datasets", "name")):
                    con.execute(
                        f"DELETE FROM {table} WHERE project_id = ? AND {column} = ?",
                        [project_id, name],
                    )
    return found


def put_items(
    connection: Connection, project_id: str, name: str, items: Sequence[DatasetItem]
) -> bool:
    """Add the items, each replacing the dataset's item of its id; False when the
    project has no dataset of that name."""
    with _lock:
        if get_dataset(connection, project_id, name) is None:
            return False
        if not items:
            return True
        with connection.transaction(_FAILURE) as con:
            con.execute(
                "DELETE FROM dataset_items WHERE project_id = ? AND dataset = ? "
                "AND list_contains(?::VARCHAR[], item_id)",
                [project_id, name, [item.item_id for item in items]],
            )
            append(con, "dataset_items", pa.table(item_columns(project_id, name, items)))
    return True


def list_items(
    connection: Connection, project_id: str, name: str, query: ItemQuery
) -> Page[DatasetItem]:
    """Oldest first, then by id."""
    where = "project_id = ? AND dataset = ?"
    params: list[Any] = [project_id, name]
    if query.cursor is not None:
        where += " AND (created_ns > ? OR (created_ns = ? AND item_id > ?))"
        params += [query.cursor.value, query.cursor.value, query.cursor.key]
    rows = connection.query(
        f"SELECT {_ITEMS} FROM dataset_items WHERE {where} ORDER BY created_ns, item_id LIMIT ?",
        [*params, query.limit + 1],
    )
    items = [DatasetItem(**row) for row in rows[: query.limit]]
    cursor = None
    if len(rows) > query.limit:
        cursor = Cursor(_SORT, items[-1].created_ns, items[-1].item_id).encode()
    return Page(items, cursor)


def get_item(
    connection: Connection, project_id: str, name: str, item_id: str
) -> DatasetItem | None:
    rows = connection.query(
        f"SELECT {_ITEMS} FROM dataset_items WHERE project_id = ? AND dataset = ? AND item_id = ?",
        [project_id, name, item_id],
    )
    return DatasetItem(**rows[0]) if rows else None


def delete_item(
    connection: Connection, project_id: str, name: str, item_id: str
) -> DatasetItem | None:
    with _lock:
        found = get_item(connection, project_id, name, item_id)
        if found is not None:
            connection.write(
                "DELETE FROM dataset_items WHERE project_id = ? AND dataset = ? AND item_id = ?",
                [project_id, name, item_id],
            )
    return found
