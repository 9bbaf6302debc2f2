"""The queries a store answers, the pages it answers with, and their cursors.

The contract's vocabulary (with :mod:`lamina.store.base`): a store gets a frozen
:class:`SessionQuery` or :class:`TraceQuery` (parsed from request parameters by
:mod:`lamina.query.params`, so a store never sees a raw string it has to validate)
and answers a :class:`Page`. Cursors are opaque to clients: a base64url JSON triple
of (sort, sort value, id) for keyset pagination.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import orjson

from lamina.errors import InvalidCursor

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

# API sort name -> the store column it sorts by.
SESSION_SORTS = (
    "start_time",
    "end_time",
    "duration_ms",
    "active_duration_ms",
    "trace_count",
    "span_count",
    "total_tokens",
    "cost",
    "error_count",
    "session_id",
    "user_id",
)
TRACE_SORTS = (
    "start_time",
    "end_time",
    "duration_ms",
    "span_count",
    "total_tokens",
    "cost",
    "name",
    "session_id",
    "user_id",
)
T = TypeVar("T")


# The type of each sort's value in a cursor; every other sort is an integer.
_SORT_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "session_id": (str,),
    "user_id": (str,),  # a session's first user id (in order), "" for none
    "cost": (int, float),
}
_BAD_CURSOR = (
    "The cursor parameter is not one this server issued for this sort. Use the next_cursor "
    "value from the previous page, unchanged and with the same sort, or leave it out for "
    "the first page."
)


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ended: the sort it belongs to, the last sort value and id."""

    sort: str
    value: Any
    key: str

    def encode(self) -> str:
        raw = orjson.dumps([self.sort, self.value, self.key])
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, sort: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            cursor_sort, value, key = orjson.loads(raw)
        except (binascii.Error, ValueError, TypeError) as exc:
            raise InvalidCursor(_BAD_CURSOR) from exc
        # a score sort's value is an average, or None for those without that score
        scored = (int, float, type(None)) if sort.startswith("score:") else None
        expected = scored or _SORT_TYPES.get(sort, (int,))
        if (
            cursor_sort != sort
            or not isinstance(key, str)
            or isinstance(value, bool)
            or not isinstance(value, expected)
        ):
            raise InvalidCursor(_BAD_CURSOR)
        return cls(sort, value, key)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None = None


SCORE_OPS = ("=", "!=", "<", "<=", ">", ">=")
SESSION_STATUSES = ("active", "ended")
# Which sessions of experiment runs (lamina.store.experiments: the session of an
# experiment the project has) a list holds. A store reads everything by default; the
# API's and the pages' lists leave them out unless asked (lamina.query.params).
EXPERIMENTS_SHOWN = ("include", "exclude", "only")


@dataclass(frozen=True, slots=True)
class ScoreCondition:
    """``score=NAME<op>VALUE`` on a list: the session's (or trace's) average of NAME
    compared with ``value``; or, with a categorical ``label`` (``=`` and ``!=`` only),
    whether any of its NAME scores has that label. Those without a NAME score never
    match. A session's scores are its own and its traces' (see lamina.store.scores)."""

    name: str
    op: str
    value: float | None = None
    label: str | None = None


@dataclass(frozen=True, slots=True)
class SessionQuery:
    limit: int = DEFAULT_LIMIT
    cursor: Cursor | None = None
    sort: str = "start_time"
    descending: bool = True
    user_id: str | None = None
    q: str | None = None
    since_ns: int | None = None
    until_ns: int | None = None
    min_traces: int | None = None
    session_id_prefix: str | None = None
    min_cost: float | None = None
    max_cost: float | None = None
    min_duration_ns: int | None = None
    max_duration_ns: int | None = None
    has_errors: bool | None = None
    # A session matches these when one of its traces carries the tag and every pair.
    tag: str | None = None
    metadata: tuple[tuple[str, str], ...] = field(default=())
    status: str | None = None  # SESSION_STATUSES
    scores: tuple[ScoreCondition, ...] = ()
    has_scores: tuple[str, ...] = ()  # has_score=NAME: at least one NAME score
    # sort == "score": by score_sort's average; those without that score come last in
    # either order (the cursor's sort is "score:NAME")
    score_sort: str | None = None
    starred_by: str | None = None  # starred=true: only the sessions this user starred
    experiments: str = "include"  # EXPERIMENTS_SHOWN
    # the project's experiments' sessions, read by the DuckDB store before it builds its
    # SQL when experiments is not "include" (lamina.store.duckdb.experiments.with_runs)
    experiment_sessions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TraceQuery:
    limit: int = DEFAULT_LIMIT
    cursor: Cursor | None = None
    sort: str = "start_time"
    descending: bool = True
    session_id: str | None = None
    user_id: str | None = None
    name: str | None = None
    status: str | None = None
    tag: str | None = None
    q: str | None = None
    since_ns: int | None = None
    until_ns: int | None = None
    metadata: tuple[tuple[str, str], ...] = field(default=())
    scores: tuple[ScoreCondition, ...] = ()
    has_scores: tuple[str, ...] = ()
    score_sort: str | None = None  # as SessionQuery's
    starred_by: str | None = None  # starred=true: only the traces this user starred
    experiments: str = "include"  # EXPERIMENTS_SHOWN; a session_id given wins
    experiment_sessions: tuple[str, ...] = ()  # as SessionQuery's
