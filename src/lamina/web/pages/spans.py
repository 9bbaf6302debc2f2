"""A trace's spans as a tree laid over time: rows for the span tree and its waterfall.

Children follow their parent in start order; a span whose parent is not in
the trace (not arrived yet, or dropped by the client) is shown as a root.
Offsets and widths are percentages of the trace's time range.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lamina.store.base import Row

# Where a span without a time sorts and is drawn (the store gives every span one).
_NO_TIME = datetime.min.replace(tzinfo=UTC)
_MS = timedelta(milliseconds=1)


@dataclass(slots=True)
class TreeRow:
    span: Row
    depth: int
    parent_id: str | None
    has_children: bool = False
    offset_pct: float = 0.0
    width_pct: float = 0.0
    child_count: int = 0
    descendants: int = 0
    ancestors: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        span_id: str = self.span["span_id"]
        return span_id


@dataclass(frozen=True, slots=True)
class Problem:
    """An exception or error status on a span."""

    type: str
    message: str
    stacktrace: str


def _at(moment: datetime | None) -> datetime:
    return _NO_TIME if moment is None else moment


def tree_rows(spans: list[Row]) -> list[TreeRow]:
    ids = {span["span_id"] for span in spans}
    children: dict[str | None, list[Row]] = defaultdict(list)
    for span in spans:
        parent = span["parent_span_id"] if span["parent_span_id"] in ids else None
        children[parent].append(span)
    for group in children.values():
        group.sort(key=lambda s: (_at(s["start_time"]), s["span_id"]))
    first = min((_at(s["start_time"]) for s in spans), default=_NO_TIME)
    last = max((_at(s["end_time"]) for s in spans), default=_NO_TIME)
    total = max(last - first, timedelta(microseconds=1))

    rows: list[TreeRow] = []
    stack: list[tuple[Row, int, list[str]]] = [(span, 0, []) for span in reversed(children[None])]
    seen: set[str] = set()
    while stack:
        span, depth, ancestors = stack.pop()
        if span["span_id"] in seen:  # a cycle in bad data: show each span once
            continue
        seen.add(span["span_id"])
        kids = children.get(span["span_id"], [])
        start = _at(span["start_time"]) - first
        length = max(_at(span["end_time"]) - _at(span["start_time"]), timedelta(0))
        rows.append(
            TreeRow(
                span=span,
                depth=depth,
                parent_id=ancestors[-1] if ancestors else None,
                has_children=bool(kids),
                offset_pct=round(100 * start / total, 3),
                width_pct=round(100 * length / total, 3),
                child_count=len(kids),
                ancestors=ancestors,
            )
        )
        path = [*ancestors, span["span_id"]]
        stack.extend((kid, depth + 1, path) for kid in reversed(kids))
    index = {row.id: row for row in rows}
    for row in rows:
        for ancestor in row.ancestors:
            index[ancestor].descendants += 1
    return rows


_STEPS = (1.0, 2.0, 2.5, 5.0)


def ticks(duration_ms: float | None, most: int = 5) -> list[tuple[float, float]]:
    """(percent, milliseconds) marks for the waterfall's time axis, at round values:
    0, 250 ms, 500 ms, ... The step is the smallest of 1, 2, 2.5 and 5 times a power
    of ten that needs at most ``most`` steps to pass the duration."""
    total = duration_ms or 0.0
    if total <= 0:
        return [(0.0, 0.0)]
    step = total
    scale = 10.0 ** math.floor(math.log10(total / most))
    for factor in (*_STEPS, 10.0):
        if total / (factor * scale) <= most:
            step = factor * scale
            break
    count = int(total / step + 1e-9)
    return [(round(100 * i * step / total, 3), round(i * step, 9)) for i in range(count + 1)]


def problems(span: Row) -> list[Problem]:
    found = []
    for event in span.get("events") or []:
        if not isinstance(event, dict) or event.get("name") != "exception":
            continue
        attrs: dict[str, Any] = event.get("attributes") or {}
        found.append(
            Problem(
                type=str(attrs.get("exception.type") or "Exception"),
                message=str(attrs.get("exception.message") or ""),
                stacktrace=str(attrs.get("exception.stacktrace") or ""),
            )
        )
    if not found and span.get("status") == "error":
        found.append(Problem("Error", span.get("status_message") or "The span ended in error.", ""))
    return found


def event_offset_ms(span: Row, event: dict[str, Any]) -> float | None:
    when = event.get("time")
    if not isinstance(when, datetime) or span.get("start_time") is None:
        return None
    offset: float = (when - span["start_time"]) / _MS
    return offset


def root_span(spans: list[Row]) -> Row | None:
    ids = {span["span_id"] for span in spans}
    roots = [s for s in spans if s["parent_span_id"] not in ids]
    pool = roots or spans
    return min(pool, key=lambda s: _at(s["start_time"]), default=None)
