"""A project's end users on the DuckDB store (see lamina.store.users).

Read from ``sessions`` (one row a session, kept at ingest): its ``user_ids`` unnested,
grouped by user. Built as text plus parameters; no user value is ever formatted into
the SQL.
"""

from __future__ import annotations

from typing import Any

from lamina.store import scores_sql
from lamina.store.duckdb.connection import Connection
from lamina.store.duckdb.remembered import Key
from lamina.store.queries import Cursor
from lamina.store.sessions_sql import _keyset, _order, escape_like
from lamina.store.users import Row, UserPage, UserQuery, score_summaries, user_row

# Each user of the project's sessions ({narrow}: a condition on those sessions, {where}
# on the user id), with the totals of their sessions and their ids (for their scores).
_PER_USER = """
SELECT u AS user_id,
    count(*) AS sessions,
    sum(trace_count) AS traces,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    CASE WHEN count(input_tokens) + count(output_tokens) > 0
        THEN coalesce(sum(input_tokens), 0) + coalesce(sum(output_tokens), 0) END
        AS total_tokens,
    sum(cost) AS cost,
    sum(error_count) AS errors,
    min(start_ns) AS first_seen_ns,
    max(end_ns) AS last_seen_ns,
    list(session_id) AS session_ids
FROM (
    SELECT unnest(user_ids) AS u, session_id, trace_count, input_tokens, output_tokens,
        cost, error_count, start_ns, end_ns
    FROM sessions WHERE project_id = ? AND trace_count > 0{narrow}
) WHERE {where}
GROUP BY u
"""
_SORT = {
    "last_seen": "last_seen_ns",
    "first_seen": "first_seen_ns",
    "user_id": "user_id",
    "sessions": "sessions",
    "traces": "traces",
    "input_tokens": "coalesce(input_tokens, 0)",
    "output_tokens": "coalesce(output_tokens, 0)",
    "total_tokens": "coalesce(total_tokens, 0)",
    "cost": "coalesce(cost, 0)",
    "errors": "errors",
}
# Each user's average of one score (parameters: the project, the name, twice): the
# distinct scores of that name of their sessions, a score counting for the session it
# names and for its trace's, as in their score_summary (lamina.store.users.score_summaries).
_SCORE_SORT = """
LEFT JOIN (
    SELECT u AS _scored, avg(value) AS _score FROM (
        SELECT DISTINCT o.u, named.score_id, named.value
        FROM (SELECT unnest(user_ids) AS u, session_id FROM sessions
            WHERE project_id = ? AND trace_count > 0) AS o
        JOIN (
            SELECT score_id, value, session_id AS owner FROM scores
            WHERE project_id = ? AND name = ? AND session_id IS NOT NULL
            UNION ALL
            SELECT score_id, value, trace_session AS owner FROM scores
            WHERE project_id = ? AND name = ? AND trace_session IS NOT NULL
        ) AS named ON named.owner = o.session_id
    ) GROUP BY u
) AS _sc ON _sc._scored = _users.user_id
"""
# The scores that count for some sessions (lamina.store.users).
_SCORES = (
    "SELECT score_id, name, value, label, session_id, trace_session FROM scores "
    "WHERE project_id = ? AND (session_id IN (SELECT unnest(?::VARCHAR[])) "
    "OR trace_session IN (SELECT unnest(?::VARCHAR[])))"
)


def list_users(connection: Connection, project_id: str, query: UserQuery) -> UserPage:
    where, params = "true", [project_id]
    if query.q is not None:
        where = "u ILIKE ? ESCAPE '\\'"
        params.append(f"%{escape_like(query.q)}%")
    sort, joined = _SORT.get(query.sort, "NULL"), ""
    if query.sort == "score" and query.score_sort is not None:
        sort, joined = "_score", _SCORE_SORT
        name = query.score_sort
        params += [project_id, project_id, name, project_id, name]
    inner = (
        f"SELECT *, {sort} AS _sort, count(*) OVER () AS _total "
        f"FROM ({_PER_USER.format(narrow='', where=where)}) AS _users{joined}"
    )
    keyset, order = _keyset, _order
    if query.sort == "score":  # users without the score last, in either order
        keyset, order = scores_sql.score_keyset, scores_sql.score_order
    outer = ""
    if query.cursor is not None:
        clause, cursor_params = keyset(
            query.descending, "user_id", query.cursor.value, query.cursor.key
        )
        outer = f"WHERE {clause}"
        params += cursor_params
    sql = f"SELECT * FROM ({inner}) {outer} {order(query.descending, 'user_id')} LIMIT ? OFFSET ?"
    rows = connection.query(sql, [*params, query.limit + 1, query.offset])
    total = int(rows[0]["_total"]) if rows else _count(connection, project_id, query, where)
    cursor = None
    if len(rows) > query.limit:
        rows = rows[: query.limit]
        cursor = Cursor(query.cursor_sort, rows[-1]["_sort"], rows[-1]["user_id"]).encode()
    items = [user_row(row) for row in rows]
    _add_scores(connection, project_id, items, rows)
    return UserPage(items, total, cursor)


def _count(connection: Connection, project_id: str, query: UserQuery, where: str) -> int:
    """How many users the query's ``q`` selects (a page past the last has no row to say)."""
    if query.cursor is None and query.offset == 0:
        return 0
    params: list[Any] = [project_id]
    if query.q is not None:
        params.append(f"%{escape_like(query.q)}%")
    sql = f"SELECT count(*) AS n FROM ({_PER_USER.format(narrow='', where=where)})"
    return int(connection.query(sql, params)[0]["n"])


def get_user(connection: Connection, project_id: str, user_id: str) -> Row | None:
    sql = _PER_USER.format(narrow=" AND list_contains(user_ids, ?)", where="u = ?")
    rows = connection.query(sql, [project_id, user_id, user_id])
    if not rows:
        return None
    user = user_row(rows[0])
    _add_scores(connection, project_id, [user], rows)
    return user


def _add_scores(connection: Connection, project_id: str, users: list[Row], read: list[Row]) -> None:
    """Give each user row its ``score_summary`` from the scores of their sessions
    (``read``: the rows of _PER_USER, with their ``session_ids``): one statement for the
    users whose summaries were not read since the last write (kept as the sessions'
    are, lamina.store.duckdb.remembered: it cost as much as the rest of the page)."""
    writes = connection.writes_done()
    keys: list[Key] = [("user-scores", project_id, user["user_id"]) for user in users]
    known = connection.remembered.known(writes, keys)
    missing = {key[2] for key in keys if key not in known}
    if missing:
        owners = [
            (row["user_id"], session)
            for row in read
            if row["user_id"] in missing
            for session in row["session_ids"]
        ]
        sessions = list({session for _, session in owners})
        scores = connection.query(_SCORES, [project_id, sessions, sessions]) if sessions else []
        found = score_summaries(owners, scores)
        kept: dict[Key, Any] = {
            ("user-scores", project_id, user): found.get(user, {}) for user in missing
        }
        connection.remembered.keep(writes, connection.writes_done(), kept)
        known = {**known, **kept}
    for user, key in zip(users, keys, strict=True):
        user["score_summary"] = {name: dict(entry) for name, entry in known[key].items()}
