"""Comments and stars as the JSON API, the pages and the CLI take and show them.

A comment's body is plain text of at most MAX_BODY_CHARS characters; the pages show
it as text (links made clickable), never as markup. Who wrote it is a
:class:`Commenter`: a signed-in user, an API key or the admin token. Only its author
deletes a comment (the admin token, which may delete the whole project, any).

Stars belong to a signed-in user of the pages: an API key and the admin token have
none, so they cannot star, lists carry no ``starred`` field for them, and their
``starred=true`` lists nothing.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lamina.errors import BadRequest, Forbidden, NotFound
from lamina.query.present import moment
from lamina.store.base import Row, Store
from lamina.store.comments import MAX_BODY_CHARS, Comment, StarKind

ADMIN = "admin"
MAX_ID_CHARS = 1000
NO_STARS = (
    "Stars belong to a signed-in user of the web pages: an API key or the admin token "
    "has none. Star sessions and traces from the pages."
)


@dataclass(frozen=True, slots=True)
class Commenter:
    """Who sends a request: the name shown on their comments, the id that may delete
    them (``user:<id>``, ``key:<id>`` or ``admin``), and the signed-in user's id (for
    stars), None for an API key or the admin token."""

    author: str | None
    author_id: str
    user_id: str | None = None


def new_comment(given: Mapping[str, Any], commenter: Commenter) -> Comment:
    """A comment from a request's fields (checked: a 400 says what is wrong)."""
    body = given.get("body")
    if not isinstance(body, str) or not body.strip():
        raise BadRequest("A comment needs a body: its text, at least one character.")
    if len(body) > MAX_BODY_CHARS:
        raise BadRequest(
            f"A comment holds at most {MAX_BODY_CHARS:,} characters; this one has "
            f"{len(body):,}. Shorten it, or split it into several comments."
        )
    session_id, trace_id, span_id = target(given)
    if span_id is not None and trace_id is None:
        raise BadRequest("A comment on a span names its trace too: give trace_id and span_id.")
    return Comment(
        comment_id=uuid.uuid4().hex,
        session_id=session_id,
        trace_id=trace_id,
        span_id=span_id,
        body=body,
        author=commenter.author,
        author_id=commenter.author_id,
        created_ns=time.time_ns(),
    )


def target(given: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(session_id, trace_id, span_id) of a request: a session or a trace, not both."""
    found: dict[str, str | None] = {}
    for name in ("session_id", "trace_id", "span_id"):
        value = given.get(name)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise BadRequest(f"{name} must be a non-empty string.")
        if value is not None and len(value) > MAX_ID_CHARS:
            raise BadRequest(f"{name} is too long (at most {MAX_ID_CHARS} characters).")
        found[name] = value
    session_id, trace_id = found["session_id"], found["trace_id"]
    if (session_id is None) == (trace_id is None):
        raise BadRequest("Give either session_id or trace_id (with span_id for a span).")
    span_id = found["span_id"]
    return (
        session_id,
        trace_id.lower() if trace_id else None,
        span_id.lower() if span_id else None,
    )


def present(item: Comment) -> Row:
    """A comment as the API shows it (who may delete it is not shown)."""
    return {
        "comment_id": item.comment_id,
        "session_id": item.session_id,
        "trace_id": item.trace_id,
        "span_id": item.span_id,
        "body": item.body,
        "author": item.author,
        "created_at": moment(item.created_ns),
    }


def add(store: Store, project_id: str, comment: Comment) -> Comment:
    stored = store.add_comment(project_id, comment)
    if stored is None:
        what = (
            f'trace "{comment.trace_id}"'
            if comment.trace_id is not None
            else f'session "{comment.session_id}"'
        )
        raise NotFound(f"No {what[:120]} in this project: a comment is written on one it has.")
    return stored


def delete(store: Store, project_id: str, comment_id: str, commenter: Commenter) -> Comment:
    found = store.get_comment(project_id, comment_id)
    if found is None:
        raise NotFound(f'No comment "{comment_id[:100]}" in this project.')
    if commenter.author_id != ADMIN and found.author_id != commenter.author_id:
        raise Forbidden(
            f"Only its author can delete a comment; this one was written by "
            f"{found.author or 'someone else'}."
        )
    deleted = store.delete_comment(project_id, comment_id)
    if deleted is None:  # deleted by its author meanwhile
        raise NotFound(f'No comment "{comment_id[:100]}" in this project.')
    return deleted


def star(
    store: Store, project_id: str, commenter: Commenter, given: Mapping[str, Any], starred: bool
) -> Row:
    """Star (or unstar) the session or trace ``given`` names, for the signed-in user."""
    if commenter.user_id is None:
        raise Forbidden(NO_STARS)
    session_id, trace_id, span_id = target(given)
    if span_id is not None:
        raise BadRequest("Sessions and traces are starred, not spans: leave span_id out.")
    kind = StarKind.SESSION if session_id is not None else StarKind.TRACE
    target_id = session_id or trace_id
    assert target_id is not None
    if not store.star(project_id, commenter.user_id, kind, target_id, starred):
        raise NotFound(f'No {kind.value} "{target_id[:120]}" in this project.')
    return {"bookmark": {"session_id": session_id, "trace_id": trace_id, "starred": starred}}
