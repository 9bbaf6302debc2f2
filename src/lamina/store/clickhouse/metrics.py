"""Metrics over time and distributions on the ClickHouse store (see lamina.store.metrics).

The same metrics as the DuckDB store's (lamina.store.duckdb.metrics), on the rows the
lists read: traces aggregated from their delta rows, sessions ``FINAL`` with their
status, both narrowed by the lists' filters (lamina.store.clickhouse.sql); spans only
for tokens, cost and spans by model. Percentiles are exact and interpolated
(``quantileExactInclusive``, as DuckDB's ``quantile_cont``). User values travel only
as ``{name:Type}`` parameters.
"""

from __future__ import annotations

from typing import Any

from lamina.store import rollups
from lamina.store.clickhouse import score_sql, sql
from lamina.store.clickhouse.connection import Connection
from lamina.store.clickhouse.scores import idle
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
    "sessions": "toFloat64(count())",
    "session_duration_p50": f"quantileExactInclusive(0.5)({_MS})",
    "session_duration_p95": f"quantileExactInclusive(0.95)({_MS})",
    "turns": "avg(trace_count)",
    "traces": "toFloat64(count())",
    "spans": "toFloat64(sum(span_count))",
    "errors": "toFloat64(countIf(error_count > 0))",
    "input_tokens": "toFloat64(sum(coalesce(input_tokens, 0)))",
    "output_tokens": "toFloat64(sum(coalesce(output_tokens, 0)))",
    "cost": "sum(toFloat64(coalesce(cost, 0)))",
    "error_rate": "avg(if(error_count > 0, 1.0, 0.0))",
    "latency_p50": f"quantileExactInclusive(0.5)({_MS})",
    "latency_p95": f"quantileExactInclusive(0.95)({_MS})",
    "active_users": "toFloat64(uniqExact(user_id))",
}
_SPAN_VALUES = {**_VALUES, "spans": "toFloat64(count())"}
_GROUPS = {
    Base.SESSIONS: {None: "NULL", "user_id": "arrayJoin(user_ids)"},
    Base.TRACES: {None: "NULL", "user_id": "user_id", "name": "name", "tag": "arrayJoin(tags)"},
}
_TRACE_COLUMNS = (
    "trace_id, user_id, name, start_ns, end_ns, span_count, error_count, input_tokens, "
    "output_tokens, cost, tags"
)
_DISTRIBUTED = {
    "turns": "toFloat64(trace_count)",
    "session_duration_ms": _MS,
    "session_cost": "toFloat64(coalesce(cost, 0))",
}
# The traces with a delta row that started in the range: every trace that started in it
# (its start is its earliest delta's), so the aggregate reads only those (whole).
_STARTED = (
    " AND trace_id IN (SELECT trace_id FROM traces WHERE project_id = {project:String} "
    "AND first_ns >= {m_since:Int64} AND first_ns < {m_until:Int64})"
)
_BUCKET = "intDiv({column} - {{m_since:Int64}}, {{m_step:Int64}})"
_IN_RANGE = "{column} >= {{m_since:Int64}} AND {column} < {{m_until:Int64}}"


def series(db: Connection, project_id: str, query: MetricQuery) -> dict[str, list[Cell]]:
    """Each of the query's metrics' cells (``query.metrics``), from one query; an
    unfiltered chart over traces from the buckets kept by hour (lamina.store.rollups,
    their stamps in lamina.store.clickhouse.stamps), reading only those that changed."""
    if rollups.kept(query):
        return db.rollups.series(project_id, query, lambda part: scan(db, project_id, part))
    return scan(db, project_id, query)


def scan(db: Connection, project_id: str, query: MetricQuery) -> dict[str, list[Cell]]:
    """The query's cells read from the stored rows."""
    params: dict[str, Any] = {
        "project": project_id,
        "m_since": query.since_ns,
        "m_step": query.interval_ns,
        "m_until": query.until_ns,
    }
    rows = db.query(top_groups(_series(db, project_id, query, params), query), params)
    return {
        metric.name: [
            Cell(row["grp"], int(row["b"]), float(row[f"v{n}"]))
            for row in rows
            if row[f"v{n}"] is not None
        ]
        for n, metric in enumerate(query.metrics)
    }


def _values(query: MetricQuery, values: dict[str, str]) -> str:
    return ", ".join(f"{values[m.name]} AS v{n}" for n, m in enumerate(query.metrics))


def _series(db: Connection, project_id: str, query: MetricQuery, params: dict[str, Any]) -> str:
    if query.metric.base is Base.SCORES:
        return _scores(db, project_id, query, params)
    bucket = _BUCKET.format(column="start_ns")
    in_range = _IN_RANGE.format(column="start_ns")
    if query.group_by == "model":
        return (
            f"SELECT toNullable(toString(model)) AS grp, {bucket} AS b, "
            f"{_values(query, _SPAN_VALUES)} "
            f"FROM spans WHERE project_id = {{project:String}} AND {in_range} "
            f"AND model IS NOT NULL{_traces_of(query.traces, params)} GROUP BY grp, b"
        )
    if query.metric.base is Base.SESSIONS:
        rows = _sessions(db, project_id, query.sessions, params)
    else:
        rows = sql.filtered_traces(query.traces, params, _TRACE_COLUMNS, _STARTED)
    group = _GROUPS[query.metric.base][query.group_by]
    keep = "" if query.group_by is None else "WHERE grp IS NOT NULL "
    return (
        f"SELECT grp, b, {_values(query, _VALUES)} FROM (SELECT *, toNullable({group}) AS grp, "
        f"{bucket} AS b FROM ({rows}) WHERE {in_range}) {keep}GROUP BY grp, b"
    )


def _sessions(db: Connection, project_id: str, query: SessionQuery, params: dict[str, Any]) -> str:
    """The project's sessions (with their status) the filters select."""
    params.update(idle(db, project_id))
    where = sql.session_filters(query, params)
    return (
        f"SELECT * FROM ({score_sql.with_status(sql.sessions_view())}) WHERE {' AND '.join(where)}"
    )


def _traces_of(query: TraceQuery, params: dict[str, Any]) -> str:
    """`` AND trace_id IN (the traces the filters select)``; nothing without filters."""
    if query == TraceQuery():
        return ""
    chosen = sql.filtered_traces(query, params, "trace_id")
    return f" AND trace_id IN (SELECT trace_id FROM ({chosen}))"


def _scores(db: Connection, project_id: str, query: MetricQuery, params: dict[str, Any]) -> str:
    """A score's session is the one it names, or its trace's: the filters select those."""
    kind, _, params["score_name"] = query.metric.name.partition(":")
    narrow = ""
    if query.sessions != SessionQuery():
        chosen = f"SELECT session_id FROM ({_sessions(db, project_id, query.sessions, params)})"
        narrow = (
            f" AND (session_id IN ({chosen}) OR trace_id IN (SELECT trace_id FROM session_traces "
            f"WHERE project_id = {{project:String}} AND session_id IN ({chosen})))"
        )
    rows = (
        f"SELECT *, {_BUCKET.format(column='created_ns')} AS b FROM scores FINAL "
        "WHERE project_id = {project:String} AND name = {score_name:String} "
        f"AND {_IN_RANGE.format(column='created_ns')}{narrow}"
    )
    if kind == "score":
        return f"SELECT NULL AS grp, b, avg(value) AS v0 FROM ({rows}) GROUP BY b"
    return (
        "SELECT label AS grp, b, count() / sum(count()) OVER (PARTITION BY b) AS v0 "
        f"FROM ({rows}) WHERE label IS NOT NULL GROUP BY label, b"
    )


def distribution(
    db: Connection, project_id: str, query: DistributionQuery
) -> list[HistogramBucket]:
    params: dict[str, Any] = {
        "project": project_id,
        "m_since": query.since_ns,
        "m_until": query.until_ns,
    }
    rows = _sessions(db, project_id, query.sessions, params)
    values = (
        f"SELECT {_DISTRIBUTED[query.metric]} AS v FROM ({rows}) "
        f"WHERE {_IN_RANGE.format(column='start_ns')}"
    )
    (spread,) = db.query(f"SELECT min(v) AS lo, max(v) AS hi, count() AS n FROM ({values})", params)
    if not spread["n"]:
        return []
    lowest, highest = float(spread["lo"]), float(spread["hi"])
    width = bin_width(lowest, highest, whole=query.metric == "turns")
    start = bin_start(lowest, width)
    counted = db.query(
        f"SELECT toInt64(floor((v - {{h_start:Float64}}) / {{h_width:Float64}} + {EDGE})) AS i, "
        f"count() AS n FROM ({values}) GROUP BY i",
        {**params, "h_start": start, "h_width": width},
    )
    return bins(start, width, {int(row["i"]): int(row["n"]) for row in counted})
