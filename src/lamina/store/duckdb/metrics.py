"""Metrics over time and distributions on the DuckDB store (see lamina.store.metrics).

Each reads one summary table (``sessions`` or ``traces``, kept at ingest), or ``scores``;
only tokens, cost and spans by model read ``spans``. The list filters are those of the
lists (lamina.store.sessions_sql), so a chart and the list it opens agree. Built as
text plus parameters; no user value is ever formatted into the SQL.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lamina.store import rollups, sessions_sql
from lamina.store.duckdb.connection import Connection
from lamina.store.duckdb.experiments import with_runs
from lamina.store.metrics import (
    EDGE,
    Base,
    Cell,
    DistributionQuery,
    HistogramBucket,
    MetricQuery,
    bin_start,
    bin_width,
    bins,
    top_groups,
)
from lamina.store.queries import SessionQuery, TraceQuery

_MS = "(end_ns - start_ns) / 1e6"
_VALUES = {
    "sessions": "count(*)",
    "session_duration_p50": f"quantile_cont({_MS}, 0.5)",
    "session_duration_p95": f"quantile_cont({_MS}, 0.95)",
    "turns": "avg(trace_count)",
    "traces": "count(*)",
    "spans": "sum(span_count)",
    "errors": "count_if(error_count > 0)",
    "input_tokens": "sum(coalesce(input_tokens, 0))",
    "output_tokens": "sum(coalesce(output_tokens, 0))",
    "cost": "sum(coalesce(cost, 0))",
    "error_rate": "avg(CASE WHEN error_count > 0 THEN 1.0 ELSE 0.0 END)",
    "latency_p50": f"quantile_cont({_MS}, 0.5)",
    "latency_p95": f"quantile_cont({_MS}, 0.95)",
    "active_users": "count(DISTINCT user_id)",
}
# spans by model: each span once
_SPAN_VALUES = {**_VALUES, "spans": "count(*)"}
_GROUPS = {
    Base.SESSIONS: {None: "NULL", "user_id": "unnest(user_ids)"},
    Base.TRACES: {None: "NULL", "user_id": "user_id", "name": "name", "tag": "unnest(tags)"},
}
_DISTRIBUTED = {
    "turns": "trace_count",
    "session_duration_ms": _MS,
    "session_cost": "coalesce(cost, 0)",
}


def series(connection: Connection, project_id: str, query: MetricQuery) -> dict[str, list[Cell]]:
    """Each of the query's metrics' cells (``query.metrics``), from one query; an
    unfiltered chart over traces from the buckets kept by hour (lamina.store.rollups),
    reading only those whose hours changed."""
    query = dataclasses.replace(
        query,
        sessions=with_runs(connection, project_id, query.sessions),
        traces=with_runs(connection, project_id, query.traces),
    )
    if rollups.kept(query):
        return connection.rollups.series(
            project_id, query, lambda part: scan(connection, project_id, part)
        )
    return scan(connection, project_id, query)


def scan(connection: Connection, project_id: str, query: MetricQuery) -> dict[str, list[Cell]]:
    """The query's cells read from the summary tables (its experiments' sessions read)."""
    sql, params = series_sql(project_id, query)
    rows = connection.query(top_groups(sql, query, materialize=True), params)
    return {
        metric.name: [
            Cell(row["grp"], int(row["b"]), float(row[f"v{n}"]))
            for row in rows
            if row[f"v{n}"] is not None
        ]
        for n, metric in enumerate(query.metrics)
    }


def series_sql(project_id: str, query: MetricQuery) -> tuple[str, list[Any]]:
    bucket = [query.since_ns, query.interval_ns]
    bounds = [query.since_ns, query.until_ns]
    if query.metric.base is Base.SCORES:
        return _scores(project_id, query)
    if query.group_by == "model":
        narrow, params = _traces_of(project_id, query.traces)
        sql = (
            f"SELECT model AS grp, (start_ns - ?) // ? AS b, {_values(query, _SPAN_VALUES)} "
            "FROM spans WHERE project_id = ? AND start_ns >= ? AND start_ns < ? "
            f"AND model IS NOT NULL{narrow} GROUP BY grp, b"
        )
        return sql, [*bucket, project_id, *bounds, *params]
    if query.metric.base is Base.SESSIONS:
        table, (where, params) = "sessions", _session_where(project_id, query.sessions)
    else:
        table, (where, params) = "traces", sessions_sql.trace_filters(project_id, query.traces)
    group = _GROUPS[query.metric.base][query.group_by]
    rows = (
        f"SELECT *, {group} AS grp, (start_ns - ?) // ? AS b FROM {table} "
        f"WHERE {' AND '.join(where)} AND start_ns >= ? AND start_ns < ?"
    )
    sql = (
        f"SELECT grp, b, {_values(query, _VALUES)} FROM ({rows}) "
        f"{'' if query.group_by is None else 'WHERE grp IS NOT NULL '}GROUP BY grp, b"
    )
    return sql, [*bucket, *params, *bounds]


def _values(query: MetricQuery, values: dict[str, str]) -> str:
    return ", ".join(f"{values[m.name]} AS v{n}" for n, m in enumerate(query.metrics))


def _session_where(project_id: str, query: SessionQuery) -> tuple[list[str], list[Any]]:
    where, params = sessions_sql.session_filters(project_id, query)
    return [*where, "trace_count > 0"], params


def _traces_of(project_id: str, query: TraceQuery) -> tuple[str, list[Any]]:
    """`` AND trace_id IN (the traces the filters select)``; nothing without filters."""
    where, params = sessions_sql.trace_filters(project_id, query)
    if len(where) == 1:  # the project alone
        return "", []
    return f" AND trace_id IN (SELECT trace_id FROM traces WHERE {' AND '.join(where)})", params


def _scores(project_id: str, query: MetricQuery) -> tuple[str, list[Any]]:
    """A score's session is the one it names, or its trace's: the filters select those."""
    kind, _, score_name = query.metric.name.partition(":")
    where, params = _session_where(project_id, query.sessions)
    narrow: list[Any] = []
    sessions = ""
    if len(where) > 2:  # more than the project and "has traces"
        chosen = f"SELECT session_id FROM sessions WHERE {' AND '.join(where)}"
        sessions = f" AND (session_id IN ({chosen}) OR trace_session IN ({chosen}))"
        narrow = [*params, *params]
    rows = (
        "SELECT *, (created_ns - ?) // ? AS b FROM scores WHERE project_id = ? AND name = ? "
        f"AND created_ns >= ? AND created_ns < ?{sessions}"
    )
    values = [query.since_ns, query.interval_ns, project_id, score_name]
    values += [query.since_ns, query.until_ns, *narrow]
    if kind == "score":
        return f"SELECT NULL AS grp, b, avg(value) AS v0 FROM ({rows}) GROUP BY b", values
    shares = (
        "SELECT label AS grp, b, count(*) / sum(count(*)) OVER (PARTITION BY b) AS v0 "
        f"FROM ({rows}) WHERE label IS NOT NULL GROUP BY label, b"
    )
    return shares, values


def distribution(
    connection: Connection, project_id: str, query: DistributionQuery
) -> list[HistogramBucket]:
    where, params = _session_where(project_id, with_runs(connection, project_id, query.sessions))
    values = (
        f"SELECT {_DISTRIBUTED[query.metric]} AS v FROM sessions "
        f"WHERE {' AND '.join(where)} AND start_ns >= ? AND start_ns < ?"
    )
    params = [*params, query.since_ns, query.until_ns]
    (spread,) = connection.query(f"SELECT min(v) AS lo, max(v) AS hi FROM ({values})", params)
    if spread["lo"] is None:
        return []
    lowest, highest = float(spread["lo"]), float(spread["hi"])
    width = bin_width(lowest, highest, whole=query.metric == "turns")
    start = bin_start(lowest, width)
    counted = connection.query(
        f"SELECT floor((v - ?) / ? + {EDGE}) AS i, count(*) AS n FROM ({values}) GROUP BY i",
        [start, width, *params],
    )
    return bins(start, width, {int(row["i"]): int(row["n"]) for row in counted})
