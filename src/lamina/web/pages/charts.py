"""Charts drawn on the server as SVG: a metric over time (bars or lines), a histogram, and
a ranking (horizontal bars). No script: the page's CSS colours them (light and dark, from
app.css's ``--chart-N``), a ``<title>`` on each bar or point gives its value on hover, and a
link on it opens the list filtered to it. A chart with nothing to show says so.

The page (lamina.web.pages.dashboard) builds the chart objects from the metrics API's
answers (lamina.query.metrics); here they are only drawn.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from markupsafe import Markup

from lamina import formatting as fmt

WIDTH, HEIGHT = 400, 170
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 10, 24  # the plot's margins, for the axes' labels
ROW = 20  # a ranking's row
EMPTY = "No data in this range."


@dataclass(frozen=True, slots=True)
class Point:
    at: datetime
    value: float | None  # None: nothing to measure in that bucket (a gap)
    link: str | None = None


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    points: list[Point]


@dataclass(frozen=True, slots=True)
class TimeChart:
    title: str
    unit: str  # as the metric's: sessions, USD, ms, share, score, tokens...
    series: list[Series]
    hourly: bool
    lines: bool = False  # lines (averages, percentiles) rather than stacked bars
    api: str = ""  # its JSON twin (the first metric's, for several)


@dataclass(frozen=True, slots=True)
class Bin:
    lo: float
    hi: float
    count: int
    link: str | None = None


@dataclass(frozen=True, slots=True)
class Histogram:
    title: str
    unit: str  # of the values binned: turns, ms, USD
    bins: list[Bin]
    api: str = ""


@dataclass(frozen=True, slots=True)
class Ranking:
    title: str
    unit: str
    rows: list[tuple[str, float, str | None]] = field(default_factory=list)  # label, value, link
    api: str = ""


def number(value: float, unit: str) -> str:
    """A value as the pages show numbers: $0.0031, 3.1 s, 42%, 1.2k."""
    if unit == "USD":
        return fmt.cost(value)
    if unit == "ms":
        return fmt.duration(value) if value else "0"
    if unit == "share":
        return f"{value * 100:.0f}%"
    if unit in ("score", "traces") and value != int(value):
        return f"{value:.2f}"
    return fmt.tokens(round(value))


def _nice_top(highest: float, unit: str) -> float:
    """A round top for the y axis, at or above ``highest``."""
    if unit == "share":
        return 1.0
    if highest <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(highest))
    return float(next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= highest))


def _frame(title: str, unit: str, body: Markup, api: str, legend: Sequence[str] = ()) -> Markup:
    """The chart's figure: its title, unit, legend, its JSON twin's link, the drawing."""
    keys = Markup("").join(
        Markup('<span class="chart-key"><i class="swatch s{}"></i>{}</span>').format(n % 6, label)
        for n, label in enumerate(legend)
    )
    return Markup(
        '<figure class="chart"><figcaption><span class="chart-title">{}</span> '
        '<span class="chart-unit">{}</span>{}{}</figcaption>{}</figure>'
    ).format(
        title,
        unit,
        Markup('<span class="chart-keys">{}</span>').format(keys) if len(legend) > 1 else "",
        Markup('<a class="chart-json" href="{}" aria-label="{} as JSON">JSON</a>').format(
            api, title
        )
        if api
        else "",
        body,
    )


def _empty(title: str, unit: str, api: str) -> Markup:
    return _frame(title, unit, Markup('<p class="chart-empty">{}</p>').format(EMPTY), api)


def _svg(label: str, inner: Markup, height: int = HEIGHT) -> Markup:
    return Markup(
        '<svg class="chart-svg" viewBox="0 0 {w} {h}" role="group" aria-label="{label}">'
        "{inner}</svg>"
    ).format(w=WIDTH, h=height, label=label, inner=inner)


def _y_axis(top: float, unit: str) -> Markup:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = []
    for share in (0.0, 0.5, 1.0):
        y = TOP + plot_h * (1 - share)
        parts.append(
            Markup(
                '<line class="gridline" x1="{x1}" x2="{x2}" y1="{y:.1f}" y2="{y:.1f}"/>'
                '<text class="axis-label" x="{tx}" y="{ty:.1f}" text-anchor="end">{text}</text>'
            ).format(
                x1=LEFT,
                x2=WIDTH - RIGHT,
                y=y,
                tx=LEFT - 4,
                ty=y + 3,
                text=number(top * share, unit),
            )
        )
    return Markup("").join(parts)


def _x_label(at: datetime, hourly: bool, zone: tzinfo) -> str:
    if hourly:
        local = at.astimezone(zone)
        return f"{local.strftime('%b')} {local.day} {local.strftime('%H:%M')}"
    return f"{at.strftime('%b')} {at.day}"  # days are UTC days


def _x_axis(times: list[datetime], hourly: bool, zone: tzinfo, slot: float) -> Markup:
    marks = sorted({0, len(times) // 2, len(times) - 1})
    parts = []
    for n in marks:
        x = LEFT + slot * (n + 0.5)
        anchor = "start" if n == 0 and len(marks) > 1 else "end" if n == marks[-1] else "middle"
        if len(marks) == 1:
            anchor = "middle"
        parts.append(
            Markup(
                '<text class="axis-label" x="{x:.1f}" y="{y}" text-anchor="{a}">{t}</text>'
            ).format(x=x, y=HEIGHT - 6, a=anchor, t=_x_label(times[n], hourly, zone))
        )
    return Markup("").join(parts)


def _linked(link: str | None, inner: Markup) -> Markup:
    if link is None:
        return inner
    return Markup('<a href="{}">{}</a>').format(link, inner)


def time_chart(chart: TimeChart, zone: tzinfo) -> Markup:
    values = [p.value for s in chart.series for p in s.points if p.value is not None]
    if not values or not any(values):
        return _empty(chart.title, chart.unit, chart.api)
    times = [p.at for p in chart.series[0].points]
    slot = (WIDTH - LEFT - RIGHT) / len(times)
    plot_h = HEIGHT - TOP - BOTTOM
    if chart.lines:
        top = _nice_top(max(values), chart.unit)
    else:  # stacked: the top is the tallest stack
        stacks = [sum(s.points[n].value or 0 for s in chart.series) for n in range(len(times))]
        top = _nice_top(max(stacks), chart.unit)

    def y_of(value: float) -> float:
        return TOP + plot_h * (1 - value / top)

    parts = [_y_axis(top, chart.unit), _x_axis(times, chart.hourly, zone, slot)]
    if chart.lines:
        for n, series in enumerate(chart.series):
            parts.append(_line(series, n, slot, y_of, chart, zone))
    else:
        base = [0.0] * len(times)
        for n, series in enumerate(chart.series):
            for i, point in enumerate(series.points):
                if not point.value:
                    continue
                y0, y1 = y_of(base[i]), y_of(base[i] + point.value)
                base[i] += point.value
                rect = Markup(
                    '<rect class="s{c}" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}">'
                    "<title>{t}</title></rect>"
                ).format(
                    c=n % 6,
                    x=LEFT + slot * i + slot * 0.1,
                    y=y1,
                    w=max(slot * 0.8, 1.0),
                    h=max(y0 - y1, 0.5),
                    t=_hover(series, point, chart, zone),
                )
                parts.append(_linked(point.link, rect))
    legend = [s.label for s in chart.series]
    drawn = _svg(chart.title, Markup("").join(parts))
    return _frame(chart.title, chart.unit, drawn, chart.api, legend)


def _hover(series: Series, point: Point, chart: TimeChart, zone: tzinfo) -> str:
    label = f"{series.label}: " if len(chart.series) > 1 else ""
    value = "no data" if point.value is None else number(point.value, chart.unit)
    return f"{_x_label(point.at, chart.hourly, zone)} · {label}{value}"


def _line(
    series: Series,
    n: int,
    slot: float,
    y_of: Callable[[float], float],
    chart: TimeChart,
    zone: tzinfo,
) -> Markup:
    """The series' points joined while they follow each other (a gap breaks the line)."""
    runs: list[list[tuple[float, float]]] = [[]]
    dots = []
    for i, point in enumerate(series.points):
        if point.value is None:
            runs.append([])
            continue
        x, y = LEFT + slot * (i + 0.5), y_of(point.value)
        runs[-1].append((x, y))
        dot = Markup(
            '<circle class="s{c}" cx="{x:.1f}" cy="{y:.1f}" r="3"><title>{t}</title></circle>'
        )
        dots.append(
            _linked(point.link, dot.format(c=n % 6, x=x, y=y, t=_hover(series, point, chart, zone)))
        )
    lines = [
        Markup('<polyline class="trend s{c}" points="{p}"/>').format(
            c=n % 6, p=" ".join(f"{x:.1f},{y:.1f}" for x, y in run)
        )
        for run in runs
        if len(run) > 1
    ]
    return Markup("").join([*lines, *dots])


def histogram(chart: Histogram) -> Markup:
    if not chart.bins:
        return _empty(chart.title, "sessions", chart.api)
    slot = (WIDTH - LEFT - RIGHT) / len(chart.bins)
    plot_h = HEIGHT - TOP - BOTTOM
    top = _nice_top(max(b.count for b in chart.bins), "sessions")
    parts = [_y_axis(top, "sessions")]
    for i, b in enumerate(chart.bins):
        if b.count:
            height = plot_h * b.count / top
            rect = Markup(
                '<rect class="s0" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}">'
                "<title>{t}</title></rect>"
            ).format(
                x=LEFT + slot * i + 1,
                y=TOP + plot_h - height,
                w=max(slot - 2, 1.0),
                h=height,
                t=f"{_range(b, chart.unit)}: {b.count} sessions",
            )
            parts.append(_linked(b.link, rect))
    for i, anchor in ((0, "start"), (len(chart.bins), "end")):
        edge = chart.bins[0].lo if i == 0 else chart.bins[-1].hi
        parts.append(
            Markup(
                '<text class="axis-label" x="{x:.1f}" y="{y}" text-anchor="{a}">{t}</text>'
            ).format(x=LEFT + slot * i, y=HEIGHT - 6, a=anchor, t=number(edge, chart.unit))
        )
    drawn = _svg(chart.title, Markup("").join(parts))
    return _frame(chart.title, f"sessions by {chart.unit}", drawn, chart.api)


def _range(b: Bin, unit: str) -> str:
    return f"{number(b.lo, unit)} to {number(b.hi, unit)}"


def ranking(chart: Ranking) -> Markup:
    rows = [row for row in chart.rows if row[1] > 0]
    if not rows:
        return _empty(chart.title, chart.unit, chart.api)
    top = max(value for _, value, _ in rows)
    label_w, value_w = 130, 64
    bar_w = WIDTH - label_w - value_w
    parts = []
    for i, (label, value, link) in enumerate(rows):
        y = i * ROW + 4
        shown = label if len(label) <= 20 else label[:19] + "…"
        row = Markup(
            '<text class="row-label" x="{lx}" y="{ty}" text-anchor="end">{label}</text>'
            '<rect class="s{c}" x="{bx}" y="{y}" width="{w:.1f}" height="{h}">'
            "<title>{t}</title></rect>"
            '<text class="axis-label" x="{vx:.1f}" y="{ty}">{v}</text>'
        ).format(
            lx=label_w - 6,
            ty=y + 12,
            label=shown,
            c=0,
            bx=label_w,
            y=y,
            w=max(bar_w * value / top, 1.0),
            h=ROW - 6,
            t=f"{label}: {number(value, chart.unit)}",
            vx=label_w + max(bar_w * value / top, 1.0) + 4,
            v=number(value, chart.unit),
        )
        parts.append(_linked(link, row))
    height = len(rows) * ROW + 8
    drawn = _svg(chart.title, Markup("").join(parts), height)
    return _frame(chart.title, chart.unit, drawn, chart.api)
