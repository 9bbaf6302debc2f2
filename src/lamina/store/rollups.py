"""Charts over traces and spans kept by hour, so a chart reads only the hours that changed.

A trace chart's unfiltered series (the Dashboard's, ``GET /api/v1/metrics`` without
list filters) scanned every trace, or every span by model, of its range; the default
range is the last 7 days, so the scan grew with the store (cost by model 5.8x from 1M
to 5M spans, session 14). Here each bucket's cells are kept once read, with the
**stamp** of the hours the bucket covers: ingest stamps each hour it changes (the
starts of the spans it stores, and the old starts of the traces those spans extend:
a trace's bucket is its start, a span's by model its own), a delete stamps the whole
project. A read answers the buckets whose stamp is the one kept, and reads the others
again with the very SQL of the scan (one query per run of neighbouring buckets),
so an answer is the scan's answer, to the bit: sums, distinct users and percentiles
alike. Spans arriving late into an old hour stamp that hour; a span sent again stamps
its hour (the scan decides whether it counts, the same as before); experiments' sessions
left out or kept are part of what a bucket is kept by, with the list of those sessions.

Why this is exact: a stamp is taken from a counter that only grows, and a write stamps
its hours after it commits or rolls back (:meth:`Rollups.settle`, from the end of the
connection's ``writing()``), while a read takes the stamps before its query. A read
whose query saw a write's rows therefore either kept them under stamps the write then
replaced (read again next time) or took its stamps after the write had stamped: never
old rows under a new stamp. One process owns a DuckDB data directory, so its stamps
live in its memory: after a restart every bucket is read once again. Several servers
share one ClickHouse, so its stamps are rows in it, written after each write's rows
and read before the query (:mod:`lamina.store.clickhouse.stamps`): a store passes
their reader.

Filtered charts (a user, a name, a tag, metadata, scores...) are not kept: they scan
as before, narrowed by their filters.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable

from lamina.store.metrics import HOUR_NS, TOP_SLACK, Base, Cell, MetricQuery
from lamina.store.queries import TraceQuery

# Kept series (one per metrics, interval, grouping and experiments), buckets each and
# cells in all (a chart by user keeps a cell per user and hour): beyond these a series'
# oldest buckets go, then the least recently read series.
KEPT_SERIES = 64
KEPT_BUCKETS = 5000
KEPT_CELLS = 400_000
# A read scans each run of neighbouring changed buckets apart (the current hour and an
# old one late spans landed in: two small scans, not one over the days between), up to
# this many runs.
STALE_RUNS = 4

Values = dict[str, list[tuple[str | None, float]]]  # a bucket's cells by metric name
Reader = Callable[[MetricQuery], dict[str, list[Cell]]]
# A project's stamps between two times: (the stamp of its last delete, {hour start:
# stamp}) for the hours in [since, until); 0 or missing: never stamped.
Stamps = Callable[[str, int, int], tuple[int, dict[int, int]]]
# A bucket's stamp: the project's delete stamp and each of its hours' stamps.
Stamp = tuple[int, tuple[int, ...]]
_PLAIN = TraceQuery()


def kept(query: MetricQuery) -> bool:
    """Whether the query's series is kept by hour: a metric over traces (or spans by
    model) without list filters but the status (the trace's own errors: a change of it
    is a write to the trace, which stamps its hours), in hour or day buckets (aligned to
    whole hours)."""
    if query.metric.base is not Base.TRACES or query.interval_ns % HOUR_NS:
        return False
    if query.since_ns % HOUR_NS:
        return False
    plain = dataclasses.replace(
        query.traces, experiments="include", experiment_sessions=(), status=None
    )
    return dataclasses.replace(plain, limit=_PLAIN.limit) == _PLAIN


def _runs(stale: list[int]) -> list[tuple[int, int]]:
    """The stale buckets as runs of neighbours (first, last), one read each; more than
    STALE_RUNS runs are read as one from the first to the last."""
    runs: list[tuple[int, int]] = []
    for b in stale:
        if runs and runs[-1][1] == b - 1:
            runs[-1] = (runs[-1][0], b)
        else:
            runs.append((b, b))
    return runs if len(runs) <= STALE_RUNS else [(stale[0], stale[-1])]


def hour(start_ns: int) -> int:
    return start_ns - start_ns % HOUR_NS


class Rollups:
    """The kept buckets and the stamps of the hours, for one store: the stamps in this
    process's memory (:meth:`touch`, :meth:`settle`), or read with ``stamps``."""

    def __init__(self, stamps: Stamps | None = None) -> None:
        self._read_stamps = stamps if stamps is not None else self._own_stamps
        self._lock = threading.Lock()  # stamps and kept buckets
        self._reading = threading.Lock()  # one read of missing buckets at a time
        self._counter = itertools.count(1)
        self._hours: dict[str, dict[int, int]] = {}  # project -> hour start -> stamp
        self._projects: dict[str, int] = {}  # project -> stamp of its last delete
        self._series: OrderedDict[tuple[object, ...], dict[int, tuple[Stamp, Values]]]
        self._series = OrderedDict()
        self._cells: dict[tuple[object, ...], int] = {}  # cells kept by series
        self._pending = threading.local()

    # -- writes ------------------------------------------------------------------

    def touch(self, hours: Iterable[tuple[str, int]]) -> None:
        """Note hours (project, start of the hour) a write under way on this thread
        changes; they are stamped when the write ends (:meth:`settle`)."""
        pending: set[tuple[str, int]] = getattr(self._pending, "hours", set())
        pending.update(hours)
        self._pending.hours = pending

    def touch_project(self, project_id: str) -> None:
        """Note that a write under way on this thread changes any of the project's hours."""
        pending: set[str] = getattr(self._pending, "projects", set())
        pending.add(project_id)
        self._pending.projects = pending

    def settle(self) -> None:
        """Stamp what this thread's write noted: called once it committed or rolled back."""
        hours: set[tuple[str, int]] = getattr(self._pending, "hours", set())
        projects: set[str] = getattr(self._pending, "projects", set())
        if not hours and not projects:
            return
        self._pending.hours, self._pending.projects = set(), set()
        with self._lock:
            for project_id, start in hours:
                self._hours.setdefault(project_id, {})[start] = next(self._counter)
            for project_id in projects:
                self._projects[project_id] = next(self._counter)
                self._hours.pop(project_id, None)
                for key in [key for key in self._series if key[0] == project_id]:
                    self._drop(key)

    # -- reads -------------------------------------------------------------------

    def series(self, project_id: str, query: MetricQuery, read: Reader) -> dict[str, list[Cell]]:
        """The query's cells (it must be :func:`kept`): the kept buckets whose hours kept
        their stamps, the others read with ``read`` (the scan, every group's cells) and
        kept; a chart of its ``top`` groups cut to them here (as store.metrics.top_groups
        cuts a scan's)."""
        key = (
            project_id,
            tuple(metric.name for metric in query.metrics),
            query.interval_ns,
            query.group_by,
            query.traces.experiments,
            query.traces.experiment_sessions,
            query.traces.status,
        )
        starts = [query.since_ns + b * query.interval_ns for b in range(query.buckets)]
        if not starts:
            return {metric.name: [] for metric in query.metrics}
        with self._reading:
            stamps = self._stamps(project_id, starts, query.interval_ns)
            with self._lock:
                held = dict(self._series.get(key, {}))
            stale = [b for b, start in enumerate(starts) if _stamp(held.get(start)) != stamps[b]]
            for first, last in _runs(stale):
                part = dataclasses.replace(
                    query, since_ns=starts[first], buckets=last - first + 1, top=None
                )
                fresh: dict[int, tuple[Stamp, Values]] = {
                    starts[b]: (stamps[b], {}) for b in range(first, last + 1)
                }
                for name, cells in read(part).items():
                    for cell in cells:
                        values = fresh[starts[first + cell.bucket]][1]
                        values.setdefault(name, []).append((cell.group, cell.value))
                held.update(fresh)
                self._keep(key, fresh)
        buckets = [held[start][1] for start in starts]
        shown = _top(query, buckets)
        answer: dict[str, list[Cell]] = {metric.name: [] for metric in query.metrics}
        for b, values in enumerate(buckets):
            for name, pairs in values.items():
                answer[name].extend(
                    Cell(group, b, value)
                    for group, value in pairs
                    if shown is None or group in shown
                )
        return answer

    def _stamps(self, project_id: str, starts: list[int], interval_ns: int) -> list[Stamp]:
        """Each bucket's stamp: the project's deletes' and each of its hours'."""
        floor, hours = self._read_stamps(project_id, starts[0], starts[-1] + interval_ns)
        return [
            (floor, tuple(hours.get(h, 0) for h in range(start, start + interval_ns, HOUR_NS)))
            for start in starts
        ]

    def _own_stamps(
        self, project_id: str, since_ns: int, until_ns: int
    ) -> tuple[int, dict[int, int]]:
        with self._lock:
            hours = self._hours.get(project_id, {})
            if (until_ns - since_ns) // HOUR_NS < len(hours):  # the range's hours, or the held
                held = {h: hours[h] for h in range(since_ns, until_ns, HOUR_NS) if h in hours}
            else:
                held = {h: stamp for h, stamp in hours.items() if since_ns <= h < until_ns}
            return self._projects.get(project_id, 0), held

    def _keep(self, key: tuple[object, ...], fresh: dict[int, tuple[Stamp, Values]]) -> None:
        with self._lock:
            buckets = self._series.setdefault(key, {})
            buckets.update(fresh)
            self._series.move_to_end(key)
            while len(buckets) > KEPT_BUCKETS:
                del buckets[min(buckets)]
            self._cells[key] = sum(
                len(pairs) for _, values in buckets.values() for pairs in values.values()
            )
            while len(self._series) > KEPT_SERIES or sum(self._cells.values()) > KEPT_CELLS:
                self._drop(next(iter(self._series)))

    def _drop(self, key: tuple[object, ...]) -> None:
        del self._series[key]
        self._cells.pop(key, None)


def _top(query: MetricQuery, buckets: list[Values]) -> set[str | None] | None:
    """The groups among the ``top`` (and TOP_SLACK more) by the total of any of the
    query's metrics over the range; None: every group (an ungrouped chart, or no top)."""
    if query.top is None or query.group_by is None:
        return None
    shown: set[str | None] = set()
    for metric in query.metrics:
        totals: dict[str | None, float] = {}
        for values in buckets:
            for group, value in values.get(metric.name, ()):
                totals[group] = totals.get(group, 0.0) + value
        ranked = sorted(totals, key=lambda group: (-totals[group], str(group)))
        shown.update(ranked[: query.top + TOP_SLACK])
    return shown


def _stamp(held: tuple[Stamp, Values] | None) -> Stamp | None:
    return None if held is None else held[0]
