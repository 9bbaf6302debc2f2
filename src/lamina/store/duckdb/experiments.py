"""Experiments and their items in the DuckDB store (see lamina.store.experiments).

Two small tables without key indexes, as datasets': an experiment's row is written once
(putting it again answers the one stored), its items put (deleted by index, then
inserted) in one transaction under this module's lock, so two writers never change one
row at once. An experiment's item count is counted when read. Deleting a project takes
both tables' rows in its own transaction (lamina.store.duckdb.lifecycle).
:class:`ExperimentRows` gives the store these as its methods.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from typing import Any, TypeVar

import pyarrow as pa

from lamina.store.duckdb.connection import Connection, append
from lamina.store.experiments import Experiment, ExperimentItem, item_columns, session_id
from lamina.store.queries import SessionQuery, TraceQuery

_ITEMS = ", ".join(field.name for field in dataclasses.fields(ExperimentItem))
_FAILURE = "Could not save the experiment ({error}). {advice}"
_EXPERIMENTS = """
    SELECT e.experiment_id, e.name, e.group_name, e.dataset, e.created_ns,
        coalesce(n.items, 0) AS item_count
    FROM experiments e LEFT JOIN (
        SELECT experiment_id, count(*) AS items FROM experiment_items WHERE project_id = ?
        GROUP BY experiment_id
    ) n ON n.experiment_id = e.experiment_id
    WHERE e.project_id = ?
"""
_lock = threading.Lock()
Q = TypeVar("Q", SessionQuery, TraceQuery)


def with_runs(connection: Connection, project_id: str, query: Q) -> Q:
    """The list query with its project's experiments' sessions read, when it leaves them
    out or keeps them alone (lamina.store.sessions_sql.experiment_sessions)."""
    if query.experiments == "include":
        return query
    rows = connection.query(
        "SELECT experiment_id FROM experiments WHERE project_id = ? ORDER BY experiment_id",
        [project_id],
    )
    runs = tuple(session_id(row["experiment_id"]) for row in rows)
    return dataclasses.replace(query, experiment_sessions=runs)


def put_experiment(connection: Connection, project_id: str, experiment: Experiment) -> Experiment:
    """Make the experiment, or answer the one of its id as stored."""
    with _lock:
        if get_experiment(connection, project_id, experiment.experiment_id) is None:
            connection.write(
                "INSERT INTO experiments VALUES (?, ?, ?, ?, ?, ?)",
                [
                    project_id,
                    experiment.experiment_id,
                    experiment.name,
                    experiment.group_name,
                    experiment.dataset,
                    experiment.created_ns,
                ],
            )
    stored = get_experiment(connection, project_id, experiment.experiment_id)
    assert stored is not None
    return stored


def get_experiment(
    connection: Connection, project_id: str, experiment_id: str
) -> Experiment | None:
    rows = connection.query(
        f"{_EXPERIMENTS} AND e.experiment_id = ?", [project_id, project_id, experiment_id]
    )
    return Experiment(**rows[0]) if rows else None


def list_experiments(
    connection: Connection, project_id: str, group: str | None, limit: int
) -> list[Experiment]:
    """Newest first."""
    where = ""
    params: list[Any] = [project_id, project_id]
    if group is not None:
        where = " AND e.group_name = ?"
        params.append(group)
    rows = connection.query(
        f"{_EXPERIMENTS}{where} ORDER BY e.created_ns DESC, e.experiment_id LIMIT ?",
        [*params, limit],
    )
    return [Experiment(**row) for row in rows]


def put_items(
    connection: Connection, project_id: str, experiment_id: str, items: Sequence[ExperimentItem]
) -> bool:
    """Add the items, each replacing the run's item of its index; False when the
    project has no experiment of that id."""
    with _lock:
        if get_experiment(connection, project_id, experiment_id) is None:
            return False
        if not items:
            return True
        with connection.transaction(_FAILURE) as con:
            con.execute(
                "DELETE FROM experiment_items WHERE project_id = ? AND experiment_id = ? "
                "AND list_contains(?::INTEGER[], item_index)",
                [project_id, experiment_id, [item.item_index for item in items]],
            )
            columns = item_columns(project_id, experiment_id, items)
            append(con, "experiment_items", pa.table(columns))
    return True


def list_items(connection: Connection, project_id: str, experiment_id: str) -> list[ExperimentItem]:
    """By index."""
    rows = connection.query(
        f"SELECT {_ITEMS} FROM experiment_items WHERE project_id = ? AND experiment_id = ? "
        "ORDER BY item_index",
        [project_id, experiment_id],
    )
    return [ExperimentItem(**row) for row in rows]


def find_item(
    connection: Connection, project_id: str, experiment_id: str, datapoint_id: str
) -> ExperimentItem | None:
    """The run's item a Laminar SDK gave this datapoint id (its lowest index, if two)."""
    rows = connection.query(
        f"SELECT {_ITEMS} FROM experiment_items WHERE project_id = ? AND experiment_id = ? "
        "AND datapoint_id = ? ORDER BY item_index LIMIT 1",
        [project_id, experiment_id, datapoint_id],
    )
    return ExperimentItem(**rows[0]) if rows else None


def delete_experiment(
    connection: Connection, project_id: str, experiment_id: str
) -> Experiment | None:
    with _lock:
        found = get_experiment(connection, project_id, experiment_id)
        if found is not None:
            with connection.transaction(_FAILURE) as con:
                for table in ("experiment_items", "experiments"):
                    con.execute(
                        f"DELETE FROM {table} WHERE project_id = ? AND experiment_id = ?",
                        [project_id, experiment_id],
                    )
    return found


class ExperimentRows:
    """The Store protocol's experiment methods, for the DuckDB store's class."""

    _connection: Connection

    def put_experiment(self, project_id: str, experiment: Experiment) -> Experiment:
        return put_experiment(self._connection, project_id, experiment)

    def get_experiment(self, project_id: str, experiment_id: str) -> Experiment | None:
        return get_experiment(self._connection, project_id, experiment_id)

    def list_experiments(self, project_id: str, group: str | None, limit: int) -> list[Experiment]:
        return list_experiments(self._connection, project_id, group, limit)

    def put_experiment_items(
        self, project_id: str, experiment_id: str, items: Sequence[ExperimentItem]
    ) -> bool:
        return put_items(self._connection, project_id, experiment_id, items)

    def list_experiment_items(self, project_id: str, experiment_id: str) -> list[ExperimentItem]:
        return list_items(self._connection, project_id, experiment_id)

    def find_experiment_item(
        self, project_id: str, experiment_id: str, datapoint_id: str
    ) -> ExperimentItem | None:
        return find_item(self._connection, project_id, experiment_id, datapoint_id)

    def delete_experiment(self, project_id: str, experiment_id: str) -> Experiment | None:
        return delete_experiment(self._connection, project_id, experiment_id)
