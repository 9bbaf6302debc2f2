"""A session's waterfall: every trace on one time axis, each trace's spans under it.

The spans come from :meth:`Store.session_spans` (without payloads), the first
:data:`SPAN_LIMIT` by start time, presented as every span is (:func:`present.span`).
Time between traces when nothing ran is idle: a long idle stretch is drawn narrow
(the gaps of a chat, where the user was typing, would otherwise leave every trace a
sliver), and marked with how long it was. Offsets and widths are percentages of the
axis.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime, timedelta

from lamina.query import present
from lamina.store.base import Row
from lamina.web.pages import spans

SPAN_LIMIT = 1000
# An idle stretch longer than this share of the busy time (and than IDLE_MIN) is
# drawn as COMPRESSED_SHARE of the busy time.
IDLE_SHARE = 0.1
IDLE_MIN = timedelta(seconds=1)
COMPRESSED_SHARE = 0.04
_MS = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class Bar:
    """One row: a trace (depth 0), or one of its spans (its depth in the trace's tree)."""

    trace_id: str
    span_id: str | None
    name: str
    span_type: str
    status: str
    depth: int
    duration_ms: float
    offset_pct: float
    width_pct: float


@dataclass(frozen=True, slots=True)
class Gap:
    """An idle stretch drawn narrower than its length."""

    offset_pct: float
    width_pct: float
    idle_ms: float


@dataclass(frozen=True, slots=True)
class Lane:
    """A trace and its spans, in tree order."""

    trace: Bar
    spans: list[Bar]


@dataclass(frozen=True, slots=True)
class Waterfall:
    lanes: list[Lane]
    gaps: list[Gap]
    spans_shown: int

    @property
    def idle_bands(self) -> str:
        """The squeezed idle stretches as one CSS background, drawn behind every row."""
        stops = ["transparent 0%"]
        for gap in self.gaps:
            end = round(gap.offset_pct + gap.width_pct, 3)
            stops += [
                f"transparent {gap.offset_pct}%",
                f"var(--idle-band) {gap.offset_pct}% {end}%",
                f"transparent {end}%",
            ]
        return f"linear-gradient(to right, {', '.join(stops)})" if self.gaps else "none"


Interval = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class _Axis:
    """Real time to a percentage, piece by piece: busy stretches at one scale, long
    idle ones squeezed. ``starts`` are where the pieces begin in real time; ``places``
    where they begin on the axis (in ms of it), ``scales`` its ms a real ms."""

    starts: list[datetime]
    places: list[float]
    scales: list[float]
    length: float

    def at(self, moment: datetime) -> float:
        piece = max(0, bisect.bisect_right(self.starts, moment) - 1)
        place = self.places[piece] + (moment - self.starts[piece]) / _MS * self.scales[piece]
        return 100 * min(max(place, 0.0), self.length) / self.length


def _axis(intervals: list[Interval]) -> tuple[_Axis, list[Interval]]:
    """The axis over ``intervals`` (the traces' times), and the idle stretches it squeezes."""
    merged: list[list[datetime]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, max(start, end)])
    busy = sum(((end - start) / _MS for start, end in merged), 0.0)
    squeeze_past = max(IDLE_MIN / _MS, IDLE_SHARE * busy)
    drawn = max(COMPRESSED_SHARE * busy, 1e-6)
    starts: list[datetime] = []
    places: list[float] = []
    scales: list[float] = []
    squeezed: list[Interval] = []
    place = 0.0
    for index, (start, end) in enumerate(merged):
        starts.append(start)
        places.append(place)
        scales.append(1.0)
        place += (end - start) / _MS
        if index + 1 == len(merged):
            break
        idle = (merged[index + 1][0] - end) / _MS
        starts.append(end)
        places.append(place)
        if idle > squeeze_past:
            scales.append(drawn / idle)
            squeezed.append((end, merged[index + 1][0]))
            place += drawn
        else:
            scales.append(1.0)
            place += idle
    return _Axis(starts, places, scales, max(place, 1e-6)), squeezed


def build(session: Row, outline: list[Row]) -> Waterfall:
    """The waterfall of ``session`` (as ``present.get_session`` gives it) from its
    spans' outline (``Store.session_spans``)."""
    by_trace: dict[str, list[Row]] = {}
    for span in outline:
        by_trace.setdefault(span["trace_id"], []).append(present.span(span))
    traces = [t for t in session["traces"] if t["trace_id"] in by_trace]
    bounds = {
        trace_id: (min(s["start_time"] for s in group), max(s["end_time"] for s in group))
        for trace_id, group in by_trace.items()
    }
    axis, squeezed = _axis(list(bounds.values()))
    lanes = []
    for trace in traces:
        trace_id = trace["trace_id"]
        start, end = bounds[trace_id]
        lane = Lane(_bar(axis, trace_id, None, trace, 0, start, end), [])
        for row in spans.tree_rows(by_trace[trace_id]):
            span = row.span
            lane.spans.append(
                _bar(axis, trace_id, row.id, span, row.depth, span["start_time"], span["end_time"])
            )
        lanes.append(lane)
    gaps = [
        Gap(
            offset_pct=round(axis.at(start), 3),
            width_pct=round(axis.at(end) - axis.at(start), 3),
            idle_ms=(end - start) / _MS,
        )
        for start, end in squeezed
    ]
    return Waterfall(lanes, gaps, spans_shown=len(outline))


def _bar(
    axis: _Axis,
    trace_id: str,
    span_id: str | None,
    row: Row,
    depth: int,
    start: datetime,
    end: datetime,
) -> Bar:
    left = axis.at(start)
    return Bar(
        trace_id=trace_id,
        span_id=span_id,
        name=row["name"] or "",
        span_type=row.get("span_type") or "",
        status=row["status"],
        depth=depth,
        duration_ms=max(end - start, timedelta(0)) / _MS,
        offset_pct=round(left, 3),
        width_pct=round(max(axis.at(end) - left, 0.0), 3),
    )
