"""A project's end users on the DuckDB store (see lamina.store.users).

Each user's totals are kept at ingest in ``user_totals`` (one row a project's user): the
fold, after it refreshes the sessions a batch touches (lamina.store.duckdb.fold),
computes again the rows of the users those sessions held before or hold now, from the
summaries of all their sessions (``sessions``: its ``user_ids`` unnested, grouped by
user). A page of users reads that table alone, so it grows with the users a project has,
not with its sessions (at 5M spans the read over sessions took twice its time at 1M).
Built as text plus parameters; no user value is ever formatted into the SQL.
"""

from __future__ import annotations

from typing import Any

import duckdb

from lamina.store import scores_sql
from lamina.store.duckdb.connection import Connection
from lamina.store.duckdb.remembered import Key
from lamina.store.queries import Cursor
from lamina.store.sessions_sql import _keyset, _order, escape_like
from lamina.store.users import Row, UserPage, UserQuery, score_summaries, user_row

# Each user of the sessions ({narrow}: a condition on those sessions, {users}: the
# users kept: a join USING (project_id, u)), with the totals of their sessions.
_PER_USER = """
SELECT project_id, u AS user_id,
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
    max(end_ns) AS last_seen_ns
FROM (
    SELECT project_id, unnest(user_ids) AS u, trace_count, input_tokens, output_tokens,
        cost, error_count, start_ns, end_ns
    FROM sessions WHERE trace_count > 0{narrow}
) AS of_users{users}
GROUP BY project_id, u
"""
# -- kept at ingest: the fold runs these in its transaction, around its refresh of the
# touched sessions (``touched_sessions``, ``refreshed_sessions``; fold_sql).
# The users of the touched sessions as stored, before the refresh forgets them.
_USERS_BEFORE = """
CREATE OR REPLACE TEMP TABLE touched_users AS
SELECT project_id, unnest(user_ids) AS user_id FROM sessions
WHERE EXISTS (SELECT 1 FROM touched_sessions t
    WHERE t.project_id = sessions.project_id AND t.session_id = sessions.session_id)
"""
# And those of the refreshed ones: their rows are computed again from their sessions.
_USERS_AFTER = (
    "INSERT INTO touched_users SELECT project_id, unnest(user_ids) FROM refreshed_sessions"
)
_FORGET_TOUCHED = """
DELETE FROM user_totals WHERE EXISTS (SELECT 1 FROM touched_users t
    WHERE t.project_id = user_totals.project_id AND t.user_id = user_totals.user_id)
"""
_KEEP_TOUCHED = "INSERT INTO user_totals BY NAME " + _PER_USER.format(
    narrow=" AND project_id IN (SELECT project_id FROM touched_users)",
    users=" JOIN (SELECT DISTINCT project_id, user_id AS u FROM touched_users) "
    "USING (project_id, u)",
)


def touched_before(con: duckdb.DuckDBPyConnection) -> None:
    """Note the users of the touched sessions, before the fold forgets their rows."""
    con.execute(_USERS_BEFORE)


def keep_touched(con: duckdb.DuckDBPyConnection) -> None:
    """Compute again the kept rows of the users the touched sessions held or hold (after
    the fold stored the refreshed sessions): a user left without a session has none."""
    con.execute(_USERS_AFTER)
    con.execute(_FORGET_TOUCHED)
    con.execute(_KEEP_TOUCHED)


# -- reads -------------------------------------------------------------------------------
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
# The project's kept users ({where}: a condition on the user id; parameters: the
# project, then those of {where}).
_USERS = "SELECT * FROM user_totals WHERE project_id = ? AND {where}"
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
# The sessions of some users (parameters: the project, the users' ids). Every session's
# users unnested, then kept by a join: a third of the CPU of list_has_any on each row.
_SESSIONS_OF = """
SELECT u AS user_id, session_id FROM (
    SELECT unnest(user_ids) AS u, session_id FROM sessions
    WHERE project_id = ? AND trace_count > 0
) WHERE u IN (SELECT unnest(?::VARCHAR[]))
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
        where = "user_id ILIKE ? ESCAPE '\\'"
        params.append(f"%{escape_like(query.q)}%")
    sort, joined = _SORT.get(query.sort, "NULL"), ""
    if query.sort == "score" and query.score_sort is not None:
        sort, joined = "_score", _SCORE_SORT
        name = query.score_sort
        params += [project_id, project_id, name, project_id, name]
    inner = f"SELECT *, {sort} AS _sort FROM ({_USERS.format(where=where)}) AS _users{joined}"
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
    total = _count(connection, project_id, query, where)
    cursor = None
    if len(rows) > query.limit:
        rows = rows[: query.limit]
        cursor = Cursor(query.cursor_sort, rows[-1]["_sort"], rows[-1]["user_id"]).encode()
    items = [user_row(row) for row in rows]
    _add_scores(connection, project_id, items)
    return UserPage(items, total, cursor)


def _count(connection: Connection, project_id: str, query: UserQuery, where: str) -> int:
    """How many users the query's ``q`` selects: a statement of its own (a count over
    the page's statement, ``count(*) OVER ()``, cost more than both)."""
    params: list[Any] = [project_id]
    if query.q is not None:
        params.append(f"%{escape_like(query.q)}%")
    sql = f"SELECT count(*) AS n FROM ({_USERS.format(where=where)})"
    return int(connection.query(sql, params)[0]["n"])


def get_user(connection: Connection, project_id: str, user_id: str) -> Row | None:
    rows = connection.query(_USERS.format(where="user_id = ?"), [project_id, user_id])
    if not rows:
        return None
    user = user_row(rows[0])
    _add_scores(connection, project_id, [user])
    return user


def _add_scores(connection: Connection, project_id: str, users: list[Row]) -> None:
    """Give each user row its ``score_summary`` from the scores of their sessions: two
    statements (their sessions, those sessions' scores) for the users whose summaries
    were not read since the last write (kept as the sessions' are,
    lamina.store.duckdb.remembered: they cost as much as the rest of the page)."""
    writes = connection.writes_done()
    keys: list[Key] = [("user-scores", project_id, user["user_id"]) for user in users]
    known = connection.remembered.known(writes, keys)
    missing = [key[2] for key in keys if key not in known]
    if missing:
        owners = [
            (row["user_id"], row["session_id"])
            for row in connection.query(_SESSIONS_OF, [project_id, missing])
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
