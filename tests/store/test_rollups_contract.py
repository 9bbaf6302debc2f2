"""The Store contract for charts kept by hour (lamina.store.rollups): an unfiltered chart
over traces answers what the scan answers, on every store, after spans arrive late into
old hours, a request is sent again, tags change, traces, sessions and old data are
deleted, and experiments' sessions are left out or kept; another project's spans never
count.

The store is kept open from phase to phase, so every answer after the first is read
partly from what it kept: each is compared with the reference computed here from the
spans written, and at the end with a store opened again on the same data (nothing
kept: the scan), value for value (a float sum to its last bits: the engines add in
no fixed order, ClickHouse's scan differs from itself in them). A store several
servers share (ClickHouse) also answers so while another server writes, tags and
deletes: its stamps are in the database, not in one server's memory.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from lamina.query.metrics import parse_metric_query
from lamina.store.base import Store
from lamina.store.experiments import Experiment, session_id
from lamina.store.labels import TraceLabels
from lamina.store.metrics import METRICS, Base, Cell, MetricQuery, together
from tests.spans.record import SpanRecord
from tests.store.backends import Backend
from tests.store.test_contract import BASE, MS, SECOND, rec, trace_id
from tests.store.test_metrics_contract import (
    HOUR,
    UNTIL,
    Data,
    Trace,
    assert_same,
    make_data,
    reference,
)
from tests.store.writing import column_batch, write

MINUTE = 60 * SECOND
TRACE_METRICS = [name for name, spec in METRICS.items() if spec.base is Base.TRACES]
Answers = dict[tuple[str, str, str | None, str], dict[tuple[str | None, int], float]]


def _queries(shown: tuple[str, ...], groups: tuple[str | None, ...]) -> list[MetricQuery]:
    asked = []
    for interval in ("hour", "day"):
        for experiments in shown:
            for name in TRACE_METRICS:
                for group in (None, *METRICS[name].groups):
                    if group not in groups:
                        continue
                    params = {"metric": name, "interval": interval, "experiments": experiments}
                    if experiments == "errors":  # the Dashboard's "Errors by name"
                        params |= {"experiments": "include", "status": "error"}
                    params |= {"since": "2026-01-01T00:00:00Z", "until": UNTIL}
                    if group:
                        params["group_by"] = group
                    asked.append(parse_metric_query(params))
    return asked


def charts(
    store: Store,
    shown: tuple[str, ...] = ("include", "errors"),
    groups: tuple[str | None, ...] = (None, "model", "tag"),
) -> Answers:
    """The trace metrics in both intervals, by ``groups``, with experiments' sessions
    ``shown`` ("errors": all of them, traces with an error only), asked as the Dashboard
    asks them (several metrics in one query)."""
    answers: Answers = {}
    for query in together(_queries(shown, groups)):
        cells: dict[str, list[Cell]] = store.metric_series("prj_a", query)
        interval = "hour" if query.interval_ns == HOUR else "day"
        shown_here = "errors" if query.traces.status == "error" else query.traces.experiments
        for metric in query.metrics:
            key = (metric.name, interval, query.group_by, shown_here)
            answers[key] = {(c.group, c.bucket): c.value for c in cells[metric.name]}
    return answers


def check(answers: Answers, data: Data, runs: set[str]) -> None:
    """The answers against the reference of ``data`` (``runs``: the experiments' sessions)."""
    for (name, interval, group, shown), got in answers.items():
        step = HOUR if interval == "hour" else 24 * HOUR

        def keep(trace: Trace, shown: str = shown) -> bool:
            if shown == "errors":
                return trace.errors > 0
            return shown == "include" or trace.session_id not in runs

        expected = reference(data, name, step, group, keep)
        assert set(got) == set(expected), (name, interval, group, shown)
        assert_same(got, expected)


def _late_span(trace: Trace, at: int, **fields: Any) -> SpanRecord:
    span = rec(
        trace.trace_id,
        "late",
        start=at,
        ms=40,
        parent=trace.spans[0].span_id,
        session_id=trace.session_id,
        user_id=trace.user_id,
        **fields,
    )
    trace.spans.append(span)
    trace.start, trace.end = min(trace.start, span.start_ns), max(trace.end, span.end_ns)
    return span


def test_kept_charts_answer_as_the_scan(backend: Backend, store: Store) -> None:
    rng = random.Random(14)
    data = make_data(rng)
    theirs = make_data(rng, project="prj_b")
    write(store, [s for t in data.traces + theirs.traces for s in t.spans])
    check(charts(store), data, set())
    check(charts(store), data, set())  # all kept now

    # spans arriving late into old hours: one moves its trace's start two hours back,
    # one is a whole new trace in the first hour, one is another project's
    old = data.traces[5]
    late = [
        _late_span(old, old.start - 2 * HOUR, span_type="LLM", model="gpt-c", cost=0.5),
        _late_span(data.traces[9], data.traces[9].start + 5 * MS, status="error"),
    ]
    new = Trace(trace_id(), "prj_a-late", "u-9", "late", BASE + 60 * SECOND, 0)
    new.spans.append(rec(new.trace_id, "late", start=new.start, ms=70, session_id=new.session_id))
    new.spans[0].user_id, new.end = "u-9", new.start + 70 * MS
    data.traces.append(new)
    late += [*new.spans, rec(trace_id(), "theirs", project="prj_b", start=BASE, cost=9.0)]
    store.write_columns([column_batch(late, "late-request")])
    store.write_columns([column_batch(late, "late-request")])  # sent again: counted once
    check(charts(store), data, set())

    # a tag given to a stored trace moves it into another group
    labels = TraceLabels(tags=("violet",), metadata={}, at_ns=BASE)
    assert store.label_trace("prj_a", old.trace_id, labels)
    old.spans[0].tags = (*old.spans[0].tags, "violet")

    # deletes: a trace, a session, everything that ended before the second day
    gone = data.traces[3]
    store.delete_trace("prj_a", gone.trace_id)
    session = next(t.session_id for t in data.traces if t.session_id and t is not gone)
    store.delete_session("prj_a", session)
    data.traces = [t for t in data.traces if t is not gone and t.session_id != session]
    check(charts(store), data, set())

    store.delete_before("prj_a", BASE + 24 * HOUR)
    data.traces = [t for t in data.traces if t.end >= BASE + 24 * HOUR]
    store.delete_project("prj_b")
    check(charts(store), data, set())

    # an experiment's session: kept like any other until the experiment exists, then
    # left out when asked to
    run = session_id("exp_1")
    trace = Trace(trace_id(), run, None, "run", BASE + 30 * HOUR, BASE + 30 * HOUR + 90 * MS)
    trace.spans.append(rec(trace.trace_id, "run", start=trace.start, ms=90, session_id=run))
    data.traces.append(trace)
    write(store, trace.spans)
    both = ("include", "exclude", "errors")
    check(charts(store, both), data, set())
    store.put_experiment("prj_a", Experiment("exp_1", "run 1", "runs", None, BASE))
    check(charts(store, both), data, {run})

    # a trace over two hours is given the run's session late, by a span in its first
    # hour: its LLM call in the second hour is left out with it
    at = BASE + 50 * HOUR
    wide = Trace(trace_id(), None, None, "wide", at, at + 80 * MINUTE)
    wide.spans.append(rec(wide.trace_id, "wide", start=at, ms=80 * 60_000))
    llm: dict[str, Any] = {"span_type": "LLM", "model": "gpt-c", "cost": 0.25}
    root = wide.spans[0].span_id
    wide.spans.append(rec(wide.trace_id, "llm", start=at + 70 * MINUTE, parent=root, **llm))
    data.traces.append(wide)
    write(store, wide.spans)
    check(charts(store, both), data, {run})
    named = rec(wide.trace_id, "named", start=at + MS, parent=root, session_id=run)
    wide.spans.append(named)
    wide.session_id = run
    write(store, [named])
    check(charts(store, both), data, {run})

    every = (None, "model", "tag", "user_id", "name")
    kept = charts(store, both, every)
    store.close()
    again = backend.open()
    try:
        scanned = charts(again, both, every)
    finally:
        again.close()
    assert set(kept) == set(scanned)
    for key, got in kept.items():  # the same SQL; float sums may add in another order
        assert_same(got, scanned[key])


def test_kept_charts_see_another_servers_writes(backend: Backend, store: Store) -> None:
    if not store.shared:
        pytest.skip("one process owns a DuckDB data directory: its stamps are its own")
    rng = random.Random(15)
    data = make_data(rng)
    run = session_id("exp_2")
    trace = Trace(trace_id(), run, None, "run", BASE + 40 * HOUR, BASE + 40 * HOUR + 90 * MS)
    trace.spans.append(rec(trace.trace_id, "run", start=trace.start, ms=90, session_id=run))
    data.traces.append(trace)
    write(store, [s for t in data.traces for s in t.spans])
    both = ("include", "exclude", "errors")
    check(charts(store, both), data, set())  # kept by this server from now on
    other = backend.open()  # a second server on the same database
    try:
        # a late span moving a trace's start two hours back, and one within a trace
        old = data.traces[5]
        late = [
            _late_span(old, old.start - 2 * HOUR, span_type="LLM", model="gpt-c", cost=0.5),
            _late_span(data.traces[9], data.traces[9].start + 5 * MS, status="error"),
        ]
        other.write_columns([column_batch(late, "other-late")])
        check(charts(store, both), data, set())

        labels = TraceLabels(tags=("violet",), metadata={}, at_ns=BASE)
        assert other.label_trace("prj_a", old.trace_id, labels)
        old.spans[0].tags = (*old.spans[0].tags, "violet")
        check(charts(store, both), data, set())

        gone = data.traces[3]
        other.delete_trace("prj_a", gone.trace_id)
        data.traces = [t for t in data.traces if t is not gone]
        check(charts(store, both), data, set())

        other.put_experiment("prj_a", Experiment("exp_2", "run 2", "runs", None, BASE))
        check(charts(store, both), data, {run})
    finally:
        other.close()
