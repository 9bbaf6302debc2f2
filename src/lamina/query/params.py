"""Query parameters parsed for the JSON API, the pages and the CLI.

Parsing turns untrusted request parameters into the frozen query objects of
:mod:`lamina.store.queries`, so a store never sees a raw string it has to validate;
a bad parameter is a BadRequest that names it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from lamina.errors import BadRequest
from lamina.store.comments import CommentQuery
from lamina.store.datasets import ItemQuery
from lamina.store.queries import (
    DEFAULT_LIMIT,
    EXPERIMENTS_SHOWN,
    MAX_LIMIT,
    SCORE_OPS,
    SESSION_SORTS,
    SESSION_STATUSES,
    TRACE_SORTS,
    Cursor,
    ScoreCondition,
    SessionQuery,
    TraceQuery,
)
from lamina.store.scores import ScoreQuery

MAX_METADATA = 20  # metadata filters in one query
MAX_SCORE_FILTERS = 20  # score= and has_score= filters in one query
NO_ONE = ""  # the user of a caller without one: no user id is empty
MAX_DURATION_MS = 1e12  # about 31 years: as nanoseconds, well inside 64 bits

TRACE_STATUSES = ("ok", "error")
_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")


def parse_session_query(
    params: Mapping[str, str],
    metadata: list[str] | None = None,
    viewer: str | None = None,
    experiments: str = "exclude",
) -> SessionQuery:
    """``viewer``: the signed-in user asking, whom ``starred=true`` means; ``experiments``:
    which experiment runs' sessions the list holds when the parameter does not say."""
    sort, score_sort = _sort(params, SESSION_SORTS)
    status = _text(params, "status")
    if status is not None and status not in SESSION_STATUSES:
        raise BadRequest(f"status must be one of {', '.join(SESSION_STATUSES)}; got {status!r}.")
    min_duration = _number(params, "min_duration_ms", MAX_DURATION_MS)
    max_duration = _number(params, "max_duration_ms", MAX_DURATION_MS)
    return SessionQuery(
        limit=_limit(params),
        cursor=_cursor(params, f"score:{score_sort}" if score_sort else sort),
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
        status=status,
        scores=_score_conditions(params),
        has_scores=_has_scores(params),
        score_sort=score_sort,
        starred_by=_starred(params, viewer),
        experiments=_experiments(params, experiments),
    )


def parse_trace_query(
    params: Mapping[str, str],
    metadata: list[str] | None = None,
    viewer: str | None = None,
    experiments: str = "exclude",
) -> TraceQuery:
    status = _text(params, "status")
    if status is not None and status not in TRACE_STATUSES:
        raise BadRequest(f"status must be one of {', '.join(TRACE_STATUSES)}; got {status!r}.")
    sort, score_sort = _sort(params, TRACE_SORTS)
    return TraceQuery(
        limit=_limit(params),
        cursor=_cursor(params, f"score:{score_sort}" if score_sort else sort),
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
        scores=_score_conditions(params),
        has_scores=_has_scores(params),
        score_sort=score_sort,
        starred_by=_starred(params, viewer),
        experiments=_experiments(params, experiments),
    )


def _experiments(params: Mapping[str, str], default: str) -> str:
    """``experiments=include|exclude|only``: the sessions of the project's experiment runs
    (``experiment-<id>``) with the others, left out, or alone."""
    given = _text(params, "experiments")
    if given is None:
        return default
    if given not in EXPERIMENTS_SHOWN:
        raise BadRequest(
            f"experiments must be one of {', '.join(EXPERIMENTS_SHOWN)} (the traces of "
            f"experiment runs: with the others, left out, or alone); got {given[:40]!r}."
        )
    return given


def _starred(params: Mapping[str, str], viewer: str | None) -> str | None:
    """``starred=true``: only what ``viewer`` starred (``false`` is no filter). An API
    key or the admin token (no viewer) has no stars: NO_ONE, whom nothing is starred by."""
    if not _bool(params, "starred"):
        return None
    return NO_ONE if viewer is None else viewer


def parse_comment_query(params: Mapping[str, str]) -> CommentQuery:
    """``GET /api/v1/comments``'s filters; oldest first (the cursor's sort is "created")."""
    cursor = _text(params, "cursor")
    return CommentQuery(
        limit=_limit(params),
        cursor=Cursor.decode(cursor, "created") if cursor else None,
        session_id=_text(params, "session_id"),
        trace_id=(_text(params, "trace_id") or "").lower() or None,
        span_id=(_text(params, "span_id") or "").lower() or None,
    )


def parse_item_query(params: Mapping[str, str]) -> ItemQuery:
    """A dataset's items' page (``GET /api/v1/datasets/{name}/items``); oldest first
    (the cursor's sort is "created")."""
    cursor = _text(params, "cursor")
    return ItemQuery(
        limit=_limit(params), cursor=Cursor.decode(cursor, "created") if cursor else None
    )


def parse_score_query(params: Mapping[str, str]) -> ScoreQuery:
    """``GET /api/v1/scores``'s filters; newest first (the cursor's sort is "created")."""
    cursor = _text(params, "cursor")
    return ScoreQuery(
        limit=_limit(params),
        cursor=Cursor.decode(cursor, "created") if cursor else None,
        session_id=_text(params, "session_id"),
        trace_id=(_text(params, "trace_id") or "").lower() or None,
        name=_text(params, "name"),
        source=_text(params, "source"),
        since_ns=_time(params, "since"),
        until_ns=_time(params, "until"),
    )


# NAME, an operator, and a number or a label: accuracy>=0.8, outcome=success
_CONDITION = re.compile(r"^(?P<name>[^<>=!]+)(?P<op>!=|<=|>=|=|<|>)(?P<value>.*)$")


def _all(params: Mapping[str, str], name: str) -> list[str]:
    """Every value of a repeatable parameter (a request's query string gives them all;
    a plain mapping, as the CLI passes, gives one)."""
    getlist: Any = getattr(params, "getlist", None)
    if getlist is not None:
        values: list[str] = getlist(name)
    else:
        values = [params[name]] if name in params else []
    if len(values) > MAX_SCORE_FILTERS:
        raise BadRequest(f"At most {MAX_SCORE_FILTERS} {name} filters at once.")
    for value in values:
        if len(value) > 1000:
            raise BadRequest(f"A {name} filter is too long (at most 1000 characters).")
    return values


def _score_conditions(params: Mapping[str, str]) -> tuple[ScoreCondition, ...]:
    """``score=NAME<op>VALUE`` filters: a number compared with the average of NAME, or
    (= and != only) a label of a categorical score."""
    conditions = []
    for text in _all(params, "score"):
        found = _CONDITION.match(text.strip())
        if found is None or not found["name"].strip() or not found["value"].strip():
            raise BadRequest(
                f"score filters look like NAME<op>VALUE with op one of {' '.join(SCORE_OPS)} "
                f"(accuracy>=0.8, outcome=success); got {text[:80]!r}."
            )
        name, op, value = found["name"].strip(), found["op"], found["value"].strip()
        try:
            number = float(value)
        except ValueError:
            if op not in ("=", "!="):
                raise BadRequest(
                    f"score filter {text[:80]!r}: a label is compared with = or != only."
                ) from None
            conditions.append(ScoreCondition(name, op, label=value))
            continue
        if number != number or abs(number) > 1e15:
            raise BadRequest(f"score filter {text[:80]!r}: the value is not a usable number.")
        conditions.append(ScoreCondition(name, op, value=number))
    return tuple(conditions)


def _has_scores(params: Mapping[str, str]) -> tuple[str, ...]:
    names = tuple(name.strip() for name in _all(params, "has_score"))
    if any(not name for name in names):
        raise BadRequest("has_score names a score: has_score=NAME.")
    return names


def _sort(
    params: Mapping[str, str], sorts: tuple[str, ...], default: str = "start_time"
) -> tuple[str, str | None]:
    """The sort, and for ``sort=score:NAME`` ("score", NAME)."""
    value = _text(params, "sort") or default
    if value.startswith("score:") and value[len("score:") :].strip():
        return "score", value[len("score:") :].strip()
    if value not in sorts:
        raise BadRequest(f"sort must be one of {', '.join(sorts)} or score:NAME; got {value!r}.")
    return value, None


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


time_param = _time  # for the other parsers (lamina.query.metrics)
