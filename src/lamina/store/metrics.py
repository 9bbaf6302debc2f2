"""Metrics over time and distributions: what the dashboard and ``GET /api/v1/metrics``
ask a store for (the vocabulary; each store's SQL is in its ``metrics`` module).

A metric is read from one of three summaries, its **base**: sessions (bucketed by
their start), traces (by their start; spans by model, from spans, by theirs) or
scores (by when they were given). A :class:`MetricQuery` holds the validated metric,
its buckets (``buckets`` intervals from ``since_ns``) and the list filters
(a :class:`~lamina.store.queries.SessionQuery` or
:class:`~lamina.store.queries.TraceQuery` without its time bounds). A store answers
:class:`Cell` values: one per group and bucket that has rows, for the query's metric
and each of its ``also`` (read in the same scan; :func:`together` makes such queries);
the query layer (lamina.query.metrics) fills the empty buckets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

from lamina.store.queries import SessionQuery, TraceQuery

HOUR_NS = 3_600_000_000_000
INTERVALS = {"hour": HOUR_NS, "day": 24 * HOUR_NS}
MAX_BUCKETS = 1000  # points in one series
HISTOGRAM_BINS = 20  # at most this many, of a "nice" width
# A value on a bin's edge goes in the bin above whichever way its sum was rounded
# (two stores add a session's costs in different orders): bin = floor(offset / width + EDGE).
EDGE = 1e-9


class Base(StrEnum):
    SESSIONS = "sessions"
    TRACES = "traces"
    SCORES = "scores"


class Kind(StrEnum):
    """How a metric's empty bucket reads: a count or sum is 0 there; an average,
    rate or percentile has nothing to say, so the bucket has no point."""

    COUNT = "count"
    AVERAGE = "average"


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    base: Base
    kind: Kind
    unit: str  # for people: "sessions", "USD", "ms"...
    title: str
    groups: tuple[str, ...]  # the group_by values it takes


_TRACE_GROUPS = ("user_id", "name", "tag")
_BY_MODEL = (*_TRACE_GROUPS, "model")

METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("sessions", Base.SESSIONS, Kind.COUNT, "sessions", "Sessions started", ("user_id",)),
        Metric("traces", Base.TRACES, Kind.COUNT, "traces", "Traces", _TRACE_GROUPS),
        Metric("spans", Base.TRACES, Kind.COUNT, "spans", "Spans", _BY_MODEL),
        Metric("errors", Base.TRACES, Kind.COUNT, "traces", "Traces with errors", _TRACE_GROUPS),
        Metric("input_tokens", Base.TRACES, Kind.COUNT, "tokens", "Input tokens", _BY_MODEL),
        Metric("output_tokens", Base.TRACES, Kind.COUNT, "tokens", "Output tokens", _BY_MODEL),
        Metric("cost", Base.TRACES, Kind.COUNT, "USD", "Cost", _BY_MODEL),
        Metric("error_rate", Base.TRACES, Kind.AVERAGE, "share", "Error rate", _TRACE_GROUPS),
        Metric("latency_p50", Base.TRACES, Kind.AVERAGE, "ms", "Trace latency p50", _TRACE_GROUPS),
        Metric("latency_p95", Base.TRACES, Kind.AVERAGE, "ms", "Trace latency p95", _TRACE_GROUPS),
        Metric(
            "session_duration_p50",
            Base.SESSIONS,
            Kind.AVERAGE,
            "ms",
            "Session duration p50",
            ("user_id",),
        ),
        Metric(
            "session_duration_p95",
            Base.SESSIONS,
            Kind.AVERAGE,
            "ms",
            "Session duration p95",
            ("user_id",),
        ),
        Metric("turns", Base.SESSIONS, Kind.AVERAGE, "traces", "Turns per session", ("user_id",)),
        Metric("active_users", Base.TRACES, Kind.COUNT, "users", "Active users", ("name", "tag")),
        # score:NAME (the average of NAME's values) and share:NAME (each label's share of
        # NAME's labelled scores; outcome_share is share:outcome) are made by metric()
    )
}
DISTRIBUTIONS = {
    "turns": "Turns per session",
    "session_duration_ms": "Session duration (ms)",
    "session_cost": "Cost per session (USD)",
}


def metric(name: str) -> Metric | None:
    """The metric of that name, score:NAME and share:NAME included; None if unknown."""
    if name == "outcome_share":
        name = "share:outcome"
    prefix, _, score = name.partition(":")
    if prefix in ("score", "share") and score.strip():
        title = f"{score} (average)" if prefix == "score" else f"{score} (share of each label)"
        unit = "score" if prefix == "score" else "share"
        return Metric(f"{prefix}:{score.strip()}", Base.SCORES, Kind.AVERAGE, unit, title, ())
    return METRICS.get(name)


@dataclass(frozen=True, slots=True)
class MetricQuery:
    metric: Metric
    since_ns: int  # the first bucket's start
    interval_ns: int
    buckets: int
    group_by: str | None = None
    # the list filters; time bounds unset. Sessions and scores read ``sessions``.
    sessions: SessionQuery = SessionQuery()
    traces: TraceQuery = TraceQuery()
    # more metrics of the same base read in the same query (Store.metric_columns): a
    # page's charts over one summary table cost one scan, not one each
    also: tuple[Metric, ...] = ()
    # a grouped chart shows its ``top`` groups by total: the store answers only the cells
    # of (about) those (None: every group's; see top_groups)
    top: int | None = None

    @property
    def metrics(self) -> tuple[Metric, ...]:
        return (self.metric, *self.also)

    @property
    def until_ns(self) -> int:
        return self.since_ns + self.interval_ns * self.buckets

    @property
    def score_name(self) -> str:
        return self.metric.name.partition(":")[2]


# groups read beyond ``top``: the store ranks by its sums, the answer by Python's
# (lamina.query.metrics.fill), which may order totals a float's last bit apart otherwise
TOP_SLACK = 10


def top_groups(cells_sql: str, query: MetricQuery, materialize: bool = False) -> str:
    """``cells_sql`` (rows ``grp, b, v0, v1...``) cut to the groups among the ``top`` by
    the total of any of the query's metrics in the range, in SQL both stores read: a
    chart by user reads a cell a user and bucket, which grows with the users, while the
    chart shows ten. Ungrouped and score charts are answered whole. ``materialize``:
    DuckDB turns a window's total into a join that would read the cells' tables twice
    (ClickHouse reads the cells once as they are)."""
    if query.top is None or query.group_by is None or query.metric.base is Base.SCORES:
        return cells_sql
    values = [f"v{n}" for n in range(len(query.metrics))]
    totals = ", ".join(f"sum({v}) OVER (PARTITION BY grp) AS t_{v}" for v in values)
    # rows of one group share its total and name, so a group's rank is each of its rows'
    ranks = ", ".join(
        f"dense_rank() OVER (ORDER BY t_{v} DESC NULLS LAST, grp) AS r_{v}" for v in values
    )
    kept = " OR ".join(f"r_{v} <= {int(query.top) + TOP_SLACK}" for v in values)
    return (
        f"WITH cells AS {'MATERIALIZED ' if materialize else ''}({cells_sql}) "
        f"SELECT grp, b, {', '.join(values)} FROM (SELECT *, {ranks} FROM "
        f"(SELECT *, {totals} FROM cells) AS totals) AS ranked WHERE {kept}"
    )


def together(queries: list[MetricQuery]) -> list[MetricQuery]:
    """``queries`` as few as can be read together: those over one summary table with one
    range, grouping and filters become one query whose ``also`` holds the others (a score
    metric, or one grouped by model but not over spans, is read alone)."""
    merged: dict[tuple[object, ...], MetricQuery] = {}
    alone: list[MetricQuery] = []
    for query in queries:
        if query.metric.base is Base.SCORES:
            alone.append(query)
            continue
        key = (
            query.metric.base,
            query.since_ns,
            query.interval_ns,
            query.buckets,
            query.group_by,
            query.sessions,
            query.traces,
            query.top,
        )
        first = merged.get(key)
        if first is None:
            merged[key] = query
        elif query.metric not in first.metrics:
            merged[key] = replace(first, also=(*first.also, query.metric))
    return [*merged.values(), *alone]


@dataclass(frozen=True, slots=True)
class Cell:
    """One value of a series: its group (None when not grouped), bucket and value.
    A ``share:`` metric's group is the label."""

    group: str | None
    bucket: int
    value: float


@dataclass(frozen=True, slots=True)
class DistributionQuery:
    metric: str  # one of DISTRIBUTIONS
    since_ns: int
    until_ns: int
    sessions: SessionQuery = SessionQuery()


@dataclass(frozen=True, slots=True)
class HistogramBucket:
    lo: float
    hi: float
    count: int


def bin_width(lowest: float, highest: float, whole: bool) -> float:
    """A round width (1, 2 or 5 times a power of ten) that splits [lowest, highest]
    into at most HISTOGRAM_BINS bins; at least 1 for ``whole`` numbers (turns)."""
    span = highest - lowest
    if span <= 0:
        return 1.0
    raw = span / HISTOGRAM_BINS
    power = 10 ** math.floor(math.log10(raw))
    width: float = next(step * power for step in (1, 2, 5, 10) if step * power >= raw)
    if span / width >= HISTOGRAM_BINS:  # the top value gets a bin of its own
        width = next(step * power for step in (2, 5, 10, 20) if step * power > width)
    return max(width, 1.0) if whole else width


def bin_start(lowest: float, width: float) -> float:
    return float(math.floor(lowest / width) * width)


def bins(start: float, width: float, counts: dict[int, int]) -> list[HistogramBucket]:
    """Every bin from the first to the last that has a value (empty ones count 0)."""
    last = max(counts)
    return [
        HistogramBucket(start + i * width, start + (i + 1) * width, counts.get(i, 0))
        for i in range(last + 1)
    ]
