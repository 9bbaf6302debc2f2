"""Deletes: traces (one, a session's, those past a project's retention) and whole
projects, each in one transaction beside ingest. The caller holds the store lock, with
everything journaled stored first (lamina.store.duckdb.storer)."""

from __future__ import annotations

from typing import Any

from lamina.store.base import Deleted
from lamina.store.console import saved_queries_setting
from lamina.store.duckdb import comments, scores, shares
from lamina.store.duckdb.connection import Connection, one
from lamina.store.duckdb.fold import refresh_sessions

_FAILURE = "The store could not delete ({error})."


def delete_traces(
    connection: Connection,
    project_id: str,
    where: str,
    params: list[Any],
    session_id: str | None = None,
) -> Deleted:
    """The project's traces matching ``where``, their spans (and the values kept apart
    of those, lamina.store.duckdb.values), their scores, comments and stars, and a
    refresh of the sessions they were in, in one transaction (spans found by sequence
    range). With
    ``session_id`` (the session's traces), the session's own scores, end, comments and
    stars too."""
    with connection.transaction(_FAILURE) as con:
        connection.rollups.touch_project(project_id)
        if session_id is not None:
            scores.delete_of_session(con, project_id, session_id)
            comments.delete_of_session(con, project_id, session_id)
            shares.delete_of_session(con, project_id, session_id)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE doomed AS SELECT trace_id, session_id, "
            f"min_seq, max_seq FROM traces WHERE project_id = ? AND {where}",
            [project_id, *params],
        )
        row = con.execute("SELECT count(*), min(min_seq), max(max_seq) FROM doomed")
        traces, low, high = one(row) or (0, None, None)
        spans = 0
        if traces:
            deleted = one(
                con.execute(
                    "DELETE FROM spans WHERE seq BETWEEN ? AND ? AND project_id = ? "
                    "AND trace_id IN (SELECT trace_id FROM doomed)",
                    [low, high, project_id],
                )
            )
            spans = int(deleted[0]) if deleted else 0
            con.execute(
                "DELETE FROM span_values WHERE seq BETWEEN ? AND ? AND project_id = ? "
                "AND trace_id IN (SELECT trace_id FROM doomed)",
                [low, high, project_id],
            )
            con.execute(
                "CREATE OR REPLACE TEMP TABLE touched_sessions AS SELECT DISTINCT "
                "? AS project_id, session_id FROM doomed WHERE session_id IS NOT NULL",
                [project_id],
            )
            con.execute(
                "DELETE FROM traces WHERE project_id = ? "
                "AND trace_id IN (SELECT trace_id FROM doomed)",
                [project_id],
            )
            scores.delete_of_traces(con, project_id)
            comments.delete_of_traces(con, project_id)
            shares.delete_of_traces(con, project_id)
            refresh_sessions(con, -(2**63))  # from all their traces
        con.execute("DROP TABLE doomed")
    return Deleted(int(traces), spans)


def delete_project(connection: Connection, project_id: str) -> Deleted:
    """The project, its keys, and all its data."""
    with connection.transaction(_FAILURE) as con:
        connection.rollups.touch_project(project_id)
        row = con.execute("SELECT count(*) FROM traces WHERE project_id = ?", [project_id])
        traces = (one(row) or (0,))[0]
        row = con.execute("DELETE FROM spans WHERE project_id = ?", [project_id])
        spans = (one(row) or (0,))[0]
        con.execute("DELETE FROM span_values WHERE project_id = ?", [project_id])
        for table in (
            "traces",
            "sessions",
            "costliest_sessions",
            "user_totals",
            "api_keys",
            "request_digests",
            "scores",
            "session_score_totals",
            "trace_score_totals",
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
        ):
            con.execute(f"DELETE FROM {table} WHERE project_id = ?", [project_id])
        con.execute("DELETE FROM projects WHERE id = ?", [project_id])
        con.execute("DELETE FROM settings WHERE name = ?", [saved_queries_setting(project_id)])
    return Deleted(int(traces), int(spans))
