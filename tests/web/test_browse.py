"""The seed's promise, in a real browser: open Traces, select Sessions, click a session
to expand it and see all its traces; each trace opens the same view as a standalone one."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.web.conftest import XSS_IMG, XSS_SCRIPT, Seeded, send_turns


def test_sessions_tab_expands_a_session_to_exactly_its_traces(page: Page, web: Seeded) -> None:
    page.goto(f"{web.project_url}/traces")
    traces_tab = page.get_by_role("tab", name="Traces")
    expect(traces_tab).to_have_attribute("aria-selected", "true")

    page.get_by_role("tab", name="Sessions").click()
    expect(page).to_have_url(re.compile(r"tab=sessions"))
    expect(page.get_by_role("tab", name="Sessions")).to_have_attribute("aria-selected", "true")
    page.reload()  # the tab is in the address, so it survives a reload
    expect(page.get_by_role("tab", name="Sessions")).to_have_attribute("aria-selected", "true")

    row = page.locator("tr.srow", has=page.get_by_text(web.chat_session, exact=True))
    expect(row).to_have_count(1)
    row.click()
    button = row.locator("button.disclosure")  # (the other button stars it)
    expect(button).to_have_attribute("aria-expanded", "true")
    expansion = page.locator("tr.expansion:not([hidden])")
    trace_rows = expansion.locator("tr.trow")
    expect(trace_rows).to_have_count(len(web.chat_traces))
    ids = [trace_rows.nth(i).get_attribute("data-id") for i in range(len(web.chat_traces))]
    assert ids == web.chat_traces  # exactly its traces, in time order
    expect(expansion.get_by_role("link", name=re.compile("Open session"))).to_be_visible()

    row.click()  # and closes again
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(expansion).to_have_count(0)


def test_keyboard_expands_and_moves(page: Page, web: Seeded) -> None:
    page.goto(f"{web.project_url}/traces?tab=sessions")
    first = page.locator("tr.srow .disclosure").first
    first.focus()
    page.keyboard.press("Enter")
    expect(first).to_have_attribute("aria-expanded", "true")
    expect(page.locator("tr.expansion tr.trow").first).to_be_visible()
    page.keyboard.press("ArrowDown")  # into the expansion: its first trace
    expect(page.locator("tr.expansion a.trace-link").first).to_be_focused()
    page.keyboard.press("ArrowLeft")  # back to the session
    expect(first).to_be_focused()
    page.keyboard.press("Space")
    expect(first).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("ArrowDown")
    expect(page.locator("tr.srow .disclosure").nth(1)).to_be_focused()


def test_trace_view_shows_span_tree_and_llm_messages(page: Page, web: Seeded) -> None:
    page.goto(f"{web.project_url}/traces?tab=sessions")
    row = page.locator("tr.srow", has=page.get_by_text(web.chat_session, exact=True))
    row.click()
    page.locator("tr.expansion a.trace-link").nth(1).click()
    expect(page).to_have_url(re.compile(f"/traces/{web.chat_traces[1]}"))

    tree = page.get_by_role("tree")
    items = tree.get_by_role("treeitem")
    expect(items).to_have_count(3)
    expect(items.nth(0)).to_contain_text("handle_turn")
    expect(items.nth(0)).to_have_attribute("aria-expanded", "true")

    tree.get_by_role("treeitem", name=re.compile("openai.chat")).click()
    detail = page.locator("[data-detail]")
    expect(detail.locator(".detail-name")).to_have_text("openai.chat")
    expect(detail).to_contain_text("gpt-4o-mini")
    messages = detail.locator(".msg")
    expect(messages.filter(has_text="You are a test assistant.")).to_have_count(1)
    expect(messages.filter(has_text="When will it arrive?")).to_have_count(1)
    expect(messages.filter(has_text="Refunds take 3 to 5 business days.")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"span=[0-9a-f]{16}"))

    # arrow keys move the selection; collapsing hides the children
    page.keyboard.press("ArrowDown")
    expect(detail.locator(".detail-name")).to_have_text("lookup")
    page.keyboard.press("Home")
    page.keyboard.press("ArrowLeft")
    expect(items.nth(0)).to_have_attribute("aria-expanded", "false")
    expect(items.nth(1)).to_be_hidden()

    # previous/next trace in the session, and the session link back
    expect(page.get_by_text("2 of 3")).to_be_visible()
    page.get_by_role("link", name="next ›").click()
    expect(page).to_have_url(re.compile(f"/traces/{web.chat_traces[2]}"))
    page.get_by_role("link", name=re.compile(f"session {web.chat_session}")).click()
    expect(page).to_have_url(re.compile(f"/sessions/{web.chat_session}"))
    transcript = page.locator(".transcript")
    expect(transcript.locator(".turn")).to_have_count(3)
    expect(transcript).to_contain_text("I was charged twice for order 991.")
    expect(transcript).to_contain_text("Refunds take 3 to 5 business days.")
    first_turn = transcript.locator(".turn").first
    first_turn.get_by_role("button", name="spans").click()
    expect(first_turn.locator(".mini-row")).to_have_count(3)


def test_error_trace_shows_exception_with_stack(page: Page, web: Seeded) -> None:
    page.goto(f"{web.project_url}/traces/{web.other_traces[-1]}")
    page.get_by_role("treeitem", name=re.compile("lookup")).click()
    problem = page.locator(".problem")
    expect(problem).to_contain_text("ValueError: lookup failed: index offline")
    expect(problem.locator("pre.stack")).to_contain_text("Traceback")


def test_filter_and_search(page: Page, web: Seeded) -> None:
    page.goto(f"{web.project_url}/traces")
    search = page.get_by_role("searchbox", name="Search inputs and outputs")
    search.fill(web.word)
    search.press("Enter")
    expect(page).to_have_url(re.compile(f"q={web.word}"))
    rows = page.locator("#rows tr.trow")
    expect(rows).to_have_count(1)
    assert rows.first.get_attribute("data-id") == web.chat_traces[2]
    expect(page.get_by_role("link", name=re.compile("Remove filter Search"))).to_be_visible()

    page.goto(f"{web.project_url}/traces")
    page.get_by_label("Status").select_option("error")
    expect(page).to_have_url(re.compile("status=error"))
    expect(rows).to_have_count(1)
    assert rows.first.get_attribute("data-id") == web.other_traces[-1]

    page.get_by_label("User id").fill("u-1842")
    page.get_by_label("User id").press("Enter")
    expect(page.locator("#rows tr.none")).to_contain_text("No traces match")

    page.goto(f"{web.project_url}/traces?tab=sessions")
    page.get_by_label("User id").fill("u-7")
    page.get_by_label("User id").press("Enter")
    sessions = page.locator("#rows tr.srow")
    expect(sessions).to_have_count(1)
    expect(sessions.first).to_contain_text(web.other_session)

    # sorting by a column header
    page.goto(f"{web.project_url}/traces?tab=sessions")
    page.locator("thead").get_by_role("link", name="Traces").click()
    expect(page).to_have_url(re.compile("sort=trace_count"))
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("Traces")
    # most traces first: the module's project holds its three sessions (3, 2 and 1
    # traces) and perhaps the live test's (1), so the first two are known
    expect(sessions.first).to_be_visible()
    ids = [sessions.nth(i).get_attribute("data-id") for i in range(sessions.count())]
    counts = [
        int((sessions.nth(i).get_attribute("data-sig") or "0").split("|")[0])
        for i in range(len(ids))
    ]
    assert counts == sorted(counts, reverse=True)
    assert ids[:2] == [web.chat_session, web.other_session]


def test_new_traces_appear_live(page: Page, web: Seeded) -> None:
    page.goto(f"{web.project_url}/traces?tab=sessions")
    session = "live-" + web.word
    expect(page.locator("tr.srow", has_text=session)).to_have_count(0)
    send_turns(web.server, session, [("hello live", "hi")], key=web.key)
    expect(page.locator("tr.srow", has_text=session)).to_have_count(1, timeout=8000)

    toggle = page.get_by_role("button", name="Pause")
    toggle.click()
    expect(page.get_by_role("button", name="Resume")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("[data-live]")).to_contain_text("Paused")
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("[data-live]")).to_contain_text("Live")


def test_application_text_is_never_markup(page: Page, web: Seeded) -> None:
    # its session's traces (the live test's trace is newer)
    page.goto(f"{web.project_url}/traces?session_id={web.xss_session}")
    row = page.locator("tr.trow", has_text="show me")
    expect(row).to_contain_text(XSS_IMG)

    page.goto(f"{web.project_url}/sessions/{web.xss_session}")
    expect(page.locator(".transcript")).to_contain_text(XSS_SCRIPT)
    expect(page.locator(".transcript")).to_contain_text(XSS_IMG)

    page.goto(f"{web.project_url}/traces/{web.xss_traces[0]}")
    page.get_by_role("treeitem", name=re.compile("openai.chat")).click()
    detail = page.locator("[data-detail]")
    expect(detail.locator(".msg-assistant")).to_contain_text(f"Here: {XSS_IMG} and {XSS_SCRIPT}")
    assert page.locator("img[src=x]").count() == 0
    assert page.locator("main script").count() == 0
    # the page fixture fails the test if alert() ran


def test_wide_screens_open_traces_in_a_side_panel(page: Page, web: Seeded) -> None:
    page.set_viewport_size({"width": 1500, "height": 900})
    page.goto(f"{web.project_url}/traces?session_id={web.chat_session}")
    page.locator("tr.trow").first.locator("td.num").first.click()
    panel = page.get_by_role("complementary", name="Trace")
    expect(panel.get_by_role("tree")).to_be_visible()
    expect(panel.get_by_role("treeitem")).to_have_count(3)
    expect(page).to_have_url(re.compile(r"/traces\?session_id="))  # still on the list
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
