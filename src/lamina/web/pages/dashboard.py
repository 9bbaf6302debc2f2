"""The Dashboard page: a project's sessions, traces, tokens, cost, errors, latency and
scores over a time range, as charts drawn on the server (lamina.web.pages.charts).

Every chart is one call of :mod:`lamina.query.metrics` with the parameters
``GET /api/v1/metrics`` would take (its JSON twin, linked under the chart's data); the
page only picks the range, the interval and the filters from its address, and turns
each bucket, bin or bar into a link to the Traces page's list filtered to it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.datastructures import ImmutableMultiDict
from starlette.responses import Response

from lamina.errors import BadRequest
from lamina.query import metrics
from lamina.store.base import Row, Store
from lamina.store.metrics import DistributionQuery, MetricQuery, together
from lamina.store.queries import MAX_LIMIT
from lamina.store.scores import ScoreQuery
from lamina.web.pages import charts
from lamina.web.pages import console as console_page
from lamina.web.pages.base import Page
from lamina.web.pages.render import query, viewer_zone

RANGES = {"24h": (timedelta(hours=24), "Last 24 h"), "7d": (timedelta(days=7), "Last 7 days")}
RANGES["30d"] = (timedelta(days=30), "Last 30 days")
DEFAULT_RANGE = "24h"  # by hour: a day's work (the demo's sessions) reads at a glance
HOURLY_UP_TO = timedelta(days=2)  # a longer range is drawn by day
FILTERS = ("user_id", "tag", "name", "status")  # and metadata, score (repeatable)
TRACE_ONLY = ("name", "status")  # a trace's name and status (ok, error)
TOP = 10
SCORE_NAMES = 12  # score charts at most

# (title, metrics stacked or drawn as lines, lines?, the list a bucket opens, its filters)
TIME_CHARTS: list[tuple[str, tuple[str, ...], bool, str, dict[str, str]]] = [
    ("Sessions started", ("sessions",), False, "sessions", {}),
    ("Traces", ("traces",), False, "traces", {}),
    ("Tokens", ("input_tokens", "output_tokens"), False, "traces", {}),
    ("Cost", ("cost",), False, "traces", {}),
    ("Error rate", ("error_rate",), True, "traces", {"status": "error"}),
    ("Trace latency", ("latency_p50", "latency_p95"), True, "traces", {}),
    ("Session duration", ("session_duration_p50", "session_duration_p95"), True, "sessions", {}),
    ("Turns per session", ("turns",), True, "sessions", {}),
    ("Active users", ("active_users",), False, "traces", {}),
]
LABELS = {
    "input_tokens": "input",
    "output_tokens": "output",
    "latency_p50": "p50",
    "latency_p95": "p95",
    "session_duration_p50": "p50",
    "session_duration_p95": "p95",
}
# (title, metric, group_by, the list a bar opens, its filter for the group, extra filters)
RANKINGS = [
    ("Cost by model", "cost", "model", None, None, {}),
    ("Tokens by model", "tokens", "model", None, None, {}),
    ("Sessions by user (top 10)", "sessions", "user_id", "sessions", "user_id", {}),
    ("Cost by user (top 10)", "cost", "user_id", "sessions", "user_id", {}),
    ("Traces by name", "traces", "name", "traces", "name", {}),
    ("Errors by name", "errors", "name", "traces", "name", {"status": "error"}),
]
HISTOGRAMS = [
    ("Turns per session", "turns", "turns"),
    ("Session duration", "session_duration_ms", "ms"),
    ("Cost per session", "session_cost", "USD"),
]


@dataclass
class View:
    """The range, interval and filters the page's address asks for."""

    range: str
    since: datetime
    until: datetime
    filters: dict[str, str]
    metadata: list[str] = field(default_factory=list)
    scores: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def hourly(self) -> bool:
        return self.until - self.since <= HOURLY_UP_TO

    @property
    def step(self) -> timedelta:
        return timedelta(hours=1) if self.hourly else timedelta(days=1)

    @classmethod
    def read(cls, page: Page, now: datetime) -> View:
        params = page.request.query_params
        chosen = params.get("range") or DEFAULT_RANGE
        filters = {n: v.strip() for n in FILTERS if (v := params.get(n) or "").strip()}
        metadata = [m.strip() for m in params.getlist("metadata") if m.strip()]
        scores = [s.strip() for s in params.getlist("score") if s.strip()]
        default = now - RANGES[DEFAULT_RANGE][0]
        view = cls(DEFAULT_RANGE, default, now, filters, metadata, scores)
        if chosen == "custom":
            view.range = "custom"
            try:
                view.since = _day(params.get("since"), now - RANGES["7d"][0])  # custom: a week
                view.until = _day(params.get("until"), now) + timedelta(days=1)
            except (ValueError, OverflowError):  # not a day, or the last one there is
                view.error = "Give the custom range's days as YYYY-MM-DD."
            if view.until - view.since > timedelta(days=900) or view.since >= view.until:
                view.error = "The custom range must start before it ends and span at most 900 days."
            if view.error:
                view.range, view.since, view.until = DEFAULT_RANGE, default, now
        elif chosen in RANGES:
            view.range, view.since = chosen, now - RANGES[chosen][0]
        return view

    def api_params(
        self, metric: str, trace_metric: bool, **extra: str
    ) -> ImmutableMultiDict[str, str]:
        pairs = [
            ("metric", metric),
            ("since", self.since.isoformat()),
            ("until", self.until.isoformat()),
            ("interval", "hour" if self.hourly else "day"),
        ]
        pairs += [(n, v) for n, v in self.filters.items() if trace_metric or n not in TRACE_ONLY]
        pairs += [(k, v) for k, v in extra.items()]
        pairs += [("score", s) for s in self.scores]
        return ImmutableMultiDict(pairs)

    def list_link(
        self, page: Page, tab: str, since: datetime, until: datetime, **extra: str
    ) -> str:
        """The Traces page's ``tab`` list of what was active in [since, until), filtered."""
        params: dict[str, Any] = {"tab": tab, "since": _iso(since), "until": _iso(until)}
        kept = {n: v for n, v in self.filters.items() if tab == "traces" or n not in TRACE_ONLY}
        params.update(kept)
        params.update(extra)
        params.update(metadata=self.metadata, score=self.scores)
        return page.path("/traces") + query(params)

    def link(self, **changes: Any) -> str:
        """This dashboard's address with some parameters changed."""
        params: dict[str, Any] = {"range": self.range, **self.filters}
        if self.range == "custom":
            params["since"] = self.since.date().isoformat()
            params["until"] = (self.until - timedelta(days=1)).date().isoformat()
        params.update(metadata=self.metadata, score=self.scores)
        params.update(changes)
        return query(params)

    def chips(self) -> list[tuple[str, str, str]]:
        """(label, value, this page without it) for each filter in use."""
        out = [
            (n.replace("_", " ").capitalize(), v, self.link(**{n: None}))
            for n, v in self.filters.items()
        ]
        for key, items in (("metadata", self.metadata), ("score", self.scores)):
            for item in items:
                rest = [i for i in items if i != item]
                out.append((key.capitalize(), item, self.link(**{key: rest})))
        return out


def _day(text: str | None, default: datetime) -> datetime:
    if not text:
        return default.replace(hour=0, minute=0, second=0, microsecond=0)
    return datetime.fromisoformat(text.strip()[:10]).replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def dashboard_page(page: Page) -> Response:
    view = View.read(page, datetime.now(UTC))
    try:
        sections, totals = await chart_sections(page, view)
    except BadRequest as exc:
        view.error = exc.message
        return await page.render(
            "dashboard.html", nav="dashboard", view=view, ranges=RANGES, sections=[]
        )
    if pinned := await console_page.pinned_charts(page):  # saved SQL queries (#21)
        sections = [*sections, ("Pinned SQL queries (their whole result, not this range)", pinned)]
    return await page.render(
        "dashboard.html",
        nav="dashboard",
        view=view,
        ranges=RANGES,
        sections=sections,
        totals=totals,
        api=_api_link(page, view, "traces", True),
    )


async def chart_sections(
    page: Page, view: View
) -> tuple[list[tuple[str, list[Any]]], dict[str, float]]:
    """The charts of ``view`` (its range and filters) by section, and their totals: the
    Dashboard's, and a user's page's with their user_id (lamina.web.pages.users).
    BadRequest for a filter the metrics refuse."""
    assert page.project is not None
    store, project_id = page.store, page.project.id

    def asked(metric: str, trace_metric: bool, **extra: str) -> MetricQuery:
        params = view.api_params(metric, trace_metric, **extra)
        return metrics.parse_metric_query(params, view.metadata)

    score_names = await page.call(_score_names, store, project_id)
    queries: dict[str, MetricQuery] = {}
    for _, names, _, tab, _ in TIME_CHARTS:
        for name in names:
            queries[name] = asked(name, tab == "traces")
    for name in [*(f"score:{n}" for n in score_names), "outcome_share"]:
        queries[name] = asked(name, False)
    queries["errors"] = asked("errors", True)
    for _, metric, group, _, _, _ in RANKINGS:
        for name in ("input_tokens", "output_tokens") if metric == "tokens" else (metric,):
            queries[f"{name}/{group}"] = asked(name, name != "sessions", group_by=group)
    spreads = {
        f"spread/{metric}": metrics.parse_distribution_query(
            view.api_params(metric, False), view.metadata
        )
        for _, metric, _ in HISTOGRAMS
    }
    found = await _gather(page, queries, spreads)
    sections = _sections(page, view, found, score_names, viewer_zone(page.request))
    return sections, _totals(found)


def _score_names(store: Store, project_id: str) -> list[str]:
    """The names of the project's score configs and of its newest scores (at most
    SCORE_NAMES): a chart each, when it has scores in the range."""
    names = {config.name for config in store.list_score_configs(project_id)}
    names |= {
        score.name for score in store.list_scores(project_id, ScoreQuery(limit=MAX_LIMIT)).items
    }
    return sorted(names - {"outcome"})[:SCORE_NAMES]


async def _gather(
    page: Page, queries: dict[str, MetricQuery], spreads: dict[str, DistributionQuery]
) -> dict[str, Row]:
    """Every chart's answer by its key, asked at once (each in the thread pool): the
    metrics over one summary table with one grouping in one query (metrics.read_together)."""
    assert page.project is not None
    store, project_id = page.store, page.project.id
    merged = together(list(queries.values()))
    read = [page.call(metrics.read_together, store, project_id, q, TOP) for q in merged]
    counted = [page.call(metrics.distribution, store, project_id, q) for q in spreads.values()]
    answers = await asyncio.gather(*read, *counted)
    by_metric: dict[tuple[str, str | None], Row] = {}
    for one, rows in zip(merged, answers[: len(merged)], strict=True):
        for metric, row in zip(one.metrics, rows, strict=True):
            by_metric[(metric.name, one.group_by)] = row
    found = {key: by_metric[(q.metric.name, q.group_by)] for key, q in queries.items()}
    found.update(zip(spreads, answers[len(merged) :], strict=True))
    return found


def _times(answer: Row, step: timedelta) -> list[datetime]:
    since, until = answer["since"], answer["until"]
    count = round((until - since) / step)
    return [since + step * n for n in range(count)]


def _series(
    answer: Row, label: str, times: list[datetime], links: list[str]
) -> list[charts.Series]:
    out = []
    for one in answer["series"]:
        values = {p["t"]: p["v"] for p in one["points"]}
        points = [charts.Point(t, values.get(t), links[n]) for n, t in enumerate(times)]
        out.append(charts.Series(one["group"] or label, points))
    return out


def _sections(
    page: Page, view: View, found: dict[str, Row], score_names: list[str], tz: Any
) -> list[tuple[str, list[Any]]]:
    first = found["sessions"]
    times = _times(first, view.step)
    hourly = first["interval"] == "hour"

    def bucket_links(tab: str, extra: dict[str, str]) -> list[str]:
        return [view.list_link(page, tab, t, t + view.step, **extra) for t in times]

    over_time = []
    for title, names, lines, tab, extra in TIME_CHARTS:
        links = bucket_links(tab, extra)
        drawn = [s for n in names for s in _series(found[n], LABELS.get(n, title), times, links)]
        unit = found[names[0]]["unit"]
        api = _api_link(page, view, names[0], tab == "traces")
        chart = charts.TimeChart(title, unit, drawn, hourly, lines, api)
        over_time.append(charts.time_chart(chart, tz))
    scored = []
    for name in score_names:
        answer = found[f"score:{name}"]
        if any(s["points"] for s in answer["series"]):
            links = bucket_links("sessions", {"has_score": name})
            drawn = _series(answer, name, times, links)
            api = _api_link(page, view, f"score:{name}", False)
            chart = charts.TimeChart(f"{name} (average)", "score", drawn, hourly, True, api)
            scored.append(charts.time_chart(chart, tz))
    shares = found["outcome_share"]
    if shares["series"]:
        links = bucket_links("sessions", {"has_score": "outcome"})
        drawn = _series(shares, "outcome", times, links)
        api = _api_link(page, view, "outcome_share", False)
        chart = charts.TimeChart("Outcomes (share of each)", "share", drawn, hourly, True, api)
        scored.append(charts.time_chart(chart, tz))
    rankings = [_ranking(page, view, found, spec) for spec in RANKINGS]
    spreads = [
        _histogram(page, view, found[f"spread/{metric}"], title, unit, metric)
        for title, metric, unit in HISTOGRAMS
    ]
    sections = [("Over time", over_time)]
    if scored:
        sections.append(("Scores", scored))
    return [*sections, ("Breakdowns", rankings), ("Distributions", spreads)]


def _ranking(page: Page, view: View, found: dict[str, Row], spec: tuple[Any, ...]) -> Any:
    title, metric, group, tab, key, extra = spec
    names = ("input_tokens", "output_tokens") if metric == "tokens" else (metric,)
    totals: dict[str, float] = {}
    for name in names:
        for one in found[f"{name}/{group}"]["series"]:
            totals[one["group"]] = totals.get(one["group"], 0) + sum(p["v"] for p in one["points"])
    unit = "tokens" if metric == "tokens" else found[f"{names[0]}/{group}"]["unit"]
    rows = []
    for label, value in sorted(totals.items(), key=lambda item: -item[1])[:TOP]:
        link = None
        if tab is not None:
            link = view.list_link(page, tab, view.since, view.until, **{key: label}, **extra)
        rows.append((label, value, link))
    api = _api_link(page, view, names[0], names[0] != "sessions", group_by=group)
    return charts.ranking(charts.Ranking(title, unit, rows, api))


def _histogram(page: Page, view: View, answer: Row, title: str, unit: str, metric: str) -> Any:
    bins = []
    for b in answer["buckets"]:
        lo, hi = b["lo"], b["hi"]
        if unit == "turns":
            extra = {"min_traces": str(int(lo))}
        elif unit == "ms":
            extra = {"min_duration_s": f"{lo / 1000:g}", "max_duration_s": f"{hi / 1000:g}"}
        else:
            extra = {"min_cost": f"{lo:g}", "max_cost": f"{hi:g}"}
        bins.append(
            charts.Bin(
                lo,
                hi,
                b["count"],
                view.list_link(page, "sessions", view.since, view.until, **extra),
            )
        )
    api = _api_link(page, view, metric, False, "/distribution")
    return charts.histogram(charts.Histogram(title, unit, bins, api))


def _totals(found: dict[str, Row]) -> dict[str, float]:
    def total(key: str) -> float:
        return float(sum(p["v"] for s in found[key]["series"] for p in s["points"]))

    return {
        "sessions": total("sessions"),
        "traces": total("traces"),
        "tokens": total("input_tokens") + total("output_tokens"),
        "cost": total("cost"),
        "errors": total("errors"),
    }


def _api_link(
    page: Page, view: View, metric: str, trace_metric: bool, path: str = "", **extra: str
) -> str:
    """The JSON twin of a chart: ``GET /api/v1/metrics{path}`` with the page's parameters."""
    assert page.project is not None
    params: dict[str, Any] = dict(view.api_params(metric, trace_metric, **extra))
    params.update(project=page.project.name, score=view.scores, metadata=view.metadata)
    return f"/api/v1/metrics{path}" + query(params)
