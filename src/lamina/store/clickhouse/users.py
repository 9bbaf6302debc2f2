"""A project's end users on the ClickHouse store (see lamina.store.users).

The same rows as the DuckDB store's (lamina.store.duckdb.users), from ``sessions``
read ``FINAL`` (the newest version of each): its ``user_ids`` array-joined, grouped by
user. User values travel only as ``{name:Type}`` parameters.
"""

from __future__ import annotations

from typing import Any

from lamina.store.clickhouse import sql
from lamina.store.clickhouse.connection import Connection
from lamina.store.queries import Cursor
from lamina.store.users import Row, UserPage, UserQuery, score_summaries, user_row

# Each user of the project's sessions ({narrow}: a condition on those sessions, read
# under FINAL's key; {where} on the user id), with the totals of their sessions and their
# ids (for their scores).
_PER_USER = """
SELECT u AS user_id,
    count() AS sessions,
    sum(s_traces) AS traces,
    sum(s_in) AS input_tokens,
    sum(s_out) AS output_tokens,
    if(count(s_in) + count(s_out) > 0, coalesce(sum(s_in), 0) + coalesce(sum(s_out), 0), NULL)
        AS total_tokens,
    sum(s_cost) AS cost,
    sum(s_errors) AS errors,
    min(s_start) AS first_seen_ns,
    max(s_end) AS last_seen_ns,
    groupArray(session_id) AS session_ids
FROM (
    SELECT arrayJoin(user_ids) AS u, session_id, trace_count AS s_traces, input_tokens AS s_in,
        output_tokens AS s_out, cost AS s_cost, error_count AS s_errors, start_ns AS s_start,
        end_ns AS s_end
    FROM ({sessions}) WHERE trace_count > 0{narrow}
) WHERE {where}
GROUP BY u
"""
_SORT = {
    "last_seen": "last_seen_ns",
    "first_seen": "first_seen_ns",
    "user_id": "user_id",
    "sessions": "toInt64(sessions)",
    "traces": "traces",
    "input_tokens": "coalesce(input_tokens, 0)",
    "output_tokens": "coalesce(output_tokens, 0)",
    "total_tokens": "coalesce(total_tokens, 0)",
    "cost": "toFloat64(coalesce(cost, 0))",
    "errors": "errors",
}
_SORT_TYPES = {"user_id": "String", "cost": "Float64", "score": "Float64"}
# Each user's average of one score ({score_sort}): the distinct scores of that name of
# their sessions, a score counting for the session it names and for its trace's, as in
# their score_summary (lamina.store.users.score_summaries). NULL (last) without one.
_SCORE_SORT = """
LEFT JOIN (
    SELECT u AS _scored, avg(value) AS _score FROM (
        SELECT DISTINCT o.u AS u, named.score_id AS score_id, named.value AS value
        FROM (SELECT arrayJoin(user_ids) AS u, session_id FROM ({sessions})
            WHERE trace_count > 0) AS o
        INNER JOIN (
            SELECT score_id, value, session_id AS owner FROM scores FINAL
            WHERE project_id = {project:String} AND name = {score_sort:String}
                AND session_id IS NOT NULL
            UNION ALL
            SELECT score_id, value, trace_session AS owner FROM scores FINAL
            WHERE project_id = {project:String} AND name = {score_sort:String}
                AND trace_session IS NOT NULL
        ) AS named ON named.owner = o.session_id
    ) GROUP BY u
) AS _sc ON _sc._scored = _users.user_id
"""
# The scores that count for some sessions (lamina.store.users).
_SCORES = (
    "SELECT score_id, name, value, label, session_id, trace_session FROM scores FINAL "
    "WHERE project_id = {project:String} AND (session_id IN {sessions:Array(String)} "
    "OR trace_session IN {sessions:Array(String)})"
)


def _per_user(narrow: str, where: str) -> str:
    return (
        _PER_USER.replace("{sessions}", sql.sessions_view())
        .replace("{narrow}", narrow)
        .replace("{where}", where)
    )


def list_users(db: Connection, project_id: str, query: UserQuery) -> UserPage:
    params: dict[str, Any] = {"project": project_id}
    where = "1"
    if query.q is not None:
        where = "positionCaseInsensitiveUTF8(u, {q:String}) > 0"
        params["q"] = query.q
    sort, joined = _SORT.get(query.sort, "NULL"), ""
    if query.sort == "score" and query.score_sort is not None:
        sort, joined = "_score", _SCORE_SORT.replace("{sessions}", sql.sessions_view())
        params["score_sort"] = query.score_sort
    inner = (
        f"SELECT *, {sort} AS _sort, count() OVER () AS _total "
        f"FROM ({_per_user('', where)}) AS _users{joined}"
    )
    outer = ""
    if query.cursor is not None:
        op = "<" if query.descending else ">"
        kind = _SORT_TYPES.get(query.sort, "Int64")
        outer = (
            f"(_sort {op} {{cursor_value:{kind}}} OR "
            f"(_sort = {{cursor_value:{kind}}} AND user_id {op} {{cursor_key:String}}))"
        )
        if query.sort == "score":  # NULL (no score) comes after every value, in either order
            outer = f"(_sort IS NULL OR {outer})"
            if query.cursor.value is None:
                outer = f"_sort IS NULL AND user_id {op} {{cursor_key:String}}"
        outer = f"WHERE {outer}"
        params["cursor_value"] = query.cursor.value
        params["cursor_key"] = query.cursor.key
    direction = "DESC" if query.descending else "ASC"
    params["limit"] = query.limit + 1
    params["offset"] = query.offset
    text = (
        f"SELECT * FROM ({inner}) {outer} "
        f"ORDER BY _sort {direction} NULLS LAST, user_id {direction} "
        "LIMIT {limit:UInt32} OFFSET {offset:UInt64}"
    )
    rows = db.query(text, params)
    if rows:
        total = int(rows[0]["_total"])
    elif query.cursor is None and query.offset == 0:
        total = 0
    else:  # a page past the last has no row to say how many there are
        counted = db.query(f"SELECT count() AS n FROM ({_per_user('', where)})", params)
        total = int(counted[0]["n"])
    cursor = None
    if len(rows) > query.limit:
        rows = rows[: query.limit]
        cursor = Cursor(query.cursor_sort, rows[-1]["_sort"], rows[-1]["user_id"]).encode()
    items = [user_row(row) for row in rows]
    _add_scores(db, project_id, items, rows)
    return UserPage(items, total, cursor)


def get_user(db: Connection, project_id: str, user_id: str) -> Row | None:
    text = _per_user(" AND has(user_ids, {user:String})", "u = {user:String}")
    rows = db.query(text, {"project": project_id, "user": user_id})
    if not rows:
        return None
    user = user_row(rows[0])
    _add_scores(db, project_id, [user], rows)
    return user


def _add_scores(db: Connection, project_id: str, users: list[Row], read: list[Row]) -> None:
    """Give each user row its ``score_summary`` from the scores of their sessions
    (``read``: the rows of _PER_USER, with their ``session_ids``): one statement."""
    owners = [(row["user_id"], session) for row in read for session in row["session_ids"]]
    params: dict[str, Any] = {"project": project_id}
    params["sessions"] = list({session for _, session in owners})
    scores = db.query(_SCORES, params) if params["sessions"] else []
    found = score_summaries(owners, scores)
    for user in users:
        user["score_summary"] = found.get(user["user_id"], {})
