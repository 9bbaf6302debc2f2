"""Comments and bookmarks in the DuckDB store (see lamina.store.comments).

Both are small tables changed one statement at a time, as the catalog is
(lamina.store.duckdb.catalog). A comment or star names a session or trace the project
has: it is looked up in the summaries (``sessions``, ``traces``) first, so the store's
caller reads before it writes (the store runs these once everything journaled is
stored). Deletes of sessions, traces and projects take theirs inside their own
transaction (lamina.store.duckdb.lifecycle).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import duckdb

from lamina.store import sessions_sql
from lamina.store.comments import Comment, CommentQuery, StarKind
from lamina.store.duckdb.connection import Connection
from lamina.store.queries import Cursor, Page

_FIELDS = ", ".join(field.name for field in dataclasses.fields(Comment))
_SORT = "created"


def _trace_session(connection: Connection, project_id: str, trace_id: str) -> tuple[bool, Any]:
    """Whether the project has the trace, and its session."""
    rows = connection.query(
        sessions_sql.by_id("traces", "trace_id", "session_id"), [trace_id, project_id]
    )
    return bool(rows), rows[0]["session_id"] if rows else None


def _has_session(connection: Connection, project_id: str, session_id: str) -> bool:
    rows = connection.query(
        sessions_sql.by_id("sessions", "session_id", "session_id"), [session_id, project_id]
    )
    return bool(rows)


def add_comment(connection: Connection, project_id: str, comment: Comment) -> Comment | None:
    """Store the comment, with its trace's session; None when the project has not its
    trace (or session). A comment_id the project has already is not stored again (an
    import run twice): the stored one is answered."""
    stored = get_comment(connection, project_id, comment.comment_id)
    if stored is not None:
        return stored
    if comment.trace_id is not None:
        found, session_id = _trace_session(connection, project_id, comment.trace_id)
        if not found:
            return None
        comment = dataclasses.replace(comment, session_id=session_id)
    elif comment.session_id is None or not _has_session(connection, project_id, comment.session_id):
        return None
    values = dataclasses.astuple(comment)
    connection.write(
        f"INSERT INTO comments (project_id, {_FIELDS}) VALUES (?{', ?' * len(values)})",
        [project_id, *values],
    )
    return comment


def list_comments(connection: Connection, project_id: str, query: CommentQuery) -> Page[Comment]:
    """Oldest first (a thread)."""
    where = ["project_id = ?"]
    params: list[Any] = [project_id]
    for column, value in (
        ("session_id", query.session_id),
        ("trace_id", query.trace_id),
        ("span_id", query.span_id),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if query.cursor is not None:
        where.append("(created_ns > ? OR (created_ns = ? AND comment_id > ?))")
        params += [query.cursor.value, query.cursor.value, query.cursor.key]
    rows = connection.query(
        f"SELECT {_FIELDS} FROM comments WHERE {' AND '.join(where)} "
        "ORDER BY created_ns, comment_id LIMIT ?",
        [*params, query.limit + 1],
    )
    items = [Comment(**row) for row in rows[: query.limit]]
    cursor = None
    if len(rows) > query.limit:
        cursor = Cursor(_SORT, items[-1].created_ns, items[-1].comment_id).encode()
    return Page(items, cursor)


def get_comment(connection: Connection, project_id: str, comment_id: str) -> Comment | None:
    rows = connection.query(
        f"SELECT {_FIELDS} FROM comments WHERE project_id = ? AND comment_id = ?",
        [project_id, comment_id],
    )
    return Comment(**rows[0]) if rows else None


def delete_comment(connection: Connection, project_id: str, comment_id: str) -> Comment | None:
    found = get_comment(connection, project_id, comment_id)
    if found is not None:
        connection.write(
            "DELETE FROM comments WHERE project_id = ? AND comment_id = ?",
            [project_id, comment_id],
        )
    return found


def delete_of_traces(con: duckdb.DuckDBPyConnection, project_id: str) -> None:
    """Inside a delete's transaction: the comments and stars of the traces being
    deleted (``doomed``)."""
    con.execute(
        "DELETE FROM comments WHERE project_id = ? AND trace_id IN (SELECT trace_id FROM doomed)",
        [project_id],
    )
    con.execute(
        "DELETE FROM bookmarks WHERE project_id = ? AND kind = 'trace' "
        "AND target_id IN (SELECT trace_id FROM doomed)",
        [project_id],
    )


def delete_of_session(con: duckdb.DuckDBPyConnection, project_id: str, session_id: str) -> None:
    """Inside a delete's transaction: the session's comments (its traces' too) and stars."""
    con.execute(
        "DELETE FROM comments WHERE project_id = ? AND session_id = ?", [project_id, session_id]
    )
    con.execute(
        "DELETE FROM bookmarks WHERE project_id = ? AND kind = 'session' AND target_id = ?",
        [project_id, session_id],
    )


# -- bookmarks -------------------------------------------------------------------------
def star(
    connection: Connection,
    project_id: str,
    user_id: str,
    kind: StarKind,
    target_id: str,
    starred: bool,
) -> bool:
    """Star (or unstar) a session or trace for a user; False when the project has not
    that session or trace (unstarring one it has not is done, as there is nothing)."""
    if starred:
        if kind == StarKind.TRACE:
            found, _ = _trace_session(connection, project_id, target_id)
        else:
            found = _has_session(connection, project_id, target_id)
        if not found:
            return False
        connection.write(
            "INSERT OR IGNORE INTO bookmarks VALUES (?, ?, ?, ?, ?)",
            [project_id, user_id, kind.value, target_id, time.time_ns()],
        )
    else:
        connection.write(
            "DELETE FROM bookmarks WHERE project_id = ? AND user_id = ? AND kind = ? "
            "AND target_id = ?",
            [project_id, user_id, kind.value, target_id],
        )
    return True


def starred(
    connection: Connection, project_id: str, user_id: str, kind: StarKind, ids: Sequence[str]
) -> set[str]:
    if not ids:
        return set()
    rows = connection.query(
        "SELECT target_id FROM bookmarks WHERE project_id = ? AND user_id = ? AND kind = ? "
        "AND list_contains(?::VARCHAR[], target_id)",
        [project_id, user_id, kind.value, list(ids)],
    )
    return {row["target_id"] for row in rows}
