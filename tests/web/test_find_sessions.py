"""Finding a session (#23 item 3), in a real browser: search by session or user id, the
Sessions tab's filters, the total for the filters, sorting by a whole header cell, the
open trace and expanded sessions kept in the address, and the session's waterfall."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.support import otlp
from tests.web.conftest import Seeded

SESSIONS = 55  # more than a page (50)
MINUTE = 60 * 1_000_000_000


def _user(n: int) -> str:
    return f"user-{(n * 7) % SESSIONS:02d}"  # not in the sessions' order


@pytest.fixture(scope="module")
def many(web: Seeded) -> Iterator[str]:
    """A project of its own with SESSIONS one-turn sessions, find-00 (oldest) to find-54;
    every fifth one failed."""
    project, key = otlp.new_project(web.server, "find")
    now = time.time_ns()
    spans = []
    for n in range(SESSIONS):
        spans += otlp.conversation_turn(
            f"find-{n:02d}",
            0,
            start_ns=now - (SESSIONS - n) * MINUTE,
            user_id=_user(n),
            error="failed" if n % 5 == 0 else None,
        )
    assert otlp.post(web.url, key, otlp.export(spans)).status_code == 200
    yield project


def _ids(page: Page) -> list[str]:
    rows = page.locator("#rows > tr.srow")
    return [rows.nth(i).get_attribute("data-id") or "" for i in range(rows.count())]


def test_search_by_session_id_a_filter_and_the_total(page: Page, web: Seeded, many: str) -> None:
    page.goto(f"{web.url}/p/{many}/traces?tab=sessions")
    count = page.locator("[data-count]")
    expect(count).to_have_text(f"{SESSIONS} sessions")  # not "50 sessions+"
    expect(page.locator("#rows > tr.srow")).to_have_count(50)

    search = page.get_by_role("searchbox", name="Search sessions by id, user, input or output")
    search.fill("FIND-3")  # the start of a session id, in any case
    search.press("Enter")
    expect(page.locator("#rows > tr.srow")).to_have_count(10)
    assert sorted(_ids(page)) == [f"find-3{n}" for n in range(10)]
    expect(count).to_have_text("10 sessions")

    page.goto(f"{web.url}/p/{many}/traces?tab=sessions")
    page.get_by_label("Errors").select_option("true")
    expect(page).to_have_url(re.compile("has_errors=true"))
    failed = [f"find-{n:02d}" for n in range(SESSIONS) if n % 5 == 0]
    expect(page.locator("#rows > tr.srow")).to_have_count(len(failed))
    assert sorted(_ids(page)) == failed
    expect(count).to_have_text(f"{len(failed)} sessions")
    expect(page.get_by_role("link", name="Remove filter Errors: With errors")).to_be_visible()

    # the session id filter under "+ Filter", with the errors filter kept
    page.get_by_text("+ Filter").click()
    page.get_by_label("Session id starts with").fill("find-1")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#rows > tr.srow")).to_have_count(2)
    assert sorted(_ids(page)) == ["find-10", "find-15"]


def test_a_click_anywhere_in_a_heading_sorts(page: Page, web: Seeded, many: str) -> None:
    page.goto(f"{web.url}/p/{many}/traces?tab=sessions")
    heading = page.get_by_role("columnheader", name="Session")
    box = heading.bounding_box()
    assert box is not None
    # the far right edge of the cell, away from its text
    page.mouse.click(box["x"] + box["width"] - 2, box["y"] + box["height"] - 2)
    expect(page).to_have_url(re.compile("sort=session_id&order=asc"))
    expect(heading).to_have_attribute("aria-sort", "ascending")
    assert _ids(page)[:3] == ["find-00", "find-01", "find-02"]

    user = page.get_by_role("columnheader", name="User")
    user.click(position={"x": 3, "y": 3})
    expect(page).to_have_url(re.compile("sort=user_id&order=asc"))
    by_user = sorted(range(SESSIONS), key=_user)
    assert _ids(page)[:3] == [f"find-{n:02d}" for n in by_user[:3]]

    # an expanded session's traces have headings
    page.locator("#rows > tr.srow").first.click()
    name = page.locator("tr.expansion").get_by_role("columnheader", name="Name")
    expect(name).to_be_visible()
    box = name.bounding_box()
    assert box is not None and box["height"] > 12  # shown, not only to screen readers


def test_the_address_keeps_the_expanded_session_and_the_open_trace(page: Page, web: Seeded) -> None:
    page.set_viewport_size({"width": 1500, "height": 900})
    page.goto(f"{web.project_url}/traces?tab=sessions")
    row = page.locator("tr.srow", has=page.get_by_text(web.chat_session, exact=True))
    row.click()
    expect(page).to_have_url(re.compile(f"open={web.chat_session}"))
    expansion = page.locator("tr.expansion:not([hidden])")
    expansion.locator("tr.trow").nth(1).locator("td.num").first.click()
    panel = page.get_by_role("complementary", name="Trace")
    expect(panel.get_by_role("tree")).to_be_visible()
    expect(page).to_have_url(re.compile(f"trace={web.chat_traces[1]}"))

    page.reload()  # both survive a reload, as would a shared link
    expect(row.locator("button.disclosure")).to_have_attribute("aria-expanded", "true")
    expect(page.locator("tr.expansion tr.trow")).to_have_count(len(web.chat_traces))
    expect(panel.get_by_role("treeitem")).to_have_count(3)
    expect(panel.locator("[data-full]")).to_have_attribute(
        "href", re.compile(f"/traces/{web.chat_traces[1]}$")
    )

    page.go_back()  # Back closes the panel, and the list stays
    expect(panel).to_be_hidden()
    query = parse_qs(urlsplit(page.url).query)
    assert query.get("tab") == ["sessions"] and "trace" not in query
    assert query.get("open") == [web.chat_session]

    # Close steps back over the panel's entry too: Back then leaves nothing open
    expansion.locator("tr.trow").first.locator("td.num").first.click()
    expect(page).to_have_url(re.compile(f"trace={web.chat_traces[0]}"))
    panel.get_by_role("button", name="Close the trace panel").click()
    expect(panel).to_be_hidden()
    expect(page).not_to_have_url(re.compile("trace="))


def test_the_session_waterfall_shows_every_span_and_opens_one(page: Page, web: Seeded) -> None:
    page.goto(f"{web.project_url}/sessions/{web.chat_session}")
    waterfall = page.locator("[data-waterfall]")
    traces = waterfall.locator(".wf-trace")
    expect(traces).to_have_count(len(web.chat_traces))
    assert [traces.nth(i).get_attribute("data-trace-id") for i in range(3)] == web.chat_traces
    spans = waterfall.locator("a.wf-span")
    expect(spans).to_have_count(3 * len(web.chat_traces))  # a root, an LLM call, a tool each
    lanes = waterfall.locator(".wf-spans")
    expect(lanes.nth(1).locator("a.wf-span")).to_have_count(3)

    # a trace's spans fold away under it
    traces.nth(0).get_by_role("button", name=re.compile("Spans of")).click()
    expect(lanes.nth(0)).to_be_hidden()

    llm = lanes.nth(1).locator("a.wf-span", has_text="openai.chat")
    span_id = llm.get_attribute("data-span-id")
    llm.click()
    expect(page).to_have_url(re.compile(f"/traces/{web.chat_traces[1]}\\?span={span_id}"))
    selected = page.get_by_role("treeitem", selected=True)
    expect(selected).to_contain_text("openai.chat")
    expect(page.locator("[data-detail] .detail-name")).to_have_text("openai.chat")
