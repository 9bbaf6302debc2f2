"""The Store contract for metrics (lamina.store.metrics): every metric, grouping, filter
and distribution, on every store, against a reference computed here from the spans and
scores written.

Queries are made by the query layer's parser (lamina.query.metrics) from the same
parameters the JSON API takes, then asked of the store through the protocol only.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from lamina.query.metrics import fill, parse_distribution_query, parse_metric_query, series
from lamina.store.base import Store
from lamina.store.metrics import EDGE, METRICS, TOP_SLACK, bin_start, bin_width, together
from lamina.store.scores import Score
from tests.spans.record import SpanRecord
from tests.store.test_contract import BASE, MS, SECOND, rec, trace_id
from tests.store.writing import write

HOUR = 3600 * SECOND
UNTIL = "2026-01-04T00:00:00Z"  # BASE is 2026-01-01T00:00:00Z: three days
MODELS = ("gpt-a", "gpt-b")
USERS = ("u-1", "u-2", "u-3")
NAMES = ("chat", "search")


# -- the data and its reference ----------------------------------------------------------------


@dataclass
class Trace:
    trace_id: str
    session_id: str | None
    user_id: str | None
    name: str
    start: int
    end: int
    spans: list[SpanRecord] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(span.status == "error" for span in self.spans)

    def total(self, attr: str) -> float:
        return sum(getattr(span, attr) or 0 for span in self.spans)


@dataclass
class Data:
    traces: list[Trace] = field(default_factory=list)
    scores: list[Score] = field(default_factory=list)

    def sessions(self) -> dict[str, list[Trace]]:
        found: dict[str, list[Trace]] = defaultdict(list)
        for trace in self.traces:
            if trace.session_id is not None:
                found[trace.session_id].append(trace)
        return found


def make_data(rng: random.Random, project: str = "prj_a") -> Data:
    """Sessions of one to five turns over three days, some traces without a session."""
    data = Data()
    for n in range(30):
        session = f"{project}-s{n}" if n % 6 else None
        user = rng.choice(USERS) if n % 7 else None
        start = BASE + rng.randrange(0, 70 * 3600) * SECOND
        for turn in range(rng.randint(1, 5) if session else 1):
            trace = trace_id()
            at = start + turn * rng.randrange(1, 300) * SECOND
            name = rng.choice(NAMES)
            tags = tuple(rng.sample(("red", "blue", "green"), rng.randint(0, 2)))
            root = rec(
                trace,
                name,
                project=project,
                start=at,
                ms=rng.randrange(100, 5000),
                session_id=session,
                user_id=user,
                tags=tags,
                metadata={"plan": "pro"} if n % 3 == 0 else {},
            )
            llm = rec(
                trace,
                "llm",
                project=project,
                parent=root.span_id,
                start=at + 10 * MS,
                ms=rng.randrange(10, 90),
                span_type="LLM",
                model=rng.choice(MODELS),
                input_tokens=rng.randrange(1, 500),
                output_tokens=rng.randrange(1, 200),
                cost=rng.randrange(1, 1000) / 100_000,
                status="error" if rng.random() < 0.2 else "ok",
            )
            spans = [root, llm]
            data.traces.append(
                Trace(trace, session, user, name, at, max(s.end_ns for s in spans), spans)
            )
    return data


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between the closest ranks (DuckDB's quantile_cont)."""
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


Rows = list[tuple[str | None, int, float]]


def trace_value(metric: str, traces: list[Trace]) -> float:
    durations = [(t.end - t.start) / MS for t in traces]
    return {
        "traces": lambda: len(traces),
        "spans": lambda: sum(len(t.spans) for t in traces),
        "errors": lambda: sum(t.errors > 0 for t in traces),
        "input_tokens": lambda: sum(t.total("input_tokens") for t in traces),
        "output_tokens": lambda: sum(t.total("output_tokens") for t in traces),
        "cost": lambda: sum(t.total("cost") for t in traces),
        "error_rate": lambda: sum(t.errors > 0 for t in traces) / len(traces),
        "latency_p50": lambda: percentile(durations, 0.5),
        "latency_p95": lambda: percentile(durations, 0.95),
        "active_users": lambda: len({t.user_id for t in traces if t.user_id}),
    }[metric]()


def session_value(metric: str, sessions: list[list[Trace]]) -> float:
    durations = [(max(t.end for t in s) - min(t.start for t in s)) / MS for s in sessions]
    return {
        "sessions": lambda: len(sessions),
        "session_duration_p50": lambda: percentile(durations, 0.5),
        "session_duration_p95": lambda: percentile(durations, 0.95),
        "turns": lambda: sum(len(s) for s in sessions) / len(sessions),
    }[metric]()


def reference(
    data: Data,
    metric: str,
    step: int,
    group_by: str | None = None,
    keep: Callable[[Trace], bool] = lambda t: True,
) -> dict[tuple[str | None, int], float]:
    """The metric's value per (group, bucket), buckets of ``step`` from BASE."""
    cells: dict[tuple[str | None, int], list[Any]] = defaultdict(list)
    if METRICS[metric].base.value == "sessions":
        for traces in data.sessions().values():
            if not any(keep(t) for t in traces):
                continue
            start = min(t.start for t in traces)
            users = {t.user_id for t in traces if t.user_id} if group_by else {None}
            for user in users:
                cells[(user, (start - BASE) // step)].append(traces)
        return {key: session_value(metric, items) for key, items in cells.items()}
    if group_by == "model":
        for trace in filter(keep, data.traces):
            for span in trace.spans:
                if span.model:
                    one = Trace(trace.trace_id, None, None, "", 0, 0, [span])
                    cells[(span.model, (span.start_ns - BASE) // step)].append(one)
        return {key: trace_value(metric, items) for key, items in cells.items()}
    for trace in filter(keep, data.traces):
        groups: set[str | None] = {None}
        if group_by == "user_id":
            groups = {trace.user_id} if trace.user_id else set()
        elif group_by == "name":
            groups = {trace.name}
        elif group_by == "tag":
            groups = set(trace.spans[0].tags)
        for group in groups:
            cells[(group, (trace.start - BASE) // step)].append(trace)
    return {key: trace_value(metric, items) for key, items in cells.items()}


def asked(store: Store, params: dict[str, str]) -> dict[tuple[str | None, int], float]:
    metadata = [params.pop("metadata")] if "metadata" in params else None
    since = {"since": "2026-01-01T00:00:00Z", "until": UNTIL}
    query = parse_metric_query({**since, **params}, metadata)
    cells = store.metric_series("prj_a", query)[query.metric.name]
    return {(c.group, c.bucket): c.value for c in cells}


def assert_same(got: dict[Any, float], expected: dict[Any, float]) -> None:
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key


@pytest.fixture
def data(store: Store) -> Data:
    rng = random.Random(21)
    ours = make_data(rng)
    theirs = make_data(rng, project="prj_b")  # another project's: never counted
    write(store, [s for t in ours.traces + theirs.traces for s in t.spans])
    return ours


# -- tests -------------------------------------------------------------------------------------


@pytest.mark.parametrize("interval", ["hour", "day"])
def test_every_metric_matches_the_reference(store: Store, data: Data, interval: str) -> None:
    step = HOUR if interval == "hour" else 24 * HOUR
    for metric in METRICS:
        got = asked(store, {"metric": metric, "interval": interval})
        assert_same(got, reference(data, metric, step))


def test_groups_match_the_reference(store: Store, data: Data) -> None:
    for metric, spec in METRICS.items():
        for group_by in spec.groups:
            got = asked(store, {"metric": metric, "interval": "day", "group_by": group_by})
            assert_same(got, reference(data, metric, 24 * HOUR, group_by))


def test_filters_are_the_lists_filters(store: Store, data: Data) -> None:
    day = 24 * HOUR
    cases: list[tuple[dict[str, str], Callable[[Trace], bool]]] = [
        ({"user_id": "u-2"}, lambda t: t.user_id == "u-2"),
        ({"name": "search"}, lambda t: t.name == "search"),
        ({"status": "error"}, lambda t: t.errors > 0),
        ({"tag": "red"}, lambda t: "red" in t.spans[0].tags),
        ({"metadata": "plan=pro"}, lambda t: t.spans[0].metadata.get("plan") == "pro"),
    ]
    for params, keep in cases:
        for metric in ("traces", "cost", "latency_p95"):
            got = asked(store, {"metric": metric, "interval": "day", **params})
            assert_same(got, reference(data, metric, day, keep=keep))
        got = asked(store, {"metric": "cost", "interval": "day", "group_by": "model", **params})
        assert_same(got, reference(data, "cost", day, "model", keep))
    # a session matches a user or tag when one of its traces does (as the sessions list)
    for params, keep in [cases[0], *cases[3:]]:
        got = asked(store, {"metric": "sessions", "interval": "day", **params})
        assert_same(got, reference(data, "sessions", day, keep=keep))


def test_scores_and_shares(store: Store, data: Data) -> None:
    sessions = sorted(data.sessions())
    scores = []
    for n, session in enumerate(sessions):
        created = BASE + n * 2 * HOUR
        scores.append(_score(f"h{n}", "helpfulness", n % 5 / 4, session=session, at=created))
        label = ("success", "failure", "success", "unknown")[n % 4]
        scores.append(_score(f"o{n}", "outcome", None, label=label, session=session, at=created))
    store.add_scores("prj_a", scores)
    got = asked(store, {"metric": "score:helpfulness", "interval": "day"})
    expected: dict[tuple[str | None, int], list[float]] = defaultdict(list)
    for s in scores:
        if s.name == "helpfulness" and s.value is not None:
            expected[(None, (s.created_ns - BASE) // (24 * HOUR))].append(s.value)
    assert_same(got, {key: sum(v) / len(v) for key, v in expected.items()})
    got = asked(store, {"metric": "outcome_share", "interval": "day"})
    labels: dict[int, list[str]] = defaultdict(list)
    for s in scores:
        if s.name == "outcome" and s.label:
            labels[(s.created_ns - BASE) // (24 * HOUR)].append(s.label)
    shares = {
        (label, bucket): found.count(label) / len(found)
        for bucket, found in labels.items()
        for label in set(found)
    }
    assert_same(got, shares)
    # filtered to one user's sessions: only the scores on those
    mine = {
        sid for sid, traces in data.sessions().items() if any(t.user_id == "u-1" for t in traces)
    }
    got = asked(store, {"metric": "score:helpfulness", "interval": "day", "user_id": "u-1"})
    expected.clear()
    for s in scores:
        if s.name == "helpfulness" and s.session_id in mine and s.value is not None:
            expected[(None, (s.created_ns - BASE) // (24 * HOUR))].append(s.value)
    assert_same(got, {key: sum(v) / len(v) for key, v in expected.items()})


def _score(
    score_id: str,
    name: str,
    value: float | None,
    *,
    session: str,
    at: int,
    label: str | None = None,
) -> Score:
    return Score(
        score_id=score_id,
        name=name,
        value=value,
        label=label,
        source="api",
        author="tester",
        session_id=session,
        trace_id=None,
        span_id=None,
        comment=None,
        created_ns=at,
    )


@pytest.mark.parametrize("metric", ["turns", "session_duration_ms", "session_cost"])
def test_distributions_match_the_reference(store: Store, data: Data, metric: str) -> None:
    values = []
    for traces in data.sessions().values():
        values.append(
            {
                "turns": len(traces),
                "session_duration_ms": (max(t.end for t in traces) - min(t.start for t in traces))
                / MS,
                "session_cost": sum(t.total("cost") for t in traces),
            }[metric]
        )
    query = parse_distribution_query({"metric": metric, "since": "2026-01-01", "until": UNTIL})
    buckets = store.metric_distribution("prj_a", query)
    width = bin_width(min(values), max(values), whole=metric == "turns")
    start = bin_start(min(values), width)
    counts: dict[int, int] = defaultdict(int)
    for value in values:
        counts[math.floor((value - start) / width + EDGE)] += 1
    assert [b.count for b in buckets] == [counts.get(i, 0) for i in range(max(counts) + 1)]
    assert buckets[0].lo == pytest.approx(start)
    assert all(b.hi - b.lo == pytest.approx(width) for b in buckets)
    assert sum(b.count for b in buckets) == len(values) and len(buckets) <= 22


def test_nothing_in_the_range(store: Store, data: Data) -> None:
    query = parse_metric_query(
        {"metric": "traces", "since": "2025-01-01T00:00:00Z", "until": "2025-01-02T00:00:00Z"}
    )
    assert store.metric_series("prj_a", query) == {"traces": []}
    assert store.metric_series("prj_nobody", parse_metric_query({"metric": "cost"})) == {"cost": []}
    none = parse_distribution_query(
        {"metric": "turns", "since": "2025-01-01", "until": "2025-02-01"}
    )
    assert store.metric_distribution("prj_a", none) == []


def test_metrics_read_together_are_each_as_read_alone(store: Store, data: Data) -> None:
    """The dashboard reads a summary table's metrics in one query (together): each is
    what it is alone, for every grouping."""
    since = {"since": "2026-01-01T00:00:00Z", "until": UNTIL, "interval": "day"}
    for group_by in (None, "user_id", "name", "tag", "model"):
        queries = [
            parse_metric_query(
                {**since, "metric": name, **({"group_by": group_by} if group_by else {})}
            )
            for name, spec in METRICS.items()
            if group_by is None or group_by in spec.groups
        ]
        merged = together(queries)
        assert len(merged) == (2 if group_by in (None, "user_id") else 1)
        for query in merged:
            found = store.metric_series("prj_a", query)
            assert set(found) == {m.name for m in query.metrics}
            for metric in query.metrics:
                alone = store.metric_series("prj_a", replace(query, metric=metric, also=()))
                assert found[metric.name] and sorted(found[metric.name], key=repr) == sorted(
                    alone[metric.name], key=repr
                )


def test_a_chart_of_many_groups_reads_only_about_its_top_ones(store: Store) -> None:
    """A chart by user shows its ten (``top``) users: the store answers the cells of
    about those (top_groups), and the chart is the one every group's cells give."""
    rng = random.Random(5)
    spans = []
    for user in range(40):  # user u-00 has one trace, u-39 forty
        for turn in range(user + 1):
            trace = trace_id()
            at = BASE + rng.randrange(0, 70 * 3600) * SECOND
            session = f"many-s{user}-{turn % 3}"
            spans.append(
                rec(
                    trace,
                    "chat",
                    project="prj_many",
                    start=at,
                    ms=rng.randrange(100, 900),
                    session_id=session,
                    user_id=f"u-{user:02d}",
                    cost=(40 - user) / 1000 + user / 1e6,
                )
            )
    write(store, spans)
    since = {"since": "2026-01-01T00:00:00Z", "until": UNTIL, "interval": "day"}
    for metrics in (("traces", "cost"), ("sessions", "turns")):
        queries = [
            parse_metric_query({**since, "metric": m, "group_by": "user_id"}) for m in metrics
        ]
        (query,) = together(queries)
        every = store.metric_series("prj_many", query)
        cut = store.metric_series("prj_many", replace(query, top=3))
        for metric in query.metrics:
            groups = {cell.group for cell in cut[metric.name]}
            # each metric's top 3 by total, and no more than top + slack for any metric
            assert len(groups) <= 2 * (3 + TOP_SLACK) < len({c.group for c in every[metric.name]})
            one = replace(query, metric=metric, also=())
            assert fill(one, cut[metric.name], 3) == fill(one, every[metric.name], 3)
    # by count the top are the users with the most traces (by cost, the middle ones:
    # user n has n + 1 traces of about (40 - n) / 1000 each, so the two metrics' tops
    # differ; no two totals are equal, as two float sums may differ in their last bit)
    answer = series(
        store,
        "prj_many",
        parse_metric_query({**since, "metric": "traces", "group_by": "user_id"}),
        3,
    )
    assert [s["group"] for s in answer["series"]] == ["u-39", "u-38", "u-37"]
