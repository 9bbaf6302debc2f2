"""The SQL page (``/p/<project>/sql``): a query over the project's views, its result as
a table, as CSV (``?format=csv``) and, when it has a time column and a number column,
as a chart; the store's dialect named and the views' columns listed as help.

The query travels in the address (``?q=``), so a result can be linked, reloaded and
downloaded; running it is a read, as on ``POST /api/v1/sql`` (both call
lamina.query.console). An error the query causes is shown on the page, plainly. The
project's saved queries are listed as links; a form (POST, with the page's CSRF token)
saves the query shown under a name or deletes one (lamina.query.saved_queries).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.responses import RedirectResponse, Response

from lamina.errors import LaminaError
from lamina.query import console, saved_queries
from lamina.store.console import VIEWS
from lamina.web.pages import charts
from lamina.web.pages.base import Page
from lamina.web.pages.render import viewer_zone

DIALECTS = {"duckdb": "DuckDB", "clickhouse": "ClickHouse"}
EXAMPLE = (
    "SELECT date_trunc('day', start_time) AS day, count(*) AS sessions\n"
    "FROM sessions\nGROUP BY 1\nORDER BY 1"
)
EXAMPLES = {
    "Sessions a day": EXAMPLE,
    "Cost by model": "SELECT model, sum(cost) AS cost, count(*) AS calls\nFROM spans\n"
    "WHERE model IS NOT NULL\nGROUP BY model\nORDER BY cost DESC",
    "Users with the most errors": "SELECT user_id, sum(error_count) AS errors, count(*) AS "
    "sessions\nFROM sessions\nWHERE user_id IS NOT NULL\nGROUP BY user_id\n"
    "ORDER BY errors DESC\nLIMIT 10",
}
_TIMES = ("timestamp", "date")
_NUMBERS = ("integer", "number")


async def sql_page(page: Page) -> Response:
    assert page.project is not None
    if page.request.method == "POST":
        return await _change_saved(page)
    text = page.request.query_params.get("q", "")
    result: dict[str, Any] | None = None
    error: str | None = None
    if text.strip():
        try:
            query = console.parse(text, page.site.runtime.settings)
            result = await page.call(console.run, page.store, page.project.id, query)
        except LaminaError as exc:  # the query's own fault, or too many at once
            if page.request.query_params.get("format") == "csv" or exc.status >= 500:
                raise
            error = exc.message
    if result is not None and page.request.query_params.get("format") == "csv":
        return _csv(result, page.project.name)
    dialect = page.store.sql_dialect
    saved = await page.call(saved_queries.list_saved, page.store, page.project.id)
    return await page.render(
        "sql.html",
        nav="sql",
        text=text or EXAMPLE,
        ran=bool(text.strip()),
        examples={name: "?" + urlencode({"q": q}) for name, q in EXAMPLES.items()},
        dialect=DIALECTS.get(dialect, dialect),
        views=VIEWS,
        result=result,
        error=error,
        csv_link="?" + urlencode({"q": text, "format": "csv"}),
        chart=_chart(result, page) if result else None,
        saved=[(q, "?" + urlencode({"q": q.query})) for q in saved],
        saved_name=page.request.query_params.get("name", ""),
    )


async def _change_saved(page: Page) -> Response:
    """Save the query shown under a name, or delete a saved query; then show the query."""
    assert page.project is not None and page.visitor is not None
    form = await page.site.accounts.checked_form(page.request, page.visitor)
    name, text = str(form.get("name") or ""), str(form.get("q") or "")
    if form.get("action") == "delete":
        await page.call(saved_queries.delete, page.store, page.project.id, name)
        return RedirectResponse(page.path("/sql"), 303)
    email, pinned = page.visitor.user.email, form.get("pinned") == "on"
    await page.call(saved_queries.save, page.store, page.project.id, name, text, email, pinned)
    return RedirectResponse(page.path("/sql?" + urlencode({"q": text, "name": name})), 303)


async def pinned_charts(page: Page) -> list[Markup]:
    """A chart of each saved query pinned to the Dashboard, by name (its whole result,
    not the Dashboard's range); a query that fails or has no time and number column
    says so in its place."""
    assert page.project is not None
    saved = await page.call(saved_queries.list_saved, page.store, page.project.id)
    drawn = []
    for query in (q for q in saved if q.pinned):
        link = page.path("/sql?" + urlencode({"q": query.query}))
        try:
            asked = console.parse(query.query, page.site.runtime.settings)
            result = await page.call(console.run, page.store, page.project.id, asked)
        except LaminaError as exc:
            drawn.append(_note(query.name, link, exc.message))
            continue
        chart = _chart(result, page, query.name)
        drawn.append(
            chart
            if chart is not None
            else _note(query.name, link, "Its result has no time column and number column.")
        )
    return drawn


def _note(title: str, link: str, text: str) -> Markup:
    return Markup(
        '<figure class="chart"><figcaption><span class="chart-title">'
        '<a href="{}">{}</a></span></figcaption><p class="chart-empty">{}</p></figure>'
    ).format(link, title, text)


def _csv(result: dict[str, Any], project: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([c["name"] for c in result["columns"]])
    for row in result["rows"]:
        writer.writerow(["" if v is None else v for v in row])
    name = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in project) or "project"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}-sql.csv"'},
    )


def _chart(result: dict[str, Any], page: Page, title: str | None = None) -> Markup | None:
    """A line of the first number column over the first time column, when both exist."""
    columns = result["columns"]
    at = next((i for i, c in enumerate(columns) if c["type"] in _TIMES), None)
    value = next((i for i, c in enumerate(columns) if c["type"] in _NUMBERS), None)
    if at is None or value is None or not result["rows"]:
        return None
    points = []
    for row in sorted((r for r in result["rows"] if r[at] is not None), key=lambda r: r[at]):
        moment = datetime.fromisoformat(str(row[at]).replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        number = row[value]
        points.append(charts.Point(moment, None if number is None else float(number)))
    if len(points) < 2:
        return None
    span = points[-1].at - points[0].at
    hourly = span.total_seconds() <= 3 * 86400
    name = columns[value]["name"]
    unit = "USD" if "cost" in name else "ms" if name.endswith("_ms") else "score"
    chart = charts.TimeChart(
        title or f"{name} by {columns[at]['name']}",
        unit,
        [charts.Series(name, points)],
        hourly,
        lines=True,
    )
    return charts.time_chart(chart, viewer_zone(page.request))
