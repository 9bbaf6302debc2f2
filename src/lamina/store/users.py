"""A project's end users: the user ids its spans carry (``user.id``), each with totals.

Not the accounts that sign in (:class:`lamina.store.base.User`): these are the people
using the application Lamina observes. A user is seen through the sessions their traces
belong to: a user's row adds up the summaries (``sessions``, kept at ingest) of every
session whose ``user_ids`` holds them, so a Users page reads one small row a session
and never a span, and the user's totals are those of the Sessions tab filtered to them.
A session of two users counts for each; a trace without a session is not counted.

A store answers a :class:`UserQuery` with rows of :data:`USER_FIELDS` (times in
nanoseconds, as every store row) and a ``score_summary`` added by
:func:`score_summaries` from the scores of the page's users' sessions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lamina.store.queries import DEFAULT_LIMIT, Cursor

Row = dict[str, Any]

# The sorts of a list of users; each a column of its rows (first_seen: first_seen_ns...).
USER_SORTS = (
    "last_seen",
    "first_seen",
    "user_id",
    "sessions",
    "traces",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cost",
    "errors",
)
USER_FIELDS = (
    "user_id",
    "sessions",
    "traces",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cost",
    "errors",
    "first_seen_ns",
    "last_seen_ns",
)


@dataclass(frozen=True, slots=True)
class UserQuery:
    """A page of a project's users: ``q`` keeps the ids that contain it (any case);
    after ``cursor`` (keyset, as the other lists) or from ``offset`` (page numbers)."""

    limit: int = DEFAULT_LIMIT
    cursor: Cursor | None = None
    offset: int = 0
    sort: str = "last_seen"
    descending: bool = True
    q: str | None = None
    user_id: str | None = None  # exactly this user (Store.get_end_user)
    # sort == "score": by the average of score_sort's scores of their sessions (each
    # score once, as in their score_summary); users without one come last in either
    # order (the cursor's sort is "score:NAME")
    score_sort: str | None = None

    @property
    def cursor_sort(self) -> str:
        """The sort a cursor of this query names: "score:NAME" for a score sort."""
        return f"score:{self.score_sort}" if self.sort == "score" else self.sort


@dataclass(frozen=True, slots=True)
class UserPage:
    items: list[Row]
    total: int  # the users the query's q selects, every page together
    next_cursor: str | None = None


def user_row(row: Row) -> Row:
    """A user's row from a store's SQL (its numbers as Python ints and floats)."""
    out = {name: row[name] for name in USER_FIELDS}
    for name in ("sessions", "traces", "errors", "first_seen_ns", "last_seen_ns"):
        out[name] = int(out[name])
    for name in ("input_tokens", "output_tokens", "total_tokens"):
        out[name] = None if out[name] is None else int(out[name])
    out["cost"] = None if out["cost"] is None else float(out["cost"])
    return out


def score_summaries(owners: Iterable[tuple[str, str]], scores: Iterable[Row]) -> dict[str, Row]:
    """Each user's ``score_summary`` ({name: {"avg", "count"[, "labels"]}}, as a
    session's): the scores of their sessions (a score counts for the session it names
    and for its trace's), each score once per user however many of their sessions it
    counts for. ``owners``: (user_id, session_id) pairs; ``scores``: rows with
    ``score_id, name, value, label, session_id, trace_session``."""
    users_of: dict[str, list[str]] = {}
    for user, session in owners:
        users_of.setdefault(session, []).append(user)
    seen: set[tuple[str, str]] = set()
    totals: dict[str, dict[str, dict[str, Any]]] = {}
    for score in scores:
        users = {
            user
            for session in (score["session_id"], score["trace_session"])
            if session is not None
            for user in users_of.get(session, ())
        }
        for user in users:
            if (user, score["score_id"]) in seen:
                continue
            seen.add((user, score["score_id"]))
            total = totals.setdefault(user, {}).setdefault(
                score["name"], {"sum": 0.0, "valued": 0, "count": 0, "labels": set()}
            )
            total["count"] += 1
            if score["value"] is not None:
                total["sum"] += float(score["value"])
                total["valued"] += 1
            if score["label"] is not None:
                total["labels"].add(score["label"])
    out: dict[str, Row] = {}
    for user, names in totals.items():
        out[user] = {}
        for name, total in sorted(names.items()):
            entry: Row = {
                "avg": total["sum"] / total["valued"] if total["valued"] else None,
                "count": total["count"],
            }
            if total["labels"]:
                entry["labels"] = sorted(total["labels"])
            out[user][name] = entry
    return out
