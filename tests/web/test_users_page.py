"""The Users page (#21) in a real browser: the numbers on the page are the users API's,
a search and a sort in the address, the next page, a user id with markup shown as text,
and a user's page: their totals, their sessions in the Sessions tab and their charts."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from lamina import formatting
from tests.support import otlp
from tests.web.conftest import Seeded

MINUTE = 60_000_000_000
MARKUP = '<img src=x onerror="alert(1)">ann'  # a user id an application might send
# user -> (sessions, turns each, the last turn fails)
ACTIVE = {"ana": (3, 2, False), "bob": (1, 1, True), MARKUP: (1, 3, False)}
QUIET = [f"q-{n:02d}" for n in range(50)]  # one one-turn session each: a second page


@dataclass
class Users:
    project: str
    key: str


@pytest.fixture(scope="module")
def users(web: Seeded) -> Iterator[Users]:
    project, key = otlp.new_project(web.server, "users-page")
    now = time.time_ns() - 60 * MINUTE
    spans = []
    for n, user in enumerate(QUIET):
        spans += otlp.conversation_turn(f"quiet-{n}", 0, start_ns=now + n * MINUTE, user_id=user)
    for n, (user, (sessions, turns, fails)) in enumerate(ACTIVE.items()):
        for s in range(sessions):
            for turn in range(turns):
                at = now + (60 + n * 10 + s * 3 + turn) * MINUTE // 2
                error = "boom" if fails and turn == turns - 1 else None
                session = f"{user}-s{s}"
                spans += otlp.conversation_turn(
                    session, turn, start_ns=at, user_id=user, error=error
                )
    assert otlp.post(web.url, key, otlp.export(spans)).status_code == 200
    scores = [
        {"name": "quality", "value": v, "session_id": f"ana-s{n}"} for n, v in enumerate((0.5, 1.0))
    ]
    with httpx.Client(base_url=web.url, headers={"Authorization": f"Bearer {key}"}) as api:
        assert api.post("/api/v1/scores", json={"scores": scores}).status_code == 201
    yield Users(project, key)


def _api(web: Seeded, users: Users, path: str = "/api/v1/users", **params: str) -> Any:
    return otlp.api(web.server, path, key=users.key, **params)


def _rows(page: Page) -> Locator:
    return page.locator("table.users tbody tr.urow")


def _shown(page: Page) -> list[dict[str, str]]:
    """Each row's user id (the link's text) and the numbers its cells hold."""
    found = []
    for row in _rows(page).all():
        cells = row.locator("td")
        values = [cells.nth(n).get_attribute("data-value") or "" for n in range(1, 6)]
        found.append(
            {
                "user_id": row.locator("td.c-user a").inner_text(),
                **dict(
                    zip(
                        ("sessions", "traces", "total_tokens", "cost", "errors"),
                        values,
                        strict=True,
                    )
                ),
                "tokens_text": cells.nth(3).inner_text(),
                "cost_text": cells.nth(4).inner_text(),
            }
        )
    return found


def _assert_same(shown: list[dict[str, str]], items: list[dict[str, Any]]) -> None:
    assert [row["user_id"] for row in shown] == [item["user_id"] for item in items]
    for row, item in zip(shown, items, strict=True):
        for name in ("sessions", "traces", "total_tokens", "errors"):
            assert row[name] == str(item[name]), (item["user_id"], name)
        assert float(row["cost"]) == pytest.approx(item["cost"])
        assert row["tokens_text"] == formatting.tokens(item["total_tokens"])
        assert row["cost_text"] == formatting.cost(item["cost"])


def test_the_users_page_shows_the_apis_numbers_and_pages(
    page: Page, web: Seeded, users: Users
) -> None:
    page.goto(f"{web.url}/p/{users.project}/traces")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    expect(page).to_have_url(f"{web.url}/p/{users.project}/users")
    expect(page.get_by_role("link", name="Users", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    first = _api(web, users, limit="50")
    assert first["total"] == len(QUIET) + len(ACTIVE)
    expect(page.locator("[data-count]")).to_have_text(f"{first['total']} users")
    expect(_rows(page)).to_have_count(50)
    _assert_same(_shown(page), first["items"])
    ana = _rows(page).filter(has=page.get_by_role("link", name="ana", exact=True))
    expect(ana.locator('td[data-score="quality"]')).to_have_text("0.75")
    page.get_by_role("link", name="Next ›").click()
    expect(page).to_have_url(re.compile(r"offset=50"))
    expect(page.locator("[data-page]")).to_contain_text("page 2 of 2")
    _assert_same(_shown(page), _api(web, users, limit="50", offset="50")["items"])


def test_search_and_sort_are_the_apis(page: Page, web: Seeded, users: Users) -> None:
    page.goto(f"{web.url}/p/{users.project}/users")
    page.get_by_placeholder("Part of a user id…").fill("AN")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"q=AN"))
    expect(_rows(page)).to_have_count(2)
    _assert_same(_shown(page), _api(web, users, q="AN")["items"])  # ana and the markup's ann
    page.get_by_role("link", name="Sessions", exact=True).click()
    expect(page).to_have_url(re.compile(r"sort=sessions&order=desc"))
    expect(page.get_by_role("columnheader", name="Sessions")).to_have_attribute(
        "aria-sort", "descending"
    )
    _assert_same(_shown(page), _api(web, users, q="AN", sort="sessions")["items"])
    assert _shown(page)[0]["user_id"] == "ana"
    page.get_by_role("link", name="Sessions", exact=True).click()
    expect(page).to_have_url(re.compile(r"sort=sessions&order=asc"))
    _assert_same(_shown(page), _api(web, users, q="AN", sort="sessions", order="asc")["items"])
    page.get_by_role("link", name="Tokens").click()
    expect(page).to_have_url(re.compile(r"sort=total_tokens&order=desc"))
    _assert_same(_shown(page), _api(web, users, q="AN", sort="total_tokens")["items"])
    page.get_by_role("link", name="Remove filter Search: AN").click()
    expect(_rows(page)).to_have_count(50)
    expect(page).to_have_url(re.compile(r"sort=total_tokens"))


def test_a_score_column_sorts_by_the_score(page: Page, web: Seeded, users: Users) -> None:
    page.goto(f"{web.url}/p/{users.project}/users")
    page.get_by_role("columnheader", name="quality").get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"sort=score%3Aquality&order=desc"))
    expect(page.get_by_role("columnheader", name="quality")).to_have_attribute(
        "aria-sort", "descending"
    )
    _assert_same(_shown(page), _api(web, users, sort="score:quality", limit="50")["items"])
    assert _shown(page)[0]["user_id"] == "ana"  # the one user with the score, either way
    page.get_by_role("columnheader", name="quality").get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"sort=score%3Aquality&order=asc"))
    assert _shown(page)[0]["user_id"] == "ana"


def test_a_user_id_with_markup_is_text_and_has_a_page(
    page: Page, web: Seeded, users: Users
) -> None:
    page.goto(f"{web.url}/p/{users.project}/users?q=img")
    link = page.locator("table.users td.c-user a")
    expect(link).to_have_text(MARKUP)
    expect(page.locator("table.users img")).to_have_count(0)
    link.click()
    expect(page).to_have_url(f"{web.url}/p/{users.project}/users/{quote(MARKUP, safe='')}")
    expect(page.locator("h1")).to_have_text(MARKUP)
    expect(page.locator("main img")).to_have_count(0)
    one = _api(web, users, f"/api/v1/users/{quote(MARKUP, safe='')}")
    expect(page.locator('[data-total="traces"]')).to_have_text(str(one["traces"]))


def test_a_users_page_has_their_totals_sessions_and_charts(
    page: Page, web: Seeded, users: Users
) -> None:
    page.goto(f"{web.url}/p/{users.project}/users")
    page.get_by_role("link", name="bob", exact=True).click()
    expect(page).to_have_url(f"{web.url}/p/{users.project}/users/bob")
    bob = _api(web, users, "/api/v1/users/bob")
    expect(page.locator('[data-total="sessions"]')).to_have_text(str(bob["sessions"]))
    expect(page.locator('[data-total="traces"]')).to_have_text(str(bob["traces"]))
    expect(page.locator('[data-total="tokens"]')).to_have_text(
        formatting.tokens(bob["total_tokens"])
    )
    expect(page.locator('[data-total="cost"]')).to_have_text(formatting.cost(bob["cost"]))
    expect(page.locator('[data-total="errors"]')).to_have_text("1")
    expect(page.locator("table.user-sessions tbody tr")).to_have_count(1)
    page.locator("table.user-sessions tbody tr a").first.click()  # the session's page
    expect(page).to_have_url(re.compile(r"/sessions/bob-s0$"))
    page.locator("p.facts").get_by_role("link", name="bob", exact=True).click()  # and back
    expect(page).to_have_url(f"{web.url}/p/{users.project}/users/bob")
    charts = page.locator("figure.chart .chart-title")
    expect(charts.filter(has_text="Sessions started")).to_have_count(1)
    traces = page.locator("figure.chart").filter(
        has=page.locator(".chart-title", has_text=re.compile("^Traces$"))
    )
    expect(traces.locator("rect")).to_have_count(1)  # one hour with traces, in the last 24 h
    page.locator("[data-all-sessions]").click()
    expect(page).to_have_url(re.compile(r"/traces\?tab=sessions&user_id=bob$"))
    expect(page.locator("table.sessions tbody tr.srow")).to_have_count(1)
    page.goto(f"{web.url}/p/{users.project}/users/nobody")
    expect(page.locator("h1")).to_have_text("Not found")
    expect(page.locator("main")).to_contain_text('No user "nobody" in this project')
