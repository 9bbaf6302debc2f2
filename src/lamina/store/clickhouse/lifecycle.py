"""Deleting traces (one, several, a session's), sessions and projects, and each
project's retention.

ClickHouse has no multi-table transactions: a delete is several lightweight
DELETEs (each visible at once) and a refresh of the sessions that lost a trace.
One that fails part-way is reported; running it again finishes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lamina.store.base import Deleted, Project
from lamina.store.clickhouse import comments, shares, sql, stamps
from lamina.store.clickhouse.catalog import find_project
from lamina.store.clickhouse.connection import Connection
from lamina.store.clickhouse.fold import REFRESH_SESSIONS
from lamina.store.clickhouse.reads import count_spans
from lamina.store.console import saved_queries_setting
from lamina.store.shares import ShareKind

_DELETE_CHUNK = 5_000


def _doomed_traces(narrow: str, where: str) -> str:
    """Traces a delete takes: their bounds (to find their spans) and sessions."""
    return (
        "SELECT trace_id, start_ns, greatest(end_ns, last_start_ns) AS last_ns, sessions_named "
        f"FROM ({sql.trace_aggregate(narrow)}) WHERE {where}"
    )


def delete_trace(db: Connection, project_id: str, trace_id: str) -> Deleted:
    narrow = " AND trace_id = {trace:String}"
    return _delete_traces(db, project_id, narrow, "1", {"trace": trace_id})


def delete_traces(db: Connection, project_id: str, trace_ids: Sequence[str]) -> Deleted:
    if not trace_ids:
        return Deleted(0, 0)
    narrow = " AND trace_id IN {traces:Array(String)}"
    return _delete_traces(db, project_id, narrow, "1", {"traces": list(trace_ids)})


def delete_session(db: Connection, project_id: str, session_id: str) -> Deleted:
    where = "session_id = {session:String}"
    deleted = _delete_traces(db, project_id, sql.IN_SESSION, where, {"session": session_id})
    with db.write_lock:  # scores given before any trace arrived, too
        _forget_sessions(db, project_id, [session_id])
    return deleted


def delete_before(db: Connection, project_id: str, before_ns: int) -> Deleted:
    return _delete_traces(db, project_id, "", "end_ns < {before:Int64}", {"before": before_ns})


def _delete_traces(
    db: Connection, project_id: str, narrow: str, where: str, params: dict[str, Any]
) -> Deleted:
    with db.write_lock:
        doomed = db.query(_doomed_traces(narrow, where), {"project": project_id, **params})
        spans = 0
        touched: set[str] = set()
        for start in range(0, len(doomed), _DELETE_CHUNK):
            chunk = doomed[start : start + _DELETE_CHUNK]
            chunk_params = {
                "project": project_id,
                "ids": [row["trace_id"] for row in chunk],
                "low": min(row["start_ns"] for row in chunk),
                "high": max(row["last_ns"] for row in chunk),
            }
            in_chunk = "project_id = {project:String} AND trace_id IN {ids:Array(String)}"
            of_spans = f"{in_chunk} AND start_ns BETWEEN {{low:Int64}} AND {{high:Int64}}"
            counted = db.query(f"SELECT count() AS n FROM spans WHERE {of_spans}", chunk_params)
            spans += int(counted[0]["n"])
            db.execute(f"DELETE FROM scores WHERE {in_chunk}", chunk_params)
            db.execute(f"DELETE FROM spans WHERE {of_spans}", chunk_params)
            db.execute(f"DELETE FROM traces WHERE {in_chunk}", chunk_params)
            db.execute(f"DELETE FROM session_traces WHERE {in_chunk}", chunk_params)
            comments.forget_traces(db, project_id, chunk_params["ids"])
            shares.forget(db, project_id, ShareKind.TRACE, chunk_params["ids"])
            for row in chunk:
                touched.update(row["sessions_named"])
        names = sorted(touched)
        for start in range(0, len(names), _DELETE_CHUNK):
            db.execute(
                REFRESH_SESSIONS,
                {"project": project_id, "sessions": names[start : start + _DELETE_CHUNK]},
            )
        if doomed:
            stamps.every_hour(db, project_id)
    return Deleted(len(doomed), spans)


def _forget_sessions(db: Connection, project_id: str, sessions: list[str]) -> None:
    """The scores given to deleted sessions, their ends, comments and stars. (A session
    that only lost its traces, to retention or trace deletes, keeps its own scores.)"""
    if not sessions:
        return
    params = {"project": project_id, "sessions": sessions}
    of_sessions = "project_id = {project:String} AND session_id IN {sessions:Array(String)}"
    db.execute(f"DELETE FROM scores WHERE {of_sessions}", params)
    db.execute(f"DELETE FROM session_ends WHERE {of_sessions}", params)
    comments.forget_sessions(db, project_id, sessions)
    shares.forget(db, project_id, ShareKind.SESSION, sessions)


def delete_project(db: Connection, project_id: str) -> Deleted:
    params = {"project": project_id}
    with db.write_lock:
        traces = db.query(
            "SELECT uniqExact(trace_id) AS n FROM traces WHERE project_id = {project:String}",
            params,
        )[0]["n"]
        spans = count_spans(db, project_id)
        tables = (
            "spans",
            "traces",
            "session_traces",
            "sessions",
            "api_keys",
            "request_digests",
            "scores",
            "score_configs",
            "session_ends",
            "comments",
            "bookmarks",
            "shares",
            "evaluators",
            "evaluator_runs",
            "datasets",
            "dataset_items",
            "experiments",
            "experiment_items",
            "chart_stamps",
        )
        for table in tables:
            db.execute(f"DELETE FROM {table} WHERE project_id = {{project:String}}", params)
        stamps.every_hour(db, project_id)  # its one row left: no server's charts kept
        db.execute("DELETE FROM projects WHERE id = {project:String}", params)
        db.execute(
            "DELETE FROM settings WHERE name = {saved:String}",
            {"saved": saved_queries_setting(project_id)},
        )
    return Deleted(int(traces), spans)


def set_retention(db: Connection, project_id: str, days: int | None) -> Project | None:
    db.execute(
        "ALTER TABLE projects UPDATE retention_days = {days:Nullable(Int32)} "
        "WHERE id = {project:String} SETTINGS mutations_sync = 2",
        {"project": project_id, "days": days},
    )
    found = find_project(db, project_id)
    return found if found is not None and found.id == project_id else None
