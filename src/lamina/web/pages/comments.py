"""How the pages show comments and stars (see lamina.query.comments).

A comment's body is user text: :func:`linkify` escapes all of it and makes only
``http`` and ``https`` addresses into links (opened in a new tab, with no referrer),
so a body holding HTML shows as that text. Threads are read with the page's
signed-in user, who may delete their own comments (``mine``).
"""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup, escape

from lamina.query import comments
from lamina.store.base import Row, Store
from lamina.store.comments import CommentQuery, StarKind
from lamina.store.queries import MAX_LIMIT

# An address: http(s):// and what follows up to a space, a quote or an angle bracket;
# punctuation that usually ends a sentence is left out of its end.
_LINK = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}"


def linkify(text: str) -> Markup:
    """``text`` escaped, its http(s) addresses made links."""
    out = []
    last = 0
    for found in _LINK.finditer(text):
        address = found.group(0).rstrip(_TRAILING)
        end = found.start() + len(address)
        out.append(escape(text[last : found.start()]))
        out.append(
            Markup(
                '<a href="{0}" rel="nofollow noopener noreferrer" target="_blank">{0}</a>'
            ).format(address)
        )
        last = end
    out.append(escape(text[last:]))
    return Markup("").join(out)


def thread(
    store: Store,
    project_id: str,
    user_id: str | None,
    session_id: str | None = None,
    trace_id: str | None = None,
) -> list[dict[str, Any]]:
    """The comments on a session or trace (up to MAX_LIMIT, oldest first), each with
    ``mine``: whether the signed-in user wrote it."""
    query = CommentQuery(limit=MAX_LIMIT, session_id=session_id, trace_id=trace_id)
    page = store.list_comments(project_id, query)
    author_id = f"user:{user_id}" if user_id else None
    return [{**comments.present(item), "mine": item.author_id == author_id} for item in page.items]


def by_span(items: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """A trace's comments on its spans, by span id (the trace's own left out)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        if item["span_id"]:
            found.setdefault(item["span_id"], []).append(item)
    return found


def is_starred(
    store: Store, project_id: str, user_id: str | None, kind: StarKind, target: str
) -> bool | None:
    """Whether the user starred it; None without a user (no star to show)."""
    if user_id is None:
        return None
    return target in store.starred(project_id, user_id, kind, [target])


def side_panel(
    session: Row, items: list[dict[str, Any]], superseded: list[Row] | None = None
) -> list[dict[str, Any]]:
    """Every score and comment on a session (its traces' too), oldest first: entries
    ``{"kind": "score" | "comment", "at": created_at, "item": ..., "history": [...]}``.
    An evaluator's scores a newer judgement replaced (``superseded``, newest first) are
    the ``history`` of its current score (same source and name), shown beside it; an
    entry of their own (kind "score") when it has none now."""
    entries = [
        {"kind": "score", "at": s["created_at"], "item": s, "history": []}
        for s in session["scores"]
    ]
    current = {
        (entry["item"]["source"], entry["item"]["name"]): entry
        for entry in entries
        if str(entry["item"]["source"]).startswith("evaluator:")
    }
    for old in superseded or []:
        entry = current.get((old["source"], old["name"]))
        if entry is not None:
            entry["history"].append(old)
        else:
            entries.append({"kind": "score", "at": old["created_at"], "item": old, "history": []})
    entries += [{"kind": "comment", "at": c["created_at"], "item": c} for c in items]
    entries.sort(key=lambda entry: entry["at"])
    return entries
