"""Comments and bookmarks on the ClickHouse store (see lamina.store.comments).

A comment is one row, made once (its id is the server's); deleting it is a
lightweight DELETE, as deleting a score is. A star is one row of a
ReplacingMergeTree read ``FINAL`` (starring twice keeps one); unstarring deletes it.
A comment or star names a session or trace the project has: its summary is read
first (and a comment on a trace takes the trace's session from it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from lamina.store.clickhouse import sql
from lamina.store.clickhouse.connection import Connection
from lamina.store.comments import Comment, CommentQuery, StarKind
from lamina.store.queries import Cursor, Page

_FIELDS = ", ".join(field.name for field in dataclasses.fields(Comment))
_SORT = "created"
_TYPES = {
    "comment_id": pa.string(),
    "session_id": pa.string(),
    "trace_id": pa.string(),
    "span_id": pa.string(),
    "body": pa.string(),
    "author": pa.string(),
    "author_id": pa.string(),
    "created_ns": pa.int64(),
}
_TRACE_SESSION = f"SELECT session_id FROM ({sql.trace_aggregate(' AND trace_id = {trace:String}')})"
_SESSION = (
    f"SELECT session_id FROM ({sql.sessions_view(' AND session_id = {session:String}')}) "
    "WHERE trace_count > 0 LIMIT 1"
)


def _trace(db: Connection, project_id: str, trace_id: str) -> list[dict[str, Any]]:
    return db.query(_TRACE_SESSION, {"project": project_id, "trace": trace_id})


def _has_session(db: Connection, project_id: str, session_id: str) -> bool:
    return bool(db.query(_SESSION, {"project": project_id, "session": session_id}))


def add_comment(db: Connection, project_id: str, comment: Comment) -> Comment | None:
    """As the DuckDB store's: a comment_id the project has already is answered as stored."""
    stored = get_comment(db, project_id, comment.comment_id)
    if stored is not None:
        return stored
    if comment.trace_id is not None:
        found = _trace(db, project_id, comment.trace_id)
        if not found:
            return None
        comment = dataclasses.replace(comment, session_id=found[0]["session_id"])
    elif comment.session_id is None or not _has_session(db, project_id, comment.session_id):
        return None
    columns = {"project_id": pa.array([project_id], pa.string())}
    for field, kind in _TYPES.items():
        columns[field] = pa.array([getattr(comment, field)], kind)
    db.insert("comments", pa.table(columns), "the comment")
    return comment


def list_comments(db: Connection, project_id: str, query: CommentQuery) -> Page[Comment]:
    params: dict[str, Any] = {"project": project_id, "limit": query.limit + 1}
    narrow = ""
    for column, value in (
        ("session_id", query.session_id),
        ("trace_id", query.trace_id),
        ("span_id", query.span_id),
    ):
        if value is not None:
            narrow += f" AND {column} = {{{column}:String}}"
            params[column] = value
    if query.cursor is not None:
        narrow += " AND (created_ns, comment_id) > ({after_ns:Int64}, {after_id:String})"
        params["after_ns"] = query.cursor.value
        params["after_id"] = query.cursor.key
    rows = db.query(
        f"SELECT {_FIELDS} FROM comments WHERE project_id = {{project:String}}{narrow} "
        "ORDER BY created_ns, comment_id LIMIT {limit:UInt32}",
        params,
    )
    items = [Comment(**row) for row in rows[: query.limit]]
    cursor = None
    if len(rows) > query.limit:
        cursor = Cursor(_SORT, items[-1].created_ns, items[-1].comment_id).encode()
    return Page(items, cursor)


def get_comment(db: Connection, project_id: str, comment_id: str) -> Comment | None:
    rows = db.query(
        f"SELECT {_FIELDS} FROM comments WHERE project_id = {{project:String}} "
        "AND comment_id = {comment:String}",
        {"project": project_id, "comment": comment_id},
    )
    return Comment(**rows[0]) if rows else None


def delete_comment(db: Connection, project_id: str, comment_id: str) -> Comment | None:
    found = get_comment(db, project_id, comment_id)
    if found is not None:
        db.execute(
            "DELETE FROM comments WHERE project_id = {project:String} "
            "AND comment_id = {comment:String}",
            {"project": project_id, "comment": comment_id},
        )
    return found


def star(
    db: Connection, project_id: str, user_id: str, kind: StarKind, target_id: str, starred: bool
) -> bool:
    params = {"project": project_id, "user": user_id, "kind": kind.value, "target": target_id}
    if not starred:
        db.execute(
            "DELETE FROM bookmarks WHERE project_id = {project:String} AND user_id = "
            "{user:String} AND kind = {kind:String} AND target_id = {target:String}",
            params,
        )
        return True
    if kind == StarKind.TRACE:
        found = bool(_trace(db, project_id, target_id))
    else:
        found = _has_session(db, project_id, target_id)
    if found:
        db.execute(
            "INSERT INTO bookmarks VALUES ({project:String}, {user:String}, {kind:String}, "
            "{target:String}, {at:Int64})",
            {**params, "at": db.tick()},
        )
    return found


def starred(
    db: Connection, project_id: str, user_id: str, kind: StarKind, ids: Sequence[str]
) -> set[str]:
    if not ids:
        return set()
    rows = db.query(
        "SELECT target_id FROM bookmarks FINAL WHERE project_id = {project:String} "
        "AND user_id = {user:String} AND kind = {kind:String} AND target_id IN {ids:Array(String)}",
        {"project": project_id, "user": user_id, "kind": kind.value, "ids": list(ids)},
    )
    return {row["target_id"] for row in rows}


def forget_traces(db: Connection, project_id: str, trace_ids: list[str]) -> None:
    """The comments and stars of deleted traces (the caller holds the write lock)."""
    params = {"project": project_id, "ids": trace_ids}
    db.execute(
        "DELETE FROM comments WHERE project_id = {project:String} AND trace_id IN "
        "{ids:Array(String)}",
        params,
    )
    db.execute(
        "DELETE FROM bookmarks WHERE project_id = {project:String} AND kind = 'trace' "
        "AND target_id IN {ids:Array(String)}",
        params,
    )


def forget_sessions(db: Connection, project_id: str, sessions: list[str]) -> None:
    """The comments (their traces' too) and stars of deleted sessions."""
    params = {"project": project_id, "ids": sessions}
    db.execute(
        "DELETE FROM comments WHERE project_id = {project:String} AND session_id IN "
        "{ids:Array(String)}",
        params,
    )
    db.execute(
        "DELETE FROM bookmarks WHERE project_id = {project:String} AND kind = 'session' "
        "AND target_id IN {ids:Array(String)}",
        params,
    )
