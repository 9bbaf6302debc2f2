"""SQL for sessions and traces: the lists, one session, one trace, and session refresh.

Session summaries (``sessions``) are recomputed from the per-trace summaries
(``traces``) for just the sessions each ingest batch touches, so reading a
sessions page never aggregates anything. Every list uses
keyset pagination on ``(sort value, id)``. Built as text plus parameters; no
user value is ever formatted into the SQL.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from lamina.store import scores_sql
from lamina.store.queries import SessionQuery, TraceQuery

TRACE_FIELDS = (
    "trace_id, session_id, user_id, name, start_ns, end_ns, span_count, error_count, "
    "input_tokens, output_tokens, cost, tags, metadata, input_preview, output_preview"
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

# A session's summary, from its traces' summaries. Run at ingest for the
# sessions a batch touched (see TOUCHED_SESSIONS), never on the read path. The
# summaries land in ``refreshed_sessions``, then in ``sessions`` and, for the
# costliest, in ``costliest_sessions`` (see KEEP_COSTLIEST).
REFRESH_SESSIONS = """
CREATE OR REPLACE TEMP TABLE refreshed_sessions AS
SELECT t.project_id, t.session_id,
    count(*) AS trace_count,
    sum(span_count)::BIGINT AS span_count,
    min(start_ns) AS start_ns,
    max(end_ns) AS end_ns,
    sum(end_ns - start_ns)::BIGINT AS active_ns,
    sum(input_tokens)::BIGINT AS input_tokens,
    sum(output_tokens)::BIGINT AS output_tokens,
    sum(cost) AS cost,
    coalesce(list(DISTINCT user_id ORDER BY user_id) FILTER (WHERE user_id IS NOT NULL), [])
        AS user_ids,
    count(*) FILTER (WHERE error_count > 0) AS error_count,
    arg_min(input_preview, start_ns) FILTER (WHERE input_preview IS NOT NULL) AS first_input,
    arg_max(output_preview, end_ns) FILTER (WHERE output_preview IS NOT NULL) AS last_output
FROM traces t JOIN touched_sessions USING (project_id, session_id)
WHERE t.start_ns >= ?
GROUP BY t.project_id, t.session_id
"""
STORE_REFRESHED = "INSERT INTO sessions BY NAME SELECT * FROM refreshed_sessions"


# A trace id's key (``traces.trace_key``): its last 16 hex digits as a number; 0 for
# an id that is not hex. The random part of a W3C trace id is at its end.
def trace_key(column: str) -> str:
    return f"coalesce(try_cast('0x' || right({column}, 16) AS UBIGINT), 0)"


# Where the stored rows of the batch's traces may be: the rowids of the rows with the
# keys of the batch's trace ids, read from the 8-byte key column alone.
FIND_STORED = f"""
SELECT rowid FROM traces
WHERE trace_key IN (SELECT DISTINCT {trace_key("trace_id")} FROM trace_batch)
ORDER BY rowid
"""
# The stored rows of the batch's traces (the fold merges them with the deltas), among
# the rows FIND_STORED found (parameters: the lowest and highest of their rowids and
# the list; the range lets the scan skip every other row group).
STORED_BATCH_TRACES = """
CREATE OR REPLACE TEMP TABLE stored_batch_traces AS
SELECT t.rowid AS stored_row, t.* FROM traces t
JOIN (SELECT DISTINCT project_id, trace_id FROM trace_batch) b USING (project_id, trace_id)
WHERE t.rowid BETWEEN ? AND ? AND t.rowid = any(?::BIGINT[])
"""
# The sessions the batch touches: those its spans name, and those its traces were in
# before (a late span can move a trace to another session). Run before the merge.
TOUCHED_SESSIONS = """
CREATE OR REPLACE TEMP TABLE touched_sessions AS
SELECT DISTINCT project_id, session_id FROM (
    SELECT project_id, session_id FROM trace_batch WHERE session_id IS NOT NULL
    UNION ALL
    SELECT project_id, session_id FROM stored_batch_traces WHERE session_id IS NOT NULL
)
"""
# No trace of a touched session starts before this, once the batch is merged: the
# session's traces start no earlier than it did, and a trace the batch changes no
# earlier than its stored or incoming start. The refresh reads only the traces
# from here on (zone maps on traces.start_ns skip the rest: the store keeps growing,
# the sessions being written to are mostly recent). Run before the merge.
REFRESH_SINCE = """
SELECT least(
    (SELECT min(start_ns) FROM trace_batch),
    (SELECT min(start_ns) FROM stored_batch_traces),
    (SELECT min(s.start_ns) FROM sessions s JOIN touched_sessions USING (project_id, session_id))
)
"""
FORGET_TOUCHED = """
DELETE FROM sessions WHERE EXISTS (
    SELECT 1 FROM touched_sessions s
    WHERE s.project_id = sessions.project_id AND s.session_id = sessions.session_id
)
"""

# -- the costliest sessions -------------------------------------------------------
# The first page by cost was a Top-N over every session: DuckDB read the cost of each,
# then fetched the winners' rows from wherever they sat in the table, and that fetch
# grew with the table (at 5M spans twice its time at 1M). ``costliest_sessions`` keeps
# a copy of each project's COSTLIEST_KEPT costliest sessions, whole rows, in the
# order below. It holds a prefix of that order: every session it does not hold costs
# less (or as much, with a lower id) than all it holds, so a page that finds its
# limit + 1 rows there is the same page as from ``sessions``, whatever else it filters
# on. Migration 8 fills it; every session refresh keeps it (see duckdb._refresh_sessions).
COSTLIEST_KEPT = 500  # the largest page
COST_ORDER = "coalesce(cost, 0) DESC, session_id DESC"

# Each touched project's floor: the last of its kept sessions, when it keeps its full
# COSTLIEST_KEPT (parameter). Below that it keeps all its sessions, and has no floor.
# Run before the refreshed sessions are kept.
COST_FLOORS = """
CREATE OR REPLACE TEMP TABLE cost_floors AS
SELECT project_id, coalesce(cost, 0) AS floor_cost, session_id AS floor_session
FROM costliest_sessions
WHERE project_id IN (SELECT project_id FROM touched_sessions)
QUALIFY count(*) OVER (PARTITION BY project_id) >= ?
    AND row_number() OVER (PARTITION BY project_id ORDER BY coalesce(cost, 0), session_id) = 1
"""
FORGET_TOUCHED_COSTLIEST = """
DELETE FROM costliest_sessions WHERE EXISTS (
    SELECT 1 FROM touched_sessions s
    WHERE s.project_id = costliest_sessions.project_id
        AND s.session_id = costliest_sessions.session_id
)
"""
# The refreshed sessions that rank at or above their project's floor. Every session
# kept before still ranks above it unless the refresh lowered its cost (a trace moved
# away, or was deleted): then the project keeps fewer than it should, and
# SHORT_OF_COSTLIEST finds it.
KEEP_COSTLIEST = """
INSERT INTO costliest_sessions BY NAME
SELECT r.* FROM refreshed_sessions r LEFT JOIN cost_floors f USING (project_id)
WHERE f.project_id IS NULL
    OR coalesce(r.cost, 0) > f.floor_cost
    OR (coalesce(r.cost, 0) = f.floor_cost AND r.session_id >= f.floor_session)
"""
# Those past the first COSTLIEST_KEPT (parameter) of each touched project.
TRIM_COSTLIEST = f"""
DELETE FROM costliest_sessions WHERE rowid IN (
    SELECT rowid FROM costliest_sessions
    WHERE project_id IN (SELECT project_id FROM touched_sessions)
    QUALIFY row_number() OVER (PARTITION BY project_id ORDER BY {COST_ORDER}) > ?
)
"""
# Touched projects keeping fewer than COSTLIEST_KEPT (parameter) that have more
# sessions than they keep: their kept sessions are forgotten and rebuilt.
SHORT_OF_COSTLIEST = """
WITH touched AS (SELECT DISTINCT project_id FROM touched_sessions),
kept AS (
    SELECT t.project_id, count(c.project_id) AS kept
    FROM touched t LEFT JOIN costliest_sessions c USING (project_id)
    GROUP BY t.project_id HAVING count(c.project_id) < ?
)
SELECT k.project_id FROM kept k JOIN sessions s USING (project_id)
GROUP BY k.project_id, k.kept HAVING count(*) > k.kept
"""
FORGET_COSTLIEST = "DELETE FROM costliest_sessions WHERE project_id = ?"
REBUILD_COSTLIEST = f"""
INSERT INTO costliest_sessions
SELECT * FROM sessions WHERE project_id = ? ORDER BY {COST_ORDER} LIMIT ?
"""


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


def _session_filters(
    project_id: str, query: SessionQuery, since_start_ns: int | None
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
    conditions, score_params = scores_sql.score_filters(
        project_id, scores_sql.SESSION, "session_id", query.scores, query.has_scores
    )
    return where + conditions, params + score_params


def count_sessions(project_id: str, query: SessionQuery, up_to: int) -> tuple[str, list[Any]]:
    """How many sessions the query's filters select, counting no further than ``up_to``."""
    where, params = _session_filters(project_id, query, None)
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
    where, params = _session_filters(project_id, query, since_start_ns)
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
    sort, sort_params = _TRACE_SORT.get(query.sort, "NULL"), list[Any]()
    if query.sort == "score" and query.score_sort is not None:
        sort, sort_params = scores_sql.score_sort(
            project_id, scores_sql.TRACE, "traces", "trace_id", query.score_sort
        )
    inner = f"SELECT {TRACE_FIELDS}, {sort} AS _sort FROM traces WHERE {' AND '.join(where)}"
    return _paged(inner, [*sort_params, *params], query, "trace_id")
