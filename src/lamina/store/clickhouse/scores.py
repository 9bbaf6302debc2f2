"""Scores, score configs and the end of sessions on the ClickHouse store (issue #19).

Each is a row in a versioned table (see :mod:`lamina.store.clickhouse.schema`), so
nothing is read before a score is written: a client's retry of a ``score_id`` is a
second row that ``FINAL`` reads fold into the first one (its version is higher), and
any number of servers can add scores at once. What a session or trace has is
summed up when read (:mod:`lamina.store.clickhouse.score_sql`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

import orjson
import pyarrow as pa

from lamina.store.base import Project, Row
from lamina.store.clickhouse import score_sql
from lamina.store.clickhouse.catalog import find_project
from lamina.store.clickhouse.connection import Connection
from lamina.store.queries import Cursor, Page
from lamina.store.scores import Category, Score, ScoreConfig, ScoreQuery, ScoreType

# The sort a page of scores names in its cursor: newest first, (created_ns, score_id).
SCORES_SORT = "created"
_MINUTE_NS = 60 * 1_000_000_000
_DEFAULT_IDLE_MINUTES = Project(id="", name="", created_ns=0).session_idle_minutes

_SCORE_TYPES = {
    "score_id": pa.string(),
    "name": pa.string(),
    "value": pa.float64(),
    "label": pa.string(),
    "source": pa.string(),
    "author": pa.string(),
    "session_id": pa.string(),
    "trace_id": pa.string(),
    "span_id": pa.string(),
    "comment": pa.string(),
    "created_ns": pa.int64(),
}


# -- scores ----------------------------------------------------------------------------------
def add_scores(db: Connection, project_id: str, scores: Sequence[Score]) -> None:
    """One insert, acknowledged once ClickHouse has it. The first row of a score_id
    wins (in a batch and across retries): its version is the highest. A score on a
    stored trace keeps the trace's session (``trace_session``); one on a trace not
    stored yet gets it from the write that stores the trace (score_sql.RESOLVE)."""
    if not scores:
        return
    with db.write_lock:  # a write of their traces sees them, or they see it
        trace_ids = sorted({score.trace_id for score in scores if score.trace_id})
        sessions: dict[str, str | None] = {}
        if trace_ids:
            found = db.query(score_sql.TRACE_SESSIONS, {"project": project_id, "ids": trace_ids})
            sessions = {row["trace_id"]: row["session"] for row in found}
        first = db.tick(len(scores))
        columns: dict[str, pa.Array] = {
            "project_id": pa.array([project_id] * len(scores), pa.string())
        }
        for field, kind in _SCORE_TYPES.items():
            columns[field] = pa.array([getattr(score, field) for score in scores], kind)
        columns["version"] = pa.array([-(first + n) for n in range(len(scores))], pa.int64())
        columns["trace_session"] = pa.array(
            [sessions.get(score.trace_id or "") for score in scores], pa.string()
        )
        db.insert("scores", pa.table(columns), "scores")
        missed = [(project_id, trace_id) for trace_id in trace_ids if trace_id not in sessions]
        if missed:  # stored meanwhile by another server's write, which missed these scores
            db.execute(score_sql.RESOLVE, {"keys": missed})


def list_scores(db: Connection, project_id: str, query: ScoreQuery) -> Page[Score]:
    params: dict[str, Any] = {"project": project_id, "limit": query.limit + 1}
    narrow = ""
    for column, kind, value in (
        ("name", "String", query.name),
        ("source", "String", query.source),
        ("trace_id", "String", query.trace_id),
    ):
        if value is not None:
            narrow += f" AND {column} = {{{column}:{kind}}}"
            params[column] = value
    if query.since_ns is not None:
        narrow += " AND created_ns >= {since:Int64}"
        params["since"] = query.since_ns
    if query.until_ns is not None:
        narrow += " AND created_ns < {until:Int64}"
        params["until"] = query.until_ns
    if query.cursor is not None:
        narrow += " AND (created_ns, score_id) < ({after_ns:Int64}, {after_id:String})"
        params["after_ns"] = query.cursor.value
        params["after_id"] = query.cursor.key
    if query.session_id is not None:
        text = score_sql.session_scores(narrow)
        params["session"] = query.session_id
    else:
        text = f"{score_sql.scores(narrow)} ORDER BY created_ns DESC, score_id DESC"
    rows = db.query(f"{text} LIMIT {{limit:UInt32}}", params)
    items = [Score(**row) for row in rows[: query.limit]]
    cursor = None
    if len(rows) > query.limit:
        last = items[-1]
        cursor = Cursor(SCORES_SORT, last.created_ns, last.score_id).encode()
    return Page(items, cursor)


def delete_score(db: Connection, project_id: str, score_id: str) -> Score | None:
    params = {"project": project_id, "score": score_id}
    with db.write_lock:
        rows = db.query(score_sql.scores(" AND score_id = {score:String}"), params)
        if not rows:
            return None
        db.execute(
            "DELETE FROM scores WHERE project_id = {project:String} AND score_id = {score:String}",
            params,
        )
    return Score(**rows[0])


# -- what reads add to sessions and traces ---------------------------------------------------
def summaries(db: Connection, project_id: str, text: str, ids: Iterable[str]) -> dict[str, Row]:
    """``{id: {name: {"avg", "count", "labels"?}}}`` for the sessions or traces ``ids``
    (``text``: score_sql.SESSION_SUMMARIES or TRACE_SUMMARIES); none for those
    without scores."""
    wanted = list(dict.fromkeys(ids))
    found: dict[str, Row] = {}
    if not wanted:
        return found
    rows = db.query(text + " ORDER BY id, name", {"project": project_id, "ids": wanted})
    for row in rows:
        entry: dict[str, Any] = {"avg": row["avg"], "count": int(row["n"])}
        labels = [label for label in row["labels"] if label is not None]
        if labels:
            entry["labels"] = sorted(labels)
        found.setdefault(row["id"], {})[row["name"]] = entry
    return found


def with_summaries(db: Connection, project_id: str, rows: list[Row], key: str) -> list[Row]:
    """``rows`` (sessions or traces, by ``key``), each given its ``score_summary``."""
    text = score_sql.SESSION_SUMMARIES if key == "session_id" else score_sql.TRACE_SUMMARIES
    found = summaries(db, project_id, text, [row[key] for row in rows])
    for row in rows:
        row["score_summary"] = found.get(row[key], {})
    return rows


def session_scores(db: Connection, project_id: str, session_id: str) -> list[Row]:
    """The session's own scores and its traces', newest first, as dicts."""
    params = {"project": project_id, "session": session_id}
    return db.query(score_sql.session_scores(), params)


def trace_scores(db: Connection, project_id: str, trace_ids: Sequence[str]) -> dict[str, list[Row]]:
    """Each trace's scores (its spans' too), newest first, as dicts."""
    found: dict[str, list[Row]] = {trace: [] for trace in trace_ids}
    if trace_ids:
        params = {"project": project_id, "ids": list(trace_ids)}
        for row in db.query(score_sql.TRACE_SCORES, params):
            found[row["trace_id"]].append(row)
    return found


def idle(db: Connection, project_id: str) -> dict[str, int]:
    """The parameters of score_sql.with_status: the project's idle time
    (``idle_ns``) and now less it (``idle_cutoff``)."""
    project = find_project(db, project_id)
    minutes = _DEFAULT_IDLE_MINUTES
    if project is not None and project.id == project_id:
        minutes = project.session_idle_minutes
    return {"idle_ns": minutes * _MINUTE_NS, "idle_cutoff": time.time_ns() - minutes * _MINUTE_NS}


# -- configs ---------------------------------------------------------------------------------
_CONFIG_FIELDS = "name, type, min, max, categories, description, created_ns"


def put_score_config(db: Connection, project_id: str, config: ScoreConfig) -> ScoreConfig:
    if not config.created_ns:
        config = replace(config, created_ns=db.tick())
    db.execute(
        "INSERT INTO score_configs VALUES ({project:String}, {name:String}, {type:String}, "
        "{min:Nullable(Float64)}, {max:Nullable(Float64)}, {categories:String}, "
        "{description:Nullable(String)}, {created:Int64}, {version:Int64})",
        {
            "project": project_id,
            "name": config.name,
            "type": str(config.type),
            "min": config.min,
            "max": config.max,
            "categories": orjson.dumps([[c.label, c.value] for c in config.categories]).decode(),
            "description": config.description,
            "created": config.created_ns,
            "version": db.tick(),
        },
    )
    return config


def list_score_configs(db: Connection, project_id: str) -> list[ScoreConfig]:
    return _configs(db, project_id, "", {})


def delete_score_config(db: Connection, project_id: str, name: str) -> ScoreConfig | None:
    found = _configs(db, project_id, " AND name = {name:String}", {"name": name})
    if not found:
        return None
    db.execute(
        "DELETE FROM score_configs WHERE project_id = {project:String} AND name = {name:String}",
        {"project": project_id, "name": name},
    )
    return found[0]


def _configs(
    db: Connection, project_id: str, narrow: str, params: dict[str, Any]
) -> list[ScoreConfig]:
    rows = db.query(
        f"SELECT {_CONFIG_FIELDS} FROM score_configs FINAL "
        f"WHERE project_id = {{project:String}}{narrow} ORDER BY name",
        {"project": project_id, **params},
    )
    return [
        ScoreConfig(
            name=row["name"],
            type=ScoreType(row["type"]),
            min=row["min"],
            max=row["max"],
            categories=tuple(
                Category(label, value) for label, value in orjson.loads(row["categories"])
            ),
            description=row["description"],
            created_ns=int(row["created_ns"]),
        )
        for row in rows
    ]


# -- the end of sessions ---------------------------------------------------------------------
def end_session(db: Connection, project_id: str, session_id: str, ended_ns: int) -> None:
    """Kept for a session not seen yet; the first end wins (the highest version)."""
    db.execute(
        "INSERT INTO session_ends VALUES ({project:String}, {session:String}, {at:Int64}, "
        "{version:Int64})",
        {"project": project_id, "session": session_id, "at": ended_ns, "version": -db.tick()},
    )


def set_session_idle_minutes(db: Connection, project_id: str, minutes: int) -> Project | None:
    db.execute(
        "ALTER TABLE projects UPDATE session_idle_minutes = {minutes:Int32} "
        "WHERE id = {project:String} SETTINGS mutations_sync = 2",
        {"project": project_id, "minutes": minutes},
    )
    found = find_project(db, project_id)
    return found if found is not None and found.id == project_id else None
