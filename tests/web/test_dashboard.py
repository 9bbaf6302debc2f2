"""The Dashboard page (#21) in a real browser: charts for seeded data whose totals are the
metrics API's, the empty state of a project without data, and a click on a bar or a
bucket that opens the list filtered to it."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support import otlp
from tests.web.conftest import Seeded

HOUR = 3_600_000_000_000
# (session, hours ago, turns, user, model, the last turn fails)
SESSIONS = [
    ("dash-a", 20, 3, "u-1", "gpt-4o-mini", False),
    ("dash-b", 20, 1, "u-2", "gpt-4o-mini", True),
    ("dash-c", 5, 2, "u-1", "claude-x", False),
    ("dash-d", 2, 1, "u-3", "claude-x", False),
]
TRACES = sum(turns for _, _, turns, _, _, _ in SESSIONS)


@dataclass
class Dashboard:
    project: str
    key: str
    empty_project: str


@pytest.fixture(scope="module")
def dash(web: Seeded) -> Iterator[Dashboard]:
    project, key = otlp.new_project(web.server, "dash")
    empty, _ = otlp.new_project(web.server, "dash-empty")
    now = time.time_ns()
    spans = []
    for session, ago, turns, user, model, fails in SESSIONS:
        # a minute into its hour, so its turns (a minute apart) share one hourly bucket
        # whatever the minute the test runs at (at :58 they fell in two)
        hour = (now - ago * HOUR) // HOUR * HOUR
        for turn in range(turns):
            error = "boom" if fails and turn == turns - 1 else None
            start = hour + (turn + 1) * 60_000_000_000
            extra = {"metadata": '{"plan": "pro"}'} if session == "dash-c" else None
            spans += otlp.conversation_turn(
                session,
                turn,
                start_ns=start,
                user_id=user,
                model=model,
                error=error,
                extra_root=extra,
            )
    assert otlp.post(web.url, key, otlp.export(spans)).status_code == 200
    scores = [
        {"name": "quality", "value": 0.5 + n / 10, "session_id": session}
        for n, (session, *_) in enumerate(SESSIONS)
    ]
    scores.append({"name": "outcome", "label": "success", "session_id": "dash-a"})
    with httpx.Client(base_url=web.url, headers={"Authorization": f"Bearer {key}"}) as api:
        assert api.post("/api/v1/scores", json={"scores": scores}).status_code == 201
    yield Dashboard(project, key, empty)


def _api_total(web: Seeded, dash: Dashboard, metric: str, since: str, until: str) -> float:
    answer = otlp.api(
        web.server, "/api/v1/metrics", key=dash.key, metric=metric, since=since, until=until
    )
    return float(sum(p["v"] for s in answer["series"] for p in s["points"]))


def test_the_dashboard_shows_the_apis_totals_and_charts(
    page: Page, web: Seeded, dash: Dashboard
) -> None:
    page.set_viewport_size({"width": 800, "height": 900})
    page.goto(f"{web.url}/p/{dash.project}/traces")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    expect(page).to_have_url(f"{web.url}/p/{dash.project}/dashboard")
    expect(page.get_by_role("link", name="Dashboard")).to_have_attribute("aria-current", "page")
    assert "by hour" in page.locator(".page-head").inner_text()  # the last 24 h by default
    # the JSON link is the traces chart's twin, with the page's own range
    api = page.get_by_role("link", name="JSON", exact=True).get_attribute("href") or ""
    answer = httpx.get(web.url + api, headers={"Authorization": f"Bearer {dash.key}"}).json()
    shown = sum(p["v"] for s in answer["series"] for p in s["points"])
    assert shown == TRACES
    expect(page.locator('[data-total="traces"]')).to_have_text(str(TRACES))
    expect(page.locator('[data-total="sessions"]')).to_have_text(str(len(SESSIONS)))
    expect(page.locator('[data-total="errors"]')).to_have_text("1")
    since, until = answer["since"], answer["until"]
    tokens = _api_total(web, dash, "input_tokens", since, until)
    tokens += _api_total(web, dash, "output_tokens", since, until)
    expect(page.locator('[data-total="tokens"]')).to_have_text(f"{tokens:,.0f}")

    charts = page.locator("figure.chart")
    titles = charts.locator(".chart-title")
    for title in ("Sessions started", "Traces", "Cost", "Error rate", "Trace latency"):
        expect(titles.filter(has_text=title).first).to_be_visible()
    for title in ("quality (average)", "Outcomes (share of each)", "Cost by model"):
        expect(titles.filter(has_text=title)).to_have_count(1)
    sessions = charts.filter(has=page.locator(".chart-title", has_text="Sessions started"))
    expect(sessions.locator("rect")).to_have_count(3)  # hours 20, 5 and 2 ago
    by_model = charts.filter(has=page.locator(".chart-title", has_text="Tokens by model"))
    expect(by_model.locator(".row-label")).to_have_text(["gpt-4o-mini", "claude-x"])
    priced = charts.filter(has=page.locator(".chart-title", has_text="Cost by model"))
    expect(priced.locator(".row-label")).to_have_text(["gpt-4o-mini"])  # claude-x: no price
    turns = charts.filter(has=page.locator(".chart-title", has_text="Turns per session")).last
    expect(turns.locator("rect")).to_have_count(3)  # 1, 2 and 3 turns
    # each chart links its JSON twin: the API's answer for what it draws
    twin = page.get_by_role("link", name="Sessions by user (top 10) as JSON")
    headers = {"Authorization": f"Bearer {dash.key}"}
    answer = httpx.get(web.url + (twin.get_attribute("href") or ""), headers=headers).json()
    by_user = {s["group"]: sum(p["v"] for p in s["points"]) for s in answer["series"]}
    assert by_user == {"u-1": 2, "u-2": 1, "u-3": 1}
    page.get_by_label("Time range").select_option("7d")
    expect(page).to_have_url(f"{web.url}/p/{dash.project}/dashboard?range=7d")
    expect(page.locator(".page-head")).to_contain_text("by day")
    expect(page.locator('[data-total="traces"]')).to_have_text(str(TRACES))


def test_a_project_without_data_says_so_on_every_chart(
    page: Page, web: Seeded, dash: Dashboard
) -> None:
    page.goto(f"{web.url}/p/{dash.empty_project}/dashboard?range=30d")
    charts = page.locator("figure.chart")
    expect(charts.first).to_be_visible()
    expect(page.locator(".chart-empty")).to_have_count(charts.count())
    expect(page.locator(".chart-empty").first).to_have_text("No data in this range.")
    expect(page.locator("figure.chart svg")).to_have_count(0)
    expect(page.locator('[data-total="traces"]')).to_have_text("0")


def test_a_click_opens_the_list_filtered_to_it(page: Page, web: Seeded, dash: Dashboard) -> None:
    page.goto(f"{web.url}/p/{dash.project}/dashboard?range=24h")
    by_user = page.locator("figure.chart").filter(
        has=page.locator(".chart-title", has_text="Sessions by user")
    )
    # a bar is a link with its label and value as its name
    by_user.get_by_role("link", name="u-1: 2").click()
    expect(page).to_have_url(re.compile(r"tab=sessions.*user_id=u-1"))
    expect(page.locator("#rows > tr.srow")).to_have_count(2)  # dash-a and dash-c

    page.go_back()
    errors = page.locator("figure.chart").filter(
        has=page.locator(".chart-title", has_text="Errors by name")
    )
    errors.locator("svg a").first.click()
    expect(page).to_have_url(re.compile(r"tab=traces.*name=handle_turn&status=error"))
    expect(page.locator("#rows > tr")).to_have_count(1)

    page.go_back()
    traces = page.locator("figure.chart").filter(
        has=page.locator(".chart-title", has_text="Traces")
    )
    traces.first.locator("svg a").first.click()  # the oldest bucket: dash-a and dash-b's hour
    expect(page).to_have_url(re.compile(r"tab=traces&since=.*&until="))
    expect(page.get_by_role("link", name="Remove filter From:")).to_be_visible()
    expect(page.locator("#rows > tr")).to_have_count(4)


def test_the_filters_narrow_every_chart(page: Page, web: Seeded, dash: Dashboard) -> None:
    page.goto(f"{web.url}/p/{dash.project}/dashboard?metadata=plan%3Dpro")
    expect(page.get_by_role("link", name="Remove filter Metadata: plan=pro")).to_be_visible()
    expect(page.locator('[data-total="traces"]')).to_have_text("2")  # dash-c's two turns
    expect(page.locator('[data-total="sessions"]')).to_have_text("1")
    page.goto(f"{web.url}/p/{dash.project}/dashboard?user_id=u-2&status=error")
    expect(page.locator('[data-total="errors"]')).to_have_text("1")
    expect(page.locator('[data-total="sessions"]')).to_have_text("1")  # status: traces only
    expect(page.get_by_text("they filter the trace charts, not the session charts")).to_be_visible()
