"""Rows from a store as the JSON API shows them; shared by the API, the pages and the CLI.

The API, the pages and the CLI call these functions, so a page and its JSON
twin can never disagree. A time changes form once, here: the store's nanoseconds
since 1970 (``start_ns``) become a timezone-aware UTC ``datetime`` to the microsecond
(``start_time``), which the pages and the terminal format for people, and only
:func:`json_bytes` writes as text (ISO-8601, ``2026-11-24T13:58:03.120000Z``). Costs
are rounded to COST_DIGITS significant digits (sums of float prices read
4.2000000000000004e-05).
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from lamina.errors import NotFound
from lamina.query.params import parse_session_query, parse_trace_query
from lamina.store.base import Row, Store
from lamina.store.comments import StarKind
from lamina.store.queries import Page, SessionQuery
from lamina.store.rows import LARGE_FIELDS
from lamina.store.scores import Score

# A list of sessions counts its total up to this many; past it, it says "more than".
TOTAL_CAP = 10_000
# Counts a sessions list's total while the page itself is read (two reads at once: the
# page's latency, not their sum; the sessions list at 1M spans took 4.6 -> 8.1 ms p50
# when the count followed the page).
_COUNTING = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lamina-count")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def moment(ns: int | None) -> datetime | None:
    """A time in the store (nanoseconds since 1970) as presented rows hold it."""
    if ns is None:
        return None
    return EPOCH + timedelta(microseconds=ns // 1000)


def json_bytes(value: Any, indent: bool = False) -> bytes:
    """Presented rows as the JSON API answers them (the API's responses, the session
    page's download, the CLI's ``--json``). A time is ISO-8601 in UTC with ``Z``, its
    microseconds shown unless they are 0: ``2026-11-24T13:58:03.120000Z``."""
    option = orjson.OPT_UTC_Z | (orjson.OPT_INDENT_2 if indent else 0)
    return orjson.dumps(value, default=str, option=option)


COST_DIGITS = 10


def cost(value: float | None) -> float | None:
    """A cost in USD to COST_DIGITS significant digits (far finer than any price)."""
    return None if value is None else float(f"{value:.{COST_DIGITS}g}")


def _times(row: Row) -> Row:
    out = dict(row)
    out["start_time"] = moment(out.pop("start_ns"))
    out["end_time"] = moment(out.pop("end_ns"))
    if "cost" in out:
        out["cost"] = cost(out["cost"])
    if "ended_ns" in out:
        out["ended_at"] = moment(out.pop("ended_ns"))
    if "scores" in out:  # a detail's scores, newest first
        out["scores"] = [score(item) for item in out["scores"]]
    return out


# A presented score's fields, in the JSON API's order (created_at from created_ns).
_SCORE_FIELDS = (
    "score_id",
    "name",
    "value",
    "label",
    "comment",
    "source",
    "author",
    "session_id",
    "trace_id",
    "span_id",
)


def score(item: Score | Row) -> Row:
    """A score as the API shows it, from a Score (lists) or a store's row (details)."""
    fields = Score.__slots__
    data = item if isinstance(item, dict) else {name: getattr(item, name) for name in fields}
    out = {name: data[name] for name in _SCORE_FIELDS}
    out["created_at"] = moment(data["created_ns"])
    return out


def session(row: Row) -> Row:
    out = _times(row)
    if "traces" in out:
        out["traces"] = [trace(item) for item in out["traces"]]
    return out


def span_value(store: Store, project_id: str, trace_id: str, span_id: str, field: str) -> Row:
    """One whole large value of a span, which a trace shows cut short (its span's
    ``truncated`` names it)."""
    if field not in LARGE_FIELDS:
        raise NotFound(f"A span has no value {field!r}; one of: {', '.join(LARGE_FIELDS)}.")
    row = store.span_value(project_id, trace_id.lower(), span_id.lower(), field)
    if row is None:
        raise NotFound(f'No span "{span_id}" in trace "{trace_id}" in this project.')
    return row


def trace(row: Row) -> Row:
    out = _times(row)
    out.pop("error_count", None)
    if "spans" in out:
        out["spans"] = [span(item) for item in out["spans"]]
    return out


def span(row: Row) -> Row:
    out = _times(row)
    for event in out.get("events") or []:
        if isinstance(event, dict) and "time_ns" in event:
            event["time"] = moment(event.pop("time_ns"))
    return out


def list_sessions(
    store: Store,
    project_id: str,
    params: Mapping[str, str],
    metadata: list[str] | None = None,
    viewer: str | None = None,
) -> dict[str, Any]:
    """``viewer``: the signed-in user asking, whose stars rows show and ``starred=true``
    filters by (None for an API key: see lamina.query.comments)."""
    query = parse_session_query(params, metadata, viewer)
    counting = None
    if query.q is None:  # a search is not counted (see _session_total)
        counting = _COUNTING.submit(store.count_sessions, project_id, query, TOTAL_CAP + 1)
    page = store.list_sessions(project_id, query)
    _mark_starred(store, project_id, viewer, StarKind.SESSION, page.items)
    total, exact = _session_total(query, page, counting)
    return {
        "items": [session(row) for row in page.items],
        "next_cursor": page.next_cursor,
        "total": total,
        "total_exact": exact,
    }


def _session_total(
    query: SessionQuery, page: Page[Row], counting: Future[int] | None
) -> tuple[int | None, bool]:
    """How many sessions the filters select, and whether that is exact (if not, there
    are more than that). Counted up to TOTAL_CAP; a search is not counted, which would
    read every span again: its total is the first page's, exact when nothing follows."""
    if query.cursor is None and (page.next_cursor is None or query.q is not None):
        return len(page.items), page.next_cursor is None
    if counting is None:
        return None, False
    counted = counting.result()
    return min(counted, TOTAL_CAP), counted <= TOTAL_CAP


def get_session(store: Store, project_id: str, session_id: str) -> Row:
    row = store.get_session(project_id, session_id)
    if row is None:
        raise NotFound(f'No session "{session_id}" in this project.')
    return session(row)


def list_traces(
    store: Store,
    project_id: str,
    params: Mapping[str, str],
    metadata: list[str] | None = None,
    viewer: str | None = None,
) -> dict[str, Any]:
    page = store.list_traces(project_id, parse_trace_query(params, metadata, viewer))
    _mark_starred(store, project_id, viewer, StarKind.TRACE, page.items)
    return {"items": [trace(row) for row in page.items], "next_cursor": page.next_cursor}


def _mark_starred(
    store: Store, project_id: str, viewer: str | None, kind: StarKind, rows: list[Row]
) -> None:
    """Give a page's rows ``starred`` for a signed-in user (one small read)."""
    if viewer is None or not rows:
        return
    key = "session_id" if kind == StarKind.SESSION else "trace_id"
    found = store.starred(project_id, viewer, kind, [row[key] for row in rows])
    for row in rows:
        row["starred"] = row[key] in found


def get_trace(store: Store, project_id: str, trace_id: str) -> Row:
    row = store.get_trace(project_id, trace_id.lower())
    if row is None:
        raise NotFound(f'No trace "{trace_id}" in this project.')
    return trace(row)
