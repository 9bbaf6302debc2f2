"""Share links in a real browser (#19): made from the session page's Share dialog, the
link opens in a fresh browser (no cookie, never signed in) on the session's transcript
and its traces and nothing else; revoked in Settings, or expired, it is the plain 404 of
an address with nothing at it."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from lamina.store.duckdb.store import DuckDBStore
from lamina.store.shares import Share, ShareKind
from tests.conftest import start_server
from tests.support import otlp
from tests.web.conftest import Seeded, new_context, send_turns

NOTHING_HERE = "There is nothing at this address."


@dataclass
class Shared:
    project: str
    session_id: str
    traces: list[str]
    other_session: str
    other_traces: list[str]


@pytest.fixture
def shared(web: Seeded) -> Iterator[Shared]:
    """Two sessions in a project of their own: one to share, one that must not show."""
    project, key = otlp.new_project(web.server, "share")
    tag = uuid.uuid4().hex[:8]
    session_id, other = f"share-{tag}", f"private-{tag}"
    traces = send_turns(
        web.server,
        session_id,
        [("Where is my parcel?", "It left the depot."), ("When?", "Today.")],
        key=key,
    )
    others = send_turns(web.server, other, [("private question", "private answer")], key=key)
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=web.url, headers=headers, timeout=30) as api:
        deadline = time.monotonic() + 10
        while (
            api.get(f"/api/v1/sessions/{other}").status_code != 200
            or len(api.get(f"/api/v1/sessions/{session_id}").json().get("traces", [])) < 2
        ):
            assert time.monotonic() < deadline, "the sessions did not arrive"
            time.sleep(0.05)
    yield Shared(project, session_id, traces, other, others)


def _hrefs(page: Page) -> list[str]:
    return [
        href
        for href in page.locator("a[href]").evaluate_all(
            "els => els.map(e => e.getAttribute('href'))"
        )
    ]


def test_a_link_from_the_session_page_opens_the_session_alone_until_revoked(
    page: Page, browser: Browser, web: Seeded, shared: Shared
) -> None:
    page.goto(f"{web.url}/p/{shared.project}/sessions/{quote(shared.session_id, safe='')}")
    page.get_by_role("button", name="Share", exact=True).click()
    dialog = page.get_by_role("dialog", name="Share this session")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Expires after").select_option("30")
    dialog.get_by_role("button", name="Create link").click()
    link_field = dialog.get_by_label("Link", exact=True)
    expect(link_field).to_have_value(re.compile(re.escape(web.url) + r"/share/[\w-]{43}$"))
    link = link_field.input_value()
    token = link.rsplit("/", 1)[1]
    expect(dialog.get_by_role("button", name="Copy the link")).to_have_attribute("data-copy", link)
    dialog.get_by_role("button", name="Close").click()

    stranger = new_context(browser)  # no cookie: never signed in
    try:
        visitor = stranger.new_page()
        errors: list[str] = []
        visitor.on("pageerror", lambda error: errors.append(str(error)))
        answer = visitor.goto(link)
        assert answer is not None and answer.status == 200
        expect(visitor.get_by_role("heading", name=shared.session_id)).to_be_visible()
        expect(visitor.get_by_text("Where is my parcel?")).to_be_visible()
        expect(visitor.get_by_text("It left the depot.")).to_be_visible()
        expect(visitor.get_by_text("Shared from Lamina")).to_be_visible()
        expect(visitor.locator(".topbar")).to_have_count(0)
        expect(visitor.get_by_text("private question")).to_have_count(0)
        for href in _hrefs(visitor):  # nothing leads out of the share
            assert href.startswith((f"/share/{token}/traces/", "#")), href
        # a turn's trace opens inside the share, its span tree and detail working
        visitor.locator(f"#turn-{shared.traces[0]} a.trace-link").click()
        visitor.wait_for_url(f"**/share/{token}/traces/{shared.traces[0]}")
        expect(visitor.get_by_role("heading", name="handle_turn", level=1)).to_be_visible()
        visitor.get_by_role("treeitem").filter(has_text="openai.chat").click()
        expect(visitor.locator("[data-detail] .detail-name")).to_have_text("openai.chat")
        for href in _hrefs(visitor):
            assert href.startswith((f"/share/{token}", "#")), href
        # another session's trace is not reachable through the link
        other = visitor.goto(f"{web.url}/share/{token}/traces/{shared.other_traces[0]}")
        assert other is not None and other.status == 404
        expect(visitor.get_by_text(NOTHING_HERE)).to_be_visible()
        assert not errors, errors

        # revoked on the Settings page: the same address is a 404 from then on
        page.goto(f"{web.url}/p/{shared.project}/settings")
        row = page.locator("#shares tr", has_text=shared.session_id)
        expect(row).to_have_count(1)
        expect(page.locator("#shares")).not_to_contain_text(token)
        row.get_by_role("button", name="Revoke").click()
        page.get_by_role("dialog", name="Revoke this link?").get_by_role(
            "button", name="Revoke link"
        ).click()
        expect(page.get_by_text("The share link is revoked")).to_be_visible()
        expect(page.locator("#shares")).to_contain_text("No live share links.")
        gone = visitor.goto(link)
        assert gone is not None and gone.status == 404
        expect(visitor.get_by_text(NOTHING_HERE)).to_be_visible()
        expect(visitor.get_by_text(shared.session_id)).to_have_count(0)
    finally:
        stranger.close()


def test_an_expired_link_is_the_same_404_as_an_unknown_one(
    browser: Browser, tmp_path: Path
) -> None:
    """A link whose expiry has passed, written into the store while the server was down
    (the server's clock cannot be turned), opens nothing; a live one beside it does."""
    data_dir = tmp_path / "data"
    server = start_server(data_dir)
    try:
        send_turns(server, "conv-expiring", [("hello", "hi there")])
        server.wait_for("/api/v1/sessions", lambda page: len(page["items"]) >= 1)
    finally:
        server.stop()
    store = DuckDBStore(data_dir)
    tokens = {}
    try:
        project = store.find_project("default")
        assert project is not None
        now = time.time_ns()
        for name, expires in (("expired", now - 1), ("live", now + 86_400 * 10**9)):
            tokens[name] = secrets.token_urlsafe(32)
            share = Share(
                share_id=f"shr_{name}",
                project_id=project.id,
                kind=ShareKind.SESSION,
                object_id="conv-expiring",
                redact_attributes=False,
                author="test",
                created_ns=now - 2 * 86_400 * 10**9,
                expires_ns=expires,
            )
            store.add_share(share, hashlib.sha256(tokens[name].encode()).hexdigest())
    finally:
        store.close()
    server = start_server(data_dir, api_key=server.api_key)
    context = new_context(browser)
    try:
        visitor = context.new_page()
        live = visitor.goto(f"{server.url}/share/{tokens['live']}")
        assert live is not None and live.status == 200
        expect(visitor.get_by_text("hi there")).to_be_visible()
        unknown = httpx.get(f"{server.url}/share/{secrets.token_urlsafe(32)}", timeout=30)
        expired = visitor.goto(f"{server.url}/share/{tokens['expired']}")
        assert expired is not None and expired.status == 404
        expect(visitor.get_by_text(NOTHING_HERE)).to_be_visible()
        assert expired.text() == unknown.text
        listed = server.api("/api/v1/shares")["items"]
        assert [item["id"] for item in listed] == ["shr_live"]
    finally:
        context.close()
        server.stop()


def test_a_trace_link_with_attributes_hidden(
    page: Page, browser: Browser, web: Seeded, shared: Shared
) -> None:
    page.goto(f"{web.url}/p/{shared.project}/traces/{shared.traces[1]}")
    page.get_by_role("button", name="Share", exact=True).click()
    dialog = page.get_by_role("dialog", name="Share this trace")
    dialog.get_by_label("Hide span attributes, resources and metadata").check()
    dialog.get_by_role("button", name="Create link").click()
    link_field = dialog.get_by_label("Link", exact=True)
    expect(link_field).to_have_value(re.compile(r"/share/[\w-]{43}$"))
    link = link_field.input_value()
    stranger = new_context(browser)
    try:
        visitor = stranger.new_page()
        answer = visitor.goto(link)
        assert answer is not None and answer.status == 200
        expect(visitor.get_by_text("attributes hidden")).to_be_visible()
        visitor.get_by_role("treeitem").filter(has_text="openai.chat").click()
        expect(visitor.locator("[data-detail] .detail-name")).to_have_text("openai.chat")
        expect(visitor.get_by_role("tab", name="Attributes")).to_contain_text("0")
        assert "gen_ai.system" not in visitor.content()
        for href in _hrefs(visitor):
            assert href.startswith(("/share/", "#")), href
        sibling = visitor.goto(link + f"/traces/{shared.traces[0]}")  # its session's other turn
        assert sibling is not None and sibling.status == 404
    finally:
        stranger.close()
