"""A project's score configs on the DuckDB store, and the cache the score requests
check each score against (lamina.store.duckdb.store keeps one)."""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

import orjson

from lamina.store.duckdb.connection import Connection
from lamina.store.scores import Category, ScoreConfig, ScoreType

_CONFIG = "name, type, min, max, categories, description, created_ns"


class ConfigCache:
    """The projects' score configs, each project's read once and kept until a config
    changes: every change goes through this process (the DuckDB file is its alone), so
    the score requests, which check each score against them, do not read them each time."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._lock = threading.Lock()
        self._kept: dict[str, tuple[ScoreConfig, ...]] = {}
        self._changes = 0  # a read begun before a change does not keep what it found

    def cached(self, project_id: str) -> list[ScoreConfig] | None:
        """The project's configs if they are kept, else None (no read)."""
        with self._lock:
            kept = self._kept.get(project_id)
        return None if kept is None else list(kept)

    def list(self, project_id: str) -> list[ScoreConfig]:
        with self._lock:
            kept, changes = self._kept.get(project_id), self._changes
        if kept is not None:
            return list(kept)
        found = list_score_configs(self._connection, project_id)
        with self._lock:
            if changes == self._changes:
                self._kept[project_id] = tuple(found)
        return found

    def forget(self) -> None:
        """After a change of configs (the change made before this is called)."""
        with self._lock:
            self._kept.clear()
            self._changes += 1


def put_score_config(connection: Connection, project_id: str, config: ScoreConfig) -> ScoreConfig:
    if not config.created_ns:
        config = dataclasses.replace(config, created_ns=time.time_ns())
    categories = [{"label": c.label, "value": c.value} for c in config.categories]
    connection.write(
        f"INSERT OR REPLACE INTO score_configs (project_id, {_CONFIG}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            project_id,
            config.name,
            config.type.value,
            config.min,
            config.max,
            orjson.dumps(categories).decode(),
            config.description,
            config.created_ns,
        ],
    )
    return config


def list_score_configs(connection: Connection, project_id: str) -> list[ScoreConfig]:
    rows = connection.query(
        f"SELECT {_CONFIG} FROM score_configs WHERE project_id = ? ORDER BY name", [project_id]
    )
    return [_config(row) for row in rows]


def delete_score_config(connection: Connection, project_id: str, name: str) -> ScoreConfig | None:
    with connection.transaction("The store could not delete the score config ({error}).") as con:
        cursor = con.execute(
            f"DELETE FROM score_configs WHERE project_id = ? AND name = ? RETURNING {_CONFIG}",
            [project_id, name],
        )
        names = [column[0] for column in cursor.description or ()]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return _config(rows[0]) if rows else None


def _config(row: dict[str, Any]) -> ScoreConfig:
    categories = tuple(Category(c["label"], c["value"]) for c in orjson.loads(row["categories"]))
    return ScoreConfig(
        name=row["name"],
        type=ScoreType(row["type"]),
        min=row["min"],
        max=row["max"],
        categories=categories,
        description=row["description"],
        created_ns=row["created_ns"],
    )


__all__ = [
    "ConfigCache",
    "delete_score_config",
    "list_score_configs",
    "put_score_config",
]
