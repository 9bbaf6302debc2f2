"""SQL for the ClickHouse store's reads: one trace or session, their spans, and lists.

A trace's summary is the aggregate of its delta rows (``GROUP BY trace_id``
over ``traces``; see :mod:`lamina.store.clickhouse.schema`), so every read is
exact whether or not ClickHouse has merged the rows yet. Sessions are read
``FINAL`` (the newest version of each). Every list uses keyset pagination on
``(sort value, id)``. User values travel only as ``{name:Type}`` parameters.
"""

from __future__ import annotations

from typing import Any

from lamina.store.clickhouse import score_sql
from lamina.store.clickhouse.schema import ranked
from lamina.store.comments import StarKind
from lamina.store.experiments import SESSION_PREFIX
from lamina.store.queries import SessionQuery, TraceQuery
from lamina.store.rows import cut_fields
from lamina.store.sessions_sql import escape_like

# One row per trace of a project, from its delta rows. {where} narrows the rows
# read before aggregating (key columns only: the aggregate is then still whole).
_TRACE_AGGREGATE = f"""
SELECT trace_id,
    {ranked("session_r")} AS session_id,
    {ranked("user_r")} AS user_id,
    min(name_r).2 AS name,
    min(first_ns) AS start_ns,
    max(last_ns) AS end_ns,
    max(last_start_ns) AS last_start_ns,
    sum(span_n) AS span_count,
    sum(error_n) AS error_count,
    sum(in_tokens) AS input_tokens,
    sum(out_tokens) AS output_tokens,
    sum(cost_sum) AS cost,
    arraySort(groupUniqArrayArray(tag_set)) AS tags,
    minMap(meta_r) AS meta,
    {ranked("input_r")} AS input_preview,
    {ranked("output_r")} AS output_preview,
    groupUniqArrayArray(session_set) AS sessions_named
FROM traces
WHERE project_id = {{project:String}}{{where}}
GROUP BY trace_id
"""

TRACE_FIELDS = (
    "trace_id, session_id, user_id, name, start_ns, end_ns, span_count, error_count, "
    "input_tokens, output_tokens, cost, tags, mapKeys(meta) AS meta_keys, "
    "arrayMap(v -> v.2, mapValues(meta)) AS meta_values, input_preview, output_preview"
)
SPAN_FIELDS = (
    "span_id, parent_span_id, name, span_type, start_ns, end_ns, status, status_message, "
    "session_id, user_id, input, output, model, provider, input_tokens, output_tokens, cost, "
    "tags, metadata, attributes, events, resource, service_name"
)
SESSION_FIELDS = (
    "session_id, trace_count, span_count, start_ns, end_ns, active_ns, input_tokens, "
    "output_tokens, cost, user_ids, error_count, first_input, last_output"
)

_SESSIONS = (
    f"SELECT {SESSION_FIELDS} FROM sessions FINAL WHERE project_id = {{project:String}}{{where}}"
)


# A list's row starred by a user (parameters project and star_user): see
# lamina.store.clickhouse.comments.
STARRED = (
    "{key} IN (SELECT target_id FROM bookmarks FINAL WHERE project_id = {{project:String}} "
    "AND user_id = {{star_user:String}} AND kind = '{kind}')"
)


def trace_aggregate(where: str = "") -> str:
    return _TRACE_AGGREGATE.replace("{where}", where)


def sessions_view(where: str = "") -> str:
    return _SESSIONS.replace("{where}", where)


def one_trace() -> str:
    return (
        f"SELECT {TRACE_FIELDS}, last_start_ns FROM "
        f"({trace_aggregate(' AND trace_id = {trace:String}')})"
    )


# Spans of one trace: its summary bounds their start times, which (with the
# project) is a prefix of the spans' sort key.
ONE_TRACE_SPANS = (
    f"SELECT {SPAN_FIELDS} FROM spans WHERE project_id = {{project:String}} "
    "AND start_ns >= {first:Int64} AND start_ns <= {last:Int64} AND trace_id = {trace:String} "
    "ORDER BY start_ns, seq"
)

# The same, each large value cut (see lamina.store.rows.TRACE_VALUE_CHARS).
_CUT_SPAN_FIELDS = cut_fields(SPAN_FIELDS, "lengthUTF8({f})", "substringUTF8({f}, 1, {n})")
ONE_TRACE_CUT_SPANS = ONE_TRACE_SPANS.replace(SPAN_FIELDS, _CUT_SPAN_FIELDS, 1)


# Many traces at once: their summaries, then the spans of all of them, whose start
# times the summaries bound. A session's traces lie close together; between traces far
# apart, the trace_id key column and bloom filter skip the granules of other traces.
def many_traces() -> str:
    return (
        f"SELECT {TRACE_FIELDS}, last_start_ns FROM "
        f"({trace_aggregate(' AND trace_id IN {traces:Array(String)}')})"
    )


MANY_TRACES_CUT_SPANS = (
    f"SELECT trace_id, {_CUT_SPAN_FIELDS} FROM spans WHERE project_id = {{project:String}} "
    "AND start_ns >= {first:Int64} AND start_ns <= {last:Int64} "
    "AND trace_id IN {traces:Array(String)} ORDER BY trace_id, start_ns, seq"
)


def one_span_value(field: str) -> str:
    """One whole value of one span (``field`` one of lamina.store.rows.LARGE_FIELDS)."""
    return (
        f"SELECT {field} AS value FROM spans WHERE project_id = {{project:String}} "
        "AND start_ns >= {first:Int64} AND start_ns <= {last:Int64} "
        "AND trace_id = {trace:String} AND span_id = {span:String} LIMIT 1"
    )


IN_SESSION = (
    " AND trace_id IN (SELECT trace_id FROM session_traces "
    "WHERE project_id = {project:String} AND session_id = {session:String})"
)


# A session's spans without their payloads, for its timeline: its traces' ids and the
# range of their spans' start times (a prefix of the spans' sort key) come first.
SESSION_TRACE_BOUNDS = (
    "SELECT trace_id, start_ns, greatest(end_ns, last_start_ns) AS last_ns "
    f"FROM ({trace_aggregate(IN_SESSION)}) WHERE session_id = {{session:String}}"
)
SESSION_SPANS = (
    "SELECT trace_id, span_id, parent_span_id, name, span_type, start_ns, end_ns, status "
    "FROM spans WHERE project_id = {project:String} AND start_ns >= {first:Int64} "
    "AND start_ns <= {last:Int64} AND trace_id IN {traces:Array(String)} "
    "ORDER BY start_ns, span_id LIMIT {limit:UInt32}"
)


def session_traces() -> str:
    return (
        f"SELECT {TRACE_FIELDS} FROM ({trace_aggregate(IN_SESSION)}) "
        "WHERE session_id = {session:String} ORDER BY start_ns, trace_id"
    )


def one_session() -> str:
    """One session with its status (see score_sql.with_status)."""
    one = sessions_view(" AND session_id = {session:String}")
    return f"SELECT * FROM ({score_sql.with_status(one)}) WHERE trace_count > 0"


_SESSION_SORT = {
    "start_time": "start_ns",
    "end_time": "end_ns",
    "duration_ms": "(end_ns - start_ns)",
    "active_duration_ms": "active_ns",
    "trace_count": "trace_count",
    "span_count": "span_count",
    "total_tokens": "(coalesce(input_tokens, 0) + coalesce(output_tokens, 0))",
    "cost": "toFloat64(coalesce(cost, 0))",
    "error_count": "error_count",
    "session_id": "session_id",
    "user_id": "user_ids[1]",  # the first in order ("" for none); user_ids is sorted
    "score": "_score",  # score_sql.sort_join: NULL (last) without the score
}
_TRACE_SORT = {
    "start_time": "start_ns",
    "end_time": "end_ns",
    "duration_ms": "(end_ns - start_ns)",
    "span_count": "span_count",
    "total_tokens": "(coalesce(input_tokens, 0) + coalesce(output_tokens, 0))",
    "cost": "toFloat64(coalesce(cost, 0))",
    "name": "name",
    "session_id": "coalesce(session_id, '')",
    "user_id": "coalesce(user_id, '')",
    "score": "_score",
}
_SORT_TYPES = {
    "cost": "Float64",
    "name": "String",
    "session_id": "String",
    "user_id": "String",
    "score": "Float64",
}

# Traces with a span whose input or output contains {q} (case-insensitive).
_SEARCH = (
    "SELECT DISTINCT trace_id FROM spans WHERE project_id = {project:String} AND "
    "(positionCaseInsensitiveUTF8(input, {q:String}) > 0 "
    "OR positionCaseInsensitiveUTF8(output, {q:String}) > 0)"
)


def _page(
    inner: str,
    sort: str,
    descending: bool,
    key: str,
    cursor: Any,
    params: dict[str, Any],
    limit: int,
) -> str:
    direction = "DESC" if descending else "ASC"
    outer = ""
    if cursor is not None:
        op = "<" if descending else ">"
        kind = _SORT_TYPES.get(sort, "Int64")
        outer = (
            f"WHERE (_sort {op} {{cursor_value:{kind}}} OR "
            f"(_sort = {{cursor_value:{kind}}} AND {key} {op} {{cursor_key:String}}))"
        )
        if sort == "score":  # NULL (no score) comes after every value, in either order
            outer = f"WHERE (_sort IS NULL OR {outer[6:]})"
            if cursor.value is None:
                outer = f"WHERE _sort IS NULL AND {key} {op} {{cursor_key:String}}"
        params["cursor_value"] = cursor.value
        params["cursor_key"] = cursor.key
    params["limit"] = limit + 1
    return (
        f"SELECT * FROM ({inner}) {outer} "
        f"ORDER BY _sort {direction} NULLS LAST, {key} {direction} LIMIT {{limit:UInt32}}"
    )


def _metadata_matches(metadata: tuple[tuple[str, str], ...], params: dict[str, Any]) -> list[str]:
    """Conditions on an aggregated trace: its metadata holds each key with its value."""
    where = []
    for n, (key, value) in enumerate(metadata):
        # Values are stored as JSON text; a string compares by its contents.
        held = f"meta[{{mk{n}:String}}].2"
        where.append(
            f"mapContains(meta, {{mk{n}:String}}) AND "
            f"if(startsWith({held}, '\"'), JSONExtractString({held}), {held}) = {{mv{n}:String}}"
        )
        params[f"mk{n}"] = key
        params[f"mv{n}"] = value
    return where


def experiment_sessions(shown: str, column: str) -> list[str]:
    """The condition on ``column`` (a session id) of which experiments' sessions a list
    holds (lamina.store.queries.EXPERIMENTS_SHOWN), ``project`` in the parameters."""
    if shown == "include":
        return []
    runs = (
        f"SELECT concat('{SESSION_PREFIX}', experiment_id) FROM experiments FINAL "
        "WHERE project_id = {project:String}"
    )
    if shown == "only":
        return [f"{column} IN ({runs})"]
    return [f"ifNull({column}, '') NOT IN ({runs})"]


def session_filters(query: SessionQuery, params: dict[str, Any]) -> list[str]:
    """The conditions of a sessions query (on the sessions view), its parameters put
    in ``params``."""
    where = ["trace_count > 0"]
    if query.user_id is not None:
        where.append("has(user_ids, {user:String})")
        params["user"] = query.user_id
    if query.session_id_prefix is not None:
        where.append("startsWith(session_id, {session_prefix:String})")
        params["session_prefix"] = query.session_id_prefix
    where += experiment_sessions(query.experiments, "session_id")
    if query.q is not None:
        # the session id or a user id starts with q, or a span's input or output holds it
        matched = trace_aggregate(f" AND trace_id IN ({_SEARCH})")
        where.append(
            "(session_id ILIKE {q_prefix:String} "
            "OR arrayExists(u -> u ILIKE {q_prefix:String}, user_ids) "
            f"OR session_id IN (SELECT session_id FROM ({matched})))"
        )
        params["q"] = query.q
        params["q_prefix"] = escape_like(query.q) + "%"
    if query.tag is not None or query.metadata:
        # a session with a trace that has the tag and every metadata pair
        narrow = ""
        conditions = ["session_id IS NOT NULL", *_metadata_matches(query.metadata, params)]
        if query.tag is not None:
            narrow = (
                " AND trace_id IN (SELECT trace_id FROM traces "
                "WHERE project_id = {project:String} AND has(tag_set, {tag:String}))"
            )
            conditions.append("has(tags, {tag:String})")
            params["tag"] = query.tag
        where.append(
            f"session_id IN (SELECT session_id FROM ({trace_aggregate(narrow)}) "
            f"WHERE {' AND '.join(conditions)})"
        )
    for condition, name, kind, value in (
        ("end_ns >=", "since", "Int64", query.since_ns),
        ("start_ns <", "until", "Int64", query.until_ns),
        ("trace_count >=", "min_traces", "Int64", query.min_traces),
        ("toFloat64(coalesce(cost, 0)) >=", "min_cost", "Float64", query.min_cost),
        ("toFloat64(coalesce(cost, 0)) <=", "max_cost", "Float64", query.max_cost),
        ("end_ns - start_ns >=", "min_duration", "Int64", query.min_duration_ns),
        ("end_ns - start_ns <=", "max_duration", "Int64", query.max_duration_ns),
    ):
        if value is not None:
            where.append(f"{condition} {{{name}:{kind}}}")
            params[name] = value
    if query.has_errors is not None:
        where.append("error_count > 0" if query.has_errors else "error_count = 0")
    if query.status is not None:
        where.append("status = {status:String}")
        params["status"] = query.status
    where += score_sql.conditions("session_id", query.scores, query.has_scores, params)
    if query.starred_by is not None:
        where.append(STARRED.format(key="session_id", kind=StarKind.SESSION.value))
        params["star_user"] = query.starred_by
    return where


def list_sessions(
    project_id: str, query: SessionQuery, idle: dict[str, int]
) -> tuple[str, dict[str, Any]]:
    """``idle``: the parameters of score_sql.with_status (scores.idle)."""
    params: dict[str, Any] = {"project": project_id, **idle}
    where = session_filters(query, params)
    joined = ""
    if query.sort == "score":
        joined = score_sql.sort_join("session_id", query.score_sort or "", params)
    inner = (
        f"SELECT {SESSION_FIELDS}, ended_ns, status, {_SESSION_SORT[query.sort]} AS _sort "
        f"FROM ({score_sql.with_status(sessions_view())}) AS _rows{joined} "
        f"WHERE {' AND '.join(where)}"
    )
    sql = _page(
        inner, query.sort, query.descending, "session_id", query.cursor, params, query.limit
    )
    return sql, params


def count_sessions(
    project_id: str, query: SessionQuery, up_to: int, idle: dict[str, int]
) -> tuple[str, dict[str, Any]]:
    """How many sessions the query's filters select, counting no further than ``up_to``."""
    params: dict[str, Any] = {"project": project_id, "up_to": up_to, **idle}
    where = session_filters(query, params)
    sql = (
        f"SELECT count() AS n FROM (SELECT 1 FROM ({score_sql.with_status(sessions_view())}) "
        f"WHERE {' AND '.join(where)} LIMIT {{up_to:UInt64}})"
    )
    return sql, params


def list_traces(project_id: str, query: TraceQuery) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {"project": project_id}
    inner = filtered_traces(query, params, f"{TRACE_FIELDS}, {_TRACE_SORT[query.sort]} AS _sort")
    sql = _page(inner, query.sort, query.descending, "trace_id", query.cursor, params, query.limit)
    return sql, params


def filtered_traces(
    query: TraceQuery, params: dict[str, Any], fields: str, narrow: str = ""
) -> str:
    """``fields`` of the project's traces (aggregated) the query's filters select, its
    parameters put in ``params`` (``project`` set already); ``narrow``: a condition on
    key columns that the aggregated rows are read under first."""
    where = ["1"]
    if query.session_id is not None:
        narrow += IN_SESSION
        where.append("session_id = {session:String}")
        params["session"] = query.session_id
    else:
        where += experiment_sessions(query.experiments, "session_id")
    if query.q is not None:
        narrow += f" AND trace_id IN ({_SEARCH})"
        params["q"] = query.q
    for column, value in (("user_id", query.user_id), ("name", query.name)):
        if value is not None:
            where.append(f"{column} = {{{column}:String}}")
            params[column] = value
    if query.status == "error":
        where.append("error_count > 0")
    elif query.status == "ok":
        where.append("error_count = 0")
    if query.tag is not None:
        where.append("has(tags, {tag:String})")
        params["tag"] = query.tag
    where += _metadata_matches(query.metadata, params)
    if query.since_ns is not None:
        where.append("end_ns >= {since:Int64}")
        params["since"] = query.since_ns
    if query.until_ns is not None:
        where.append("start_ns < {until:Int64}")
        params["until"] = query.until_ns
    where += score_sql.conditions("trace_id", query.scores, query.has_scores, params)
    if query.starred_by is not None:
        where.append(STARRED.format(key="trace_id", kind=StarKind.TRACE.value))
        params["star_user"] = query.starred_by
    joined = ""
    if query.sort == "score":
        joined = score_sql.sort_join("trace_id", query.score_sort or "", params)
    return (
        f"SELECT {fields} "
        f"FROM ({trace_aggregate(narrow)}) AS _rows{joined} WHERE {' AND '.join(where)}"
    )
