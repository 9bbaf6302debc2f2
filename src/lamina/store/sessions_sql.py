"""SQL for reading sessions and traces: the lists, searches, one session, one trace.

Session summaries are kept at ingest (:mod:`lamina.store.duckdb.fold_sql`), so
reading a sessions page never aggregates anything. Every list uses keyset
pagination on ``(sort value, id)``. Built as text plus parameters; no
user value is ever formatted into the SQL.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from lamina.store import scores_sql
from lamina.store.comments import StarKind, starred_condition
from lamina.store.experiments import SESSION_PREFIX
from lamina.store.queries import SessionQuery, TraceQuery

TRACE_FIELDS = (
    "trace_id, session_id, user_id, name, start_ns, end_ns, span_count, error_count, "
    "input_tokens, output_tokens, cost, tags, metadata, input_preview, output_preview"
)
# A trace's row as a check reads it: without the previews (lamina.store.duckdb.check_reads)
CHECK_TRACE_FIELDS = TRACE_FIELDS.removesuffix(", input_preview, output_preview")
SPAN_FIELDS = (
    "span_id, parent_span_id, name, span_type, start_ns, end_ns, status, status_message, "
    "session_id, user_id, input, output, model, provider, input_tokens, output_tokens, cost, "
    "tags, metadata, attributes, events, resource, service_name"
)

SESSION_FIELDS = (
    "session_id, trace_count, span_count, start_ns, end_ns, active_ns, input_tokens, "
    "output_tokens, cost, user_ids, error_count, first_input, last_output"
)


def reads_costliest(query: SessionQuery) -> bool:
    """Whether a page may be looked for among the costliest sessions first (a search
    would scan spans for each of them, then again for all)."""
    return query.sort == "cost" and query.descending and query.q is None


_SESSION_SORT = {
    "start_time": "start_ns",
    "end_time": "end_ns",
    "duration_ms": "(end_ns - start_ns)",
    "active_duration_ms": "active_ns",
    "trace_count": "trace_count",
    "span_count": "span_count",
    "total_tokens": "(coalesce(input_tokens, 0) + coalesce(output_tokens, 0))",
    "cost": "coalesce(cost, 0)",
    "error_count": "error_count",
    "session_id": "session_id",
    "user_id": "coalesce(user_ids[1], '')",  # the first in order; user_ids is sorted
}
_TRACE_SORT = {
    "start_time": "start_ns",
    "end_time": "end_ns",
    "duration_ms": "(end_ns - start_ns)",
    "span_count": "span_count",
    "total_tokens": "(coalesce(input_tokens, 0) + coalesce(output_tokens, 0))",
    "cost": "coalesce(cost, 0)",
    "name": "name",
    "session_id": "coalesce(session_id, '')",
    "user_id": "coalesce(user_id, '')",
}


def escape_like(text: str) -> str:
    """``text`` with LIKE's wildcards (and its escape, the backslash) escaped."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like(text: str) -> str:
    return f"%{escape_like(text)}%"


def _search(project_id: str, q: str, since_start_ns: int | None) -> tuple[str, list[Any]]:
    """Traces whose spans' inputs or outputs contain q (case-insensitive), among the
    spans that started at ``since_start_ns`` or later when it is given."""
    pattern = _like(q)
    sql = (
        "SELECT DISTINCT trace_id FROM spans WHERE project_id = ? AND "
        "(input ILIKE ? ESCAPE '\\' OR output ILIKE ? ESCAPE '\\')"
    )
    params: list[Any] = [project_id, pattern, pattern]
    if since_start_ns is not None:
        sql += " AND start_ns >= ?"
        params.append(since_start_ns)
    return sql, params


def search_window(
    table: str, project_id: str, cursor_value: Any, rank: int
) -> tuple[str, list[Any]]:
    """The start time of the ``rank``-th newest row of ``table`` (sessions or traces),
    after the cursor's when there is one: a search first looks only at rows (and the
    spans of rows) that started then or later (see ``windowed_search``)."""
    where = "project_id = ?"
    params: list[Any] = [project_id]
    if cursor_value is not None:
        where += " AND start_ns <= ?"
        params.append(cursor_value)
    return (
        f"SELECT start_ns FROM {table} WHERE {where} ORDER BY start_ns DESC LIMIT 1 OFFSET ?",
        [*params, rank - 1],
    )


def _keyset(
    descending: bool, key: str, cursor_value: Any, cursor_key: str
) -> tuple[str, list[Any]]:
    op = "<" if descending else ">"
    return f"(_sort {op} ? OR (_sort = ? AND {key} {op} ?))", [
        cursor_value,
        cursor_value,
        cursor_key,
    ]


def _order(descending: bool, key: str) -> str:
    direction = "DESC" if descending else "ASC"
    return f"ORDER BY _sort {direction}, {key} {direction}"


def _metadata_match(key: str, value: str) -> tuple[str, list[Any]]:
    """A trace's metadata holds ``key`` with ``value`` (a string compares by its text)."""
    quoted = key.replace("\\", "\\\\").replace('"', '\\"')  # a JSON path's quoted key
    return "json_extract_string(metadata, ?) = ?", ['$."' + quoted + '"[1]', value]


def _trace_tag_metadata(
    tag: str | None, metadata: Sequence[tuple[str, str]]
) -> tuple[list[str], list[Any]]:
    """Conditions on a trace: it has ``tag`` and every metadata pair."""
    conditions: list[str] = []
    params: list[Any] = []
    if tag is not None:
        conditions.append("list_contains(tags, ?)")
        params.append(tag)
    for key, value in metadata:
        condition, pair = _metadata_match(key, value)
        conditions.append(condition)
        params += pair
    return conditions, params


def experiment_sessions(
    shown: str, runs: Sequence[str], column: str
) -> tuple[list[str], list[Any]]:
    """The condition on ``column`` (a session id, perhaps NULL) of which experiments'
    sessions a list holds (lamina.store.queries.EXPERIMENTS_SHOWN), ``runs`` the
    project's experiments' sessions as read before. A list of ids behind a cheap prefix
    test rather than a sub-query, which DuckDB joined to every row (docs/performance.md,
    session 13); nothing at all for a project without experiments."""
    if shown == "include" or (shown == "exclude" and not runs):
        return [], []
    if shown == "only":
        return [f"list_contains(?::VARCHAR[], {column})"], [list(runs)]
    return [
        f"(NOT starts_with(coalesce({column}, ''), '{SESSION_PREFIX}') "
        f"OR NOT list_contains(?::VARCHAR[], {column}))"
    ], [list(runs)]


def session_filters(
    project_id: str, query: SessionQuery, since_start_ns: int | None = None
) -> tuple[list[str], list[Any]]:
    """The WHERE conditions (and their parameters) of a sessions query: its filters,
    and with ``since_start_ns`` only the sessions that started then or later."""
    where = ["project_id = ?"]
    params: list[Any] = [project_id]
    since = [] if since_start_ns is None else [since_start_ns]
    traces_since = "" if since_start_ns is None else "AND start_ns >= ? "
    if query.user_id is not None:
        where.append("list_contains(user_ids, ?)")
        params.append(query.user_id)
    if since_start_ns is not None:
        where.append("start_ns >= ?")
        params.append(since_start_ns)
    if query.session_id_prefix is not None:
        where.append("starts_with(session_id, ?)")
        params.append(query.session_id_prefix)
    shown, shown_params = experiment_sessions(
        query.experiments, query.experiment_sessions, "session_id"
    )
    where += shown
    params += shown_params
    if query.q is not None:
        # the session id or a user id starts with q, or a span's input or output holds it
        search, search_params = _search(project_id, query.q, since_start_ns)
        prefix = escape_like(query.q) + "%"
        where.append(
            "(session_id ILIKE ? ESCAPE '\\' "
            "OR len(list_filter(user_ids, lambda u: u ILIKE ? ESCAPE '\\')) > 0 "
            "OR session_id IN (SELECT session_id FROM traces WHERE project_id = ? "
            f"{traces_since}AND trace_id IN ({search})))"
        )
        params += [prefix, prefix, project_id, *since, *search_params]
    if query.tag is not None or query.metadata:
        # a session with a trace that has the tag and every metadata pair
        conditions, trace_params = _trace_tag_metadata(query.tag, query.metadata)
        where.append(
            "session_id IN (SELECT session_id FROM traces WHERE project_id = ? "
            f"{traces_since}AND {' AND '.join(conditions)})"
        )
        params += [project_id, *since, *trace_params]
    bounds: list[tuple[str, float | None]] = [
        ("end_ns >= ?", query.since_ns),
        ("start_ns < ?", query.until_ns),
        ("trace_count >= ?", query.min_traces),
        ("coalesce(cost, 0) >= ?", query.min_cost),
        ("coalesce(cost, 0) <= ?", query.max_cost),
        ("end_ns - start_ns >= ?", query.min_duration_ns),
        ("end_ns - start_ns <= ?", query.max_duration_ns),
    ]
    for condition, bound in bounds:
        if bound is not None:
            where.append(condition)
            params.append(bound)
    if query.has_errors is not None:
        where.append("error_count > 0" if query.has_errors else "error_count = 0")
    if query.status is not None:
        ended, ended_params = scores_sql.ended(project_id, time.time_ns())
        where.append(ended if query.status == "ended" else f"NOT {ended}")
        params += ended_params
    if query.starred_by is not None:
        where.append(starred_condition("session_id", StarKind.SESSION))
        params += [project_id, query.starred_by]
    conditions, score_params = scores_sql.score_filters(
        project_id, scores_sql.SESSION, "session_id", query.scores, query.has_scores
    )
    return where + conditions, params + score_params


def count_sessions(project_id: str, query: SessionQuery, up_to: int) -> tuple[str, list[Any]]:
    """How many sessions the query's filters select, counting no further than ``up_to``."""
    where, params = session_filters(project_id, query, None)
    sql = f"SELECT count(*) FROM (SELECT 1 FROM sessions WHERE {' AND '.join(where)} LIMIT ?)"
    return sql, [*params, up_to]


def list_sessions(
    project_id: str,
    query: SessionQuery,
    since_start_ns: int | None = None,
    table: str = "sessions",
) -> tuple[str, list[Any]]:
    """The page of sessions; with ``since_start_ns``, only those that started then or
    later (a search window). ``table`` may be ``costliest_sessions`` (see
    ``reads_costliest``)."""
    where, params = session_filters(project_id, query, since_start_ns)
    sort, sort_params = _SESSION_SORT.get(query.sort, "NULL"), list[Any]()
    if query.sort == "score" and query.score_sort is not None:
        sort, sort_params = scores_sql.score_sort(
            project_id, scores_sql.SESSION, table, "session_id", query.score_sort
        )
    inner = f"SELECT {SESSION_FIELDS}, {sort} AS _sort FROM {table} WHERE {' AND '.join(where)}"
    return _paged(inner, [*sort_params, *params], query, "session_id")


def _paged(
    inner: str, params: list[Any], query: SessionQuery | TraceQuery, key: str
) -> tuple[str, list[Any]]:
    """``inner`` (rows with their ``_sort`` value) after the query's cursor, in its order,
    a page and one row more. A sort by a score puts rows without it last either way."""
    by_score = query.sort == "score"
    keyset, order = (_keyset, _order)
    if by_score:
        keyset, order = scores_sql.score_keyset, scores_sql.score_order
    outer = ""
    if query.cursor is not None:
        clause, cursor_params = keyset(query.descending, key, query.cursor.value, query.cursor.key)
        outer = f"WHERE {clause}"
        params = [*params, *cursor_params]
    sql = f"SELECT * FROM ({inner}) {outer} {order(query.descending, key)} LIMIT ?"
    return sql, [*params, query.limit + 1]


def by_id(table: str, column: str, fields: str, order: str = "") -> str:
    """Rows of ``table`` with one ``column`` value (first parameter) in one project (second).

    DuckDB looks a value up in an index only when it is the scan's one filter, so the
    lookup is a materialised step of its own and the project is checked after it."""
    return (
        f"WITH found AS MATERIALIZED (SELECT * FROM {table} WHERE {column} = ?) "
        f"SELECT {fields} FROM found WHERE project_id = ? {order}"
    )


def one_session(project_id: str, session_id: str) -> tuple[str, list[Any]]:
    return by_id("sessions", "session_id", SESSION_FIELDS), [session_id, project_id]


def list_traces(
    project_id: str, query: TraceQuery, since_start_ns: int | None = None
) -> tuple[str, list[Any]]:
    """The page of traces; with ``since_start_ns``, only those that started then or
    later (a search window)."""
    where, params = trace_filters(project_id, query, since_start_ns)
    sort, sort_params = _TRACE_SORT.get(query.sort, "NULL"), list[Any]()
    if query.sort == "score" and query.score_sort is not None:
        sort, sort_params = scores_sql.score_sort(
            project_id, scores_sql.TRACE, "traces", "trace_id", query.score_sort
        )
    inner = f"SELECT {TRACE_FIELDS}, {sort} AS _sort FROM traces WHERE {' AND '.join(where)}"
    return _paged(inner, [*sort_params, *params], query, "trace_id")


def trace_filters(
    project_id: str, query: TraceQuery, since_start_ns: int | None = None
) -> tuple[list[str], list[Any]]:
    """The WHERE conditions (and their parameters) of a traces query on ``traces``."""
    where = ["project_id = ?"]
    params: list[Any] = [project_id]
    for column, value in (
        ("session_id", query.session_id),
        ("user_id", query.user_id),
        ("name", query.name),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if query.session_id is None:
        shown, shown_params = experiment_sessions(
            query.experiments, query.experiment_sessions, "session_id"
        )
        where += shown
        params += shown_params
    if query.status == "error":
        where.append("error_count > 0")
    elif query.status == "ok":
        where.append("error_count = 0")
    conditions, trace_params = _trace_tag_metadata(query.tag, query.metadata)
    where += conditions
    params += trace_params
    if query.since_ns is not None:
        where.append("end_ns >= ?")
        params.append(query.since_ns)
    if query.until_ns is not None:
        where.append("start_ns < ?")
        params.append(query.until_ns)
    if since_start_ns is not None:
        where.append("start_ns >= ?")
        params.append(since_start_ns)
    if query.q is not None:
        search, search_params = _search(project_id, query.q, since_start_ns)
        where.append(f"trace_id IN ({search})")
        params += search_params
    conditions, score_params = scores_sql.score_filters(
        project_id, scores_sql.TRACE, "trace_id", query.scores, query.has_scores
    )
    where += conditions
    params += score_params
    if query.starred_by is not None:
        where.append(starred_condition("trace_id", StarKind.TRACE))
        params += [project_id, query.starred_by]
    return where, params
