"""Query parameters, sorting and cursors shared by the JSON API, the pages and the CLI.

Parsing turns untrusted request parameters into frozen query objects, so a
store never sees a raw string it has to validate. Cursors are opaque to
clients: a base64url JSON pair of (sort value, id) for keyset pagination.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import orjson

from lamina.errors import BadRequest, InvalidCursor

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_METADATA = 20  # metadata filters in one query
MAX_DURATION_MS = 1e12  # about 31 years: as nanoseconds, well inside 64 bits

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
TRACE_STATUSES = ("ok", "error")
_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")

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
        expected = _SORT_TYPES.get(sort, (int,))
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


def parse_session_query(
    params: Mapping[str, str], metadata: list[str] | None = None
) -> SessionQuery:
    sort = _choice(params, "sort", SESSION_SORTS, "start_time")
    min_duration = _number(params, "min_duration_ms", MAX_DURATION_MS)
    max_duration = _number(params, "max_duration_ms", MAX_DURATION_MS)
    return SessionQuery(
        limit=_limit(params),
        cursor=_cursor(params, sort),
        sort=sort,
        descending=_order(params),
        user_id=_text(params, "user_id"),
        q=_text(params, "q"),
        since_ns=_time(params, "since"),
        until_ns=_time(params, "until"),
        min_traces=_int(params, "min_traces"),
        session_id_prefix=_text(params, "session_id_prefix"),
        min_cost=_number(params, "min_cost"),
        max_cost=_number(params, "max_cost"),
        min_duration_ns=None if min_duration is None else round(min_duration * 1_000_000),
        max_duration_ns=None if max_duration is None else round(max_duration * 1_000_000),
        has_errors=_bool(params, "has_errors"),
        tag=_text(params, "tag"),
        metadata=_metadata(metadata),
    )


def parse_trace_query(params: Mapping[str, str], metadata: list[str] | None = None) -> TraceQuery:
    status = _text(params, "status")
    if status is not None and status not in TRACE_STATUSES:
        raise BadRequest(f"status must be one of {', '.join(TRACE_STATUSES)}; got {status!r}.")
    sort = _choice(params, "sort", TRACE_SORTS, "start_time")
    return TraceQuery(
        limit=_limit(params),
        cursor=_cursor(params, sort),
        sort=sort,
        descending=_order(params),
        session_id=_text(params, "session_id"),
        user_id=_text(params, "user_id"),
        name=_text(params, "name"),
        status=status,
        tag=_text(params, "tag"),
        q=_text(params, "q"),
        since_ns=_time(params, "since"),
        until_ns=_time(params, "until"),
        metadata=_metadata(metadata),
    )


def _metadata(items: list[str] | None) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    if len(items or []) > MAX_METADATA:
        raise BadRequest(f"At most {MAX_METADATA} metadata filters at once.")
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BadRequest(f"metadata filters look like key=value; got {item!r}.")
        if len(item) > 1000:
            raise BadRequest("A metadata filter is too long (at most 1000 characters).")
        pairs.append((key, value))
    return tuple(pairs)


def _text(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    value = value.strip()
    if len(value) > 1000:
        raise BadRequest(f"{name} is too long (at most 1000 characters).")
    return value or None


def _int(params: Mapping[str, str], name: str) -> int | None:
    value = _text(params, name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number; got {value!r}.") from None
    if number < 0 or number > 2**62:
        raise BadRequest(f"{name} is out of range; got {value!r}.")
    return number


def _number(params: Mapping[str, str], name: str, most: float = 1e15) -> float | None:
    """A number from 0 to ``most`` (a cost, a duration), whole or not."""
    value = _text(params, name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        raise BadRequest(f"{name} must be a number such as 0.5; got {value!r}.") from None
    if not 0 <= number <= most:  # also refuses nan and infinities
        raise BadRequest(f"{name} must be a number from 0 to {most:g}; got {value!r}.")
    return number


def _bool(params: Mapping[str, str], name: str) -> bool | None:
    value = _text(params, name)
    if value is None:
        return None
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise BadRequest(f"{name} must be true or false; got {value!r}.")


def _limit(params: Mapping[str, str]) -> int:
    limit = _int(params, "limit")
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}; got {limit}.")
    return limit


def _cursor(params: Mapping[str, str], sort: str) -> Cursor | None:
    value = _text(params, "cursor")
    return Cursor.decode(value, sort) if value else None


def _choice(params: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    value = _text(params, name) or default
    if value not in choices:
        raise BadRequest(f"{name} must be one of {', '.join(choices)}; got {value!r}.")
    return value


def _order(params: Mapping[str, str]) -> bool:
    value = (_text(params, "order") or "desc").lower()
    if value not in ("asc", "desc"):
        raise BadRequest(f"order must be asc or desc; got {value!r}.")
    return value == "desc"


def _time(params: Mapping[str, str], name: str) -> int | None:
    """An ISO-8601 time (UTC when no zone is given) as nanoseconds since the epoch."""
    value = _text(params, name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"{name} must be an ISO-8601 time such as 2026-11-24T13:58:03Z; got {value!r}."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000) * 1000
