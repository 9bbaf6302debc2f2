"""Comments and bookmarks: what people write on sessions, traces and spans, and what
each page user stars.

A comment is plain text on a session, a trace, or a span of a trace, with who wrote
it: ``author`` is the name shown (a user's email, an API key's name, ``admin``), and
``author_id`` who may delete it (``user:<id>``, ``key:<id>``, ``admin``). A comment on
a trace or span keeps the session its trace had when it was written, so a session's
thread lists its own comments and its traces'. A comment names a session or trace the
project has: the store refuses one it does not find. Adding a comment whose
``comment_id`` the project has already stores nothing (an export imported twice).

A bookmark is one user's star on a session or a trace. Stars are per user: API keys
and the admin token have none. Deleting a session, trace or project deletes its
comments and bookmarks.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from lamina.store.queries import DEFAULT_LIMIT, Cursor

MAX_BODY_CHARS = 10_000


@dataclass(frozen=True, slots=True)
class Comment:
    comment_id: str
    session_id: str | None
    trace_id: str | None
    span_id: str | None
    body: str
    author: str | None
    author_id: str
    created_ns: int


@dataclass(frozen=True, slots=True)
class CommentQuery:
    """Comments in the order they were written (oldest first): a thread. At most one
    of the targets is usually given; a session's are its own and its traces'."""

    limit: int = DEFAULT_LIMIT
    cursor: Cursor | None = None  # (created_ns, comment_id) of the last one read
    session_id: str | None = None
    trace_id: str | None = None
    span_id: str | None = None


class StarKind(StrEnum):
    SESSION = "session"
    TRACE = "trace"


def starred_condition(key: str, kind: StarKind) -> str:
    """A WHERE condition (DuckDB) on a list's ``key`` column: the row is starred by a
    user (parameters: the project, the user)."""
    return (
        f"{key} IN (SELECT target_id FROM bookmarks WHERE project_id = ? AND user_id = ? "
        f"AND kind = '{kind.value}')"
    )
