"""Datasets and their items in the ClickHouse store (see lamina.store.datasets).

Both are versioned rows (ReplacingMergeTree, read FINAL): changing a dataset's
description or editing an item inserts a new version (the writing server's tick), so
any number of servers may write them. A delete is a lightweight DELETE, seen at once
by every server, as deleting a score config is. Items put while their dataset is
deleted are deleted again once the put sees it gone. A dataset's item count is counted
when read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from lamina.store.clickhouse.connection import Connection
from lamina.store.datasets import Dataset, DatasetItem, ItemQuery, item_columns
from lamina.store.queries import Cursor, Page

_ITEMS = ", ".join(field.name for field in dataclasses.fields(DatasetItem))
_SORT = "created"
_DATASETS = """
    SELECT d.name AS name, d.description AS description, d.created_ns AS created_ns,
        toInt64(n.items) AS item_count
    FROM (SELECT name, description, created_ns FROM datasets FINAL
        WHERE project_id = {project:String}{narrow}) AS d
    LEFT JOIN (SELECT dataset, count() AS items FROM dataset_items FINAL
        WHERE project_id = {project:String} GROUP BY dataset) AS n ON n.dataset = d.name
    ORDER BY name
"""
_ONE = " AND name = {name:String}"
_OF_DATASET = "project_id = {project:String} AND dataset = {name:String}"


def put_dataset(db: Connection, project_id: str, dataset: Dataset) -> Dataset:
    found = get_dataset(db, project_id, dataset.name)
    db.execute(
        "INSERT INTO datasets VALUES ({project:String}, {name:String}, "
        "{description:Nullable(String)}, {created:Int64}, {version:Int64})",
        {
            "project": project_id,
            "name": dataset.name,
            "description": dataset.description,
            "created": found.created_ns if found is not None else dataset.created_ns,
            "version": db.tick(),
        },
    )
    stored = get_dataset(db, project_id, dataset.name)
    assert stored is not None
    return stored


def list_datasets(db: Connection, project_id: str) -> list[Dataset]:
    rows = db.query(_DATASETS.replace("{narrow}", ""), {"project": project_id})
    return [Dataset(**row) for row in rows]


def get_dataset(db: Connection, project_id: str, name: str) -> Dataset | None:
    rows = db.query(_DATASETS.replace("{narrow}", _ONE), {"project": project_id, "name": name})
    return Dataset(**rows[0]) if rows else None


def delete_dataset(db: Connection, project_id: str, name: str) -> Dataset | None:
    found = get_dataset(db, project_id, name)
    if found is not None:
        params = {"project": project_id, "name": name}
        db.execute(f"DELETE FROM dataset_items WHERE {_OF_DATASET}", params)
        db.execute(
            "DELETE FROM datasets WHERE project_id = {project:String} AND name = {name:String}",
            params,
        )
    return found


def put_items(db: Connection, project_id: str, name: str, items: Sequence[DatasetItem]) -> bool:
    if get_dataset(db, project_id, name) is None:
        return False
    if items:
        columns = item_columns(project_id, name, items)
        columns["version"] = pa.array([db.tick()] * len(items), pa.int64())
        db.insert("dataset_items", pa.table(columns), "the dataset's items")
        if get_dataset(db, project_id, name) is None:  # deleted meanwhile (by another server)
            db.execute(
                f"DELETE FROM dataset_items WHERE {_OF_DATASET} "
                "AND item_id IN {ids:Array(String)}",
                {"project": project_id, "name": name, "ids": [item.item_id for item in items]},
            )
            return False
    return True


def list_items(db: Connection, project_id: str, name: str, query: ItemQuery) -> Page[DatasetItem]:
    params: dict[str, Any] = {"project": project_id, "name": name, "limit": query.limit + 1}
    narrow = ""
    if query.cursor is not None:
        narrow = " AND (created_ns, item_id) > ({after_ns:Int64}, {after_id:String})"
        params["after_ns"] = query.cursor.value
        params["after_id"] = query.cursor.key
    rows = db.query(
        f"SELECT {_ITEMS} FROM dataset_items FINAL WHERE {_OF_DATASET}{narrow} "
        "ORDER BY created_ns, item_id LIMIT {limit:UInt32}",
        params,
    )
    items = [DatasetItem(**row) for row in rows[: query.limit]]
    cursor = None
    if len(rows) > query.limit:
        cursor = Cursor(_SORT, items[-1].created_ns, items[-1].item_id).encode()
    return Page(items, cursor)


def get_item(db: Connection, project_id: str, name: str, item_id: str) -> DatasetItem | None:
    rows = db.query(
        f"SELECT {_ITEMS} FROM dataset_items FINAL WHERE {_OF_DATASET} "
        "AND item_id = {item:String}",
        {"project": project_id, "name": name, "item": item_id},
    )
    return DatasetItem(**rows[0]) if rows else None


def delete_item(db: Connection, project_id: str, name: str, item_id: str) -> DatasetItem | None:
    found = get_item(db, project_id, name, item_id)
    if found is not None:
        db.execute(
            f"DELETE FROM dataset_items WHERE {_OF_DATASET} AND item_id = {{item:String}}",
            {"project": project_id, "name": name, "item": item_id},
        )
    return found
