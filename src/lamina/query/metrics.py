"""Metrics over time and distributions for ``GET /api/v1/metrics`` and the dashboard
(both call these, with the same parameters).

Parsing turns request parameters into a :class:`~lamina.store.metrics.MetricQuery`:
the metric, a range cut into hour or day buckets (aligned to UTC), a grouping and the
lists' filters (lamina.query.params), each checked with a 400 that says what is wrong.
The store answers the buckets that have rows; here every series gets every bucket
(a count or sum is 0 where nothing happened; an average, rate or percentile has no
point there), and a grouping keeps its ``top`` groups by their total.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping
from typing import Any, TypeVar

from lamina.errors import BadRequest
from lamina.query.params import parse_session_query, parse_trace_query
from lamina.query.params import time_param as parse_time
from lamina.query.present import cost, moment
from lamina.store.base import Row, Store
from lamina.store.metrics import (
    DISTRIBUTIONS,
    INTERVALS,
    MAX_BUCKETS,
    METRICS,
    Base,
    Cell,
    DistributionQuery,
    Kind,
    MetricQuery,
    metric,
)
from lamina.store.queries import DEFAULT_LIMIT, SessionQuery, TraceQuery

Q = TypeVar("Q", SessionQuery, TraceQuery)
DAY_NS = INTERVALS["day"]
DEFAULT_TOP = 10
MAX_TOP = 50
# Without an interval, a range up to this long is cut into hours, a longer one into days.
HOURS_UP_TO_NS = 3 * DAY_NS


def parse_metric_query(
    params: Mapping[str, str], metadata: list[str] | None = None, now_ns: int | None = None
) -> MetricQuery:
    name = (params.get("metric") or "").strip()
    chosen = metric(name)
    if chosen is None:
        known = ", ".join([*METRICS, "score:NAME", "share:NAME", "outcome_share"])
        raise BadRequest(
            f"metric must be one of {known}; got {name!r}."
            if name
            else f"metric is required: {known}."
        )
    since_ns, until_ns = _range(params, now_ns)
    interval = (params.get("interval") or "").strip()
    if not interval:
        interval = "hour" if until_ns - since_ns <= HOURS_UP_TO_NS else "day"
    if interval not in INTERVALS:
        raise BadRequest(f"interval must be hour or day; got {interval!r}.")
    step = INTERVALS[interval]
    start = since_ns - since_ns % step
    buckets = max(1, math.ceil((until_ns - start) / step))
    if buckets > MAX_BUCKETS:
        raise BadRequest(
            f"From since to until is {buckets} {interval}s; a series has at most {MAX_BUCKETS} "
            "points. Narrow the range or use interval=day."
        )
    group_by = (params.get("group_by") or "").strip() or None
    if group_by is not None and group_by not in chosen.groups:
        takes = ", ".join(chosen.groups) or "no group_by"
        raise BadRequest(f"metric {chosen.name} takes group_by {takes}; got {group_by!r}.")
    sessions, traces = SessionQuery(), TraceQuery()
    if chosen.base is Base.TRACES:
        traces = _unpaged(parse_trace_query(params, metadata, experiments="include"))
    else:
        if params.get("name"):
            raise BadRequest(
                f"metric {chosen.name} counts sessions or scores: the name filter (a trace's "
                "name) applies only to the trace metrics."
            )
        sessions = _unpaged(parse_session_query(params, metadata, experiments="include"))
    return MetricQuery(chosen, start, step, buckets, group_by, sessions, traces)


def parse_distribution_query(
    params: Mapping[str, str], metadata: list[str] | None = None, now_ns: int | None = None
) -> DistributionQuery:
    name = (params.get("metric") or "").strip()
    if name not in DISTRIBUTIONS:
        raise BadRequest(f"metric must be one of {', '.join(DISTRIBUTIONS)}; got {name!r}.")
    if params.get("name"):
        raise BadRequest(
            "Distributions are of sessions: the name filter (a trace's) does not apply."
        )
    since_ns, until_ns = _range(params, now_ns)
    sessions = _unpaged(parse_session_query(params, metadata, experiments="include"))
    return DistributionQuery(name, since_ns, until_ns, sessions)


def _unpaged(query: Q) -> Q:
    """A list query's filters alone: its paging, sort and time bounds as by default
    (the time bounds of a metric are its buckets')."""
    return dataclasses.replace(
        query,
        limit=DEFAULT_LIMIT,
        cursor=None,
        sort="start_time",
        descending=True,
        score_sort=None,
        since_ns=None,
        until_ns=None,
    )


def _range(params: Mapping[str, str], now_ns: int | None) -> tuple[int, int]:
    """since and until; by default until is now and since a week before it."""
    until_ns = parse_time(params, "until")
    if until_ns is None:
        until_ns = time.time_ns() if now_ns is None else now_ns
    since_ns = parse_time(params, "since")
    if since_ns is None:
        since_ns = until_ns - 7 * DAY_NS
    if since_ns >= until_ns:
        raise BadRequest("since must be before until.")
    return since_ns, until_ns


def series(store: Store, project_id: str, query: MetricQuery, top: int = DEFAULT_TOP) -> Row:
    """The JSON API's answer: ``{metric, interval, since, until, group_by, unit, title,
    series: [{group, points: [{t, v}]}]}``."""
    found = store.metric_series(project_id, dataclasses.replace(query, top=top))
    return answer(query, found[query.metric.name], top)


def read_together(store: Store, project_id: str, query: MetricQuery, top: int) -> list[Row]:
    """The answers of each of ``query.metrics`` (see lamina.store.metrics.together), read in
    one query: what the dashboard asks for a summary table's charts at once."""
    found = store.metric_series(project_id, dataclasses.replace(query, top=top))
    return [
        answer(dataclasses.replace(query, metric=metric, also=()), found[metric.name], top)
        for metric in query.metrics
    ]


def answer(query: MetricQuery, cells: list[Cell], top: int) -> Row:
    return {
        "metric": query.metric.name,
        "title": query.metric.title,
        "unit": query.metric.unit,
        "interval": "hour" if query.interval_ns < DAY_NS else "day",
        "since": moment(query.since_ns),
        "until": moment(query.until_ns),
        "group_by": query.group_by,
        "series": fill(query, cells, top),
    }


def fill(query: MetricQuery, cells: list[Cell], top: int) -> list[Row]:
    """Every bucket of each group (see the module's docstring), the groups by total."""
    by_group: dict[str | None, dict[int, float]] = {}
    for cell in cells:
        if 0 <= cell.bucket < query.buckets:
            by_group.setdefault(cell.group, {})[cell.bucket] = cell.value
    grouped = query.group_by is not None or query.metric.name.startswith("share:")
    if not grouped:
        by_group = {None: by_group.get(None, {})}
    ranked = sorted(by_group.items(), key=lambda item: (-sum(item[1].values()), str(item[0])))
    counted = query.metric.kind is Kind.COUNT
    money = query.metric.unit == "USD"
    out = []
    for group, values in ranked[:top] if grouped else ranked:
        points = []
        for bucket in range(query.buckets):
            value = values.get(bucket, 0.0 if counted else None)
            if value is not None:
                at = moment(query.since_ns + bucket * query.interval_ns)
                points.append({"t": at, "v": _number(value, money)})
        out.append({"group": group, "points": points})
    return out


def _number(value: float, money: bool = False) -> float | int:
    """A whole number as an int; else to 10 significant digits (a cost too)."""
    if not money and value == int(value) and abs(value) < 2**53:
        return int(value)
    return cost(value) or 0.0


def distribution(store: Store, project_id: str, query: DistributionQuery) -> Row:
    buckets = store.metric_distribution(project_id, query)
    return {
        "metric": query.metric,
        "title": DISTRIBUTIONS[query.metric],
        "since": moment(query.since_ns),
        "until": moment(query.until_ns),
        "buckets": [{"lo": _number(b.lo), "hi": _number(b.hi), "count": b.count} for b in buckets],
    }


def parse_top(params: Mapping[str, str]) -> int:
    text = (params.get("top") or "").strip()
    if not text:
        return DEFAULT_TOP
    if not text.isdigit() or not 1 <= int(text) <= MAX_TOP:
        raise BadRequest(f"top must be a whole number from 1 to {MAX_TOP}; got {text!r}.")
    return int(text)


def read_series(
    store: Store, project_id: str, params: Mapping[str, str], metadata: list[str]
) -> Any:
    return series(store, project_id, parse_metric_query(params, metadata), parse_top(params))


def read_distribution(
    store: Store, project_id: str, params: Mapping[str, str], metadata: list[str]
) -> Any:
    return distribution(store, project_id, parse_distribution_query(params, metadata))
