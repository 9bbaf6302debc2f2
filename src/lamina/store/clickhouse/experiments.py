"""Experiments and their items in the ClickHouse store (see lamina.store.experiments).

Both are versioned rows (ReplacingMergeTree, read FINAL), as datasets': an experiment
is written once (putting it again answers the one stored), and putting an item again
(a retried request) inserts a new version of it (the writing server's tick), so any
number of servers may write them. An experiment's item count is counted when read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from lamina.store.clickhouse import stamps
from lamina.store.clickhouse.connection import Connection
from lamina.store.experiments import Experiment, ExperimentItem, item_columns

_ITEMS = ", ".join(field.name for field in dataclasses.fields(ExperimentItem))
_EXPERIMENTS = """
    SELECT e.experiment_id AS experiment_id, e.name AS name, e.group_name AS group_name,
        e.dataset AS dataset, e.created_ns AS created_ns, toInt64(n.items) AS item_count
    FROM (SELECT experiment_id, name, group_name, dataset, created_ns FROM experiments FINAL
        WHERE project_id = {project:String}{narrow}) AS e
    LEFT JOIN (SELECT experiment_id, count() AS items FROM experiment_items FINAL
        WHERE project_id = {project:String} GROUP BY experiment_id) AS n
    ON n.experiment_id = e.experiment_id
    ORDER BY created_ns DESC, experiment_id LIMIT {limit:UInt32}
"""


def put_experiment(db: Connection, project_id: str, experiment: Experiment) -> Experiment:
    """Make the experiment, or answer the one of its id as stored."""
    if get_experiment(db, project_id, experiment.experiment_id) is None:
        db.execute(
            "INSERT INTO experiments VALUES ({project:String}, {id:String}, {name:String}, "
            "{group:String}, {dataset:Nullable(String)}, {created:Int64}, {version:Int64})",
            {
                "project": project_id,
                "id": experiment.experiment_id,
                "name": experiment.name,
                "group": experiment.group_name,
                "dataset": experiment.dataset,
                "created": experiment.created_ns,
                "version": db.tick(),
            },
        )
        stamps.every_hour(db, project_id)  # charts leaving out experiments' sessions
    stored = get_experiment(db, project_id, experiment.experiment_id)
    assert stored is not None
    return stored


def get_experiment(db: Connection, project_id: str, experiment_id: str) -> Experiment | None:
    rows = db.query(
        _EXPERIMENTS.replace("{narrow}", " AND experiment_id = {id:String}"),
        {"project": project_id, "id": experiment_id, "limit": 1},
    )
    return Experiment(**rows[0]) if rows else None


def list_experiments(
    db: Connection, project_id: str, group: str | None, limit: int
) -> list[Experiment]:
    """Newest first."""
    params: dict[str, Any] = {"project": project_id, "limit": limit}
    narrow = ""
    if group is not None:
        narrow = " AND group_name = {group:String}"
        params["group"] = group
    rows = db.query(_EXPERIMENTS.replace("{narrow}", narrow), params)
    return [Experiment(**row) for row in rows]


def put_items(
    db: Connection, project_id: str, experiment_id: str, items: Sequence[ExperimentItem]
) -> bool:
    if get_experiment(db, project_id, experiment_id) is None:
        return False
    if items:
        columns = item_columns(project_id, experiment_id, items)
        columns["version"] = pa.array([db.tick()] * len(items), pa.int64())
        db.insert("experiment_items", pa.table(columns), "the experiment's items")
        if get_experiment(db, project_id, experiment_id) is None:  # deleted meanwhile
            _delete_items(db, project_id, experiment_id)
            return False
    return True


def delete_experiment(db: Connection, project_id: str, experiment_id: str) -> Experiment | None:
    found = get_experiment(db, project_id, experiment_id)
    if found is not None:
        db.execute(
            "DELETE FROM experiments WHERE project_id = {project:String} "
            "AND experiment_id = {id:String}",
            {"project": project_id, "id": experiment_id},
        )
        _delete_items(db, project_id, experiment_id)
        stamps.every_hour(db, project_id)
    return found


def _delete_items(db: Connection, project_id: str, experiment_id: str) -> None:
    """The run's items (deleted after its row, so a writer that checks the row after
    inserting finds it gone and takes its own items out again)."""
    db.execute(
        "DELETE FROM experiment_items WHERE project_id = {project:String} "
        "AND experiment_id = {id:String}",
        {"project": project_id, "id": experiment_id},
    )


def list_items(db: Connection, project_id: str, experiment_id: str) -> list[ExperimentItem]:
    """By index."""
    rows = db.query(
        f"SELECT {_ITEMS} FROM experiment_items FINAL WHERE project_id = {{project:String}} "
        "AND experiment_id = {id:String} ORDER BY item_index",
        {"project": project_id, "id": experiment_id},
    )
    return [ExperimentItem(**row) for row in rows]


def find_item(
    db: Connection, project_id: str, experiment_id: str, datapoint_id: str
) -> ExperimentItem | None:
    """The run's item a Laminar SDK gave this datapoint id (its lowest index, if two)."""
    rows = db.query(
        f"SELECT {_ITEMS} FROM experiment_items FINAL WHERE project_id = {{project:String}} "
        "AND experiment_id = {id:String} AND datapoint_id = {datapoint:String} "
        "ORDER BY item_index LIMIT 1",
        {"project": project_id, "id": experiment_id, "datapoint": datapoint_id},
    )
    return ExperimentItem(**rows[0]) if rows else None
