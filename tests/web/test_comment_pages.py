"""Comments and stars on the pages (#19), in a real browser (Debian's Chromium): a
comment on a session from its side panel (listed there beside the scores, with its
author), on a trace and on a span from the trace view (the span's row shows its count),
a body holding HTML and a script shown as text with its link made clickable, the
author's Delete; a session starred in the Sessions tab and on its header, and the
Starred filter (``starred=true`` in the address) keeping only it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support import otlp
from tests.web.conftest import XSS_IMG, XSS_SCRIPT, Seeded, send_turns


@dataclass
class Talk:
    project: str
    session_id: str
    traces: list[str]
    other_session: str
    api: httpx.Client  # the project's API key

    def comments(self, **params: str) -> list[dict[str, Any]]:
        answer = self.api.get("/api/v1/comments", params=params)
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items


@pytest.fixture
def talk(web: Seeded) -> Iterator[Talk]:
    """Two sessions in a project of their own (the other tests' lists stay as they are)."""
    project, key = otlp.new_project(web.server, "notes")
    session_id = f"notes-{uuid.uuid4().hex[:8]}"
    other = f"other-{uuid.uuid4().hex[:8]}"
    traces = send_turns(web.server, session_id, [("Hi", "Hello."), ("Bye", "Bye.")], key=key)
    send_turns(web.server, other, [("Other", "Yes.")], key=key)
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=web.url, headers=headers, timeout=30) as api:
        deadline = time.monotonic() + 10
        while (
            len(api.get("/api/v1/sessions").json().get("items", [])) < 2
            or len(api.get(f"/api/v1/sessions/{session_id}").json().get("traces", [])) < 2
        ):
            assert time.monotonic() < deadline, "the sessions did not arrive"
            time.sleep(0.05)
        yield Talk(project, session_id, traces, other, api)


def test_a_comment_on_a_session_shows_as_text_with_its_link(
    page: Page, web: Seeded, talk: Talk
) -> None:
    scored = talk.api.post(
        "/api/v1/scores",
        json={"name": "helpful", "value": 1, "trace_id": talk.traces[0], "comment": "kind"},
    )
    assert scored.status_code == 201, scored.text
    page.goto(f"{web.url}/p/{talk.project}/sessions/{quote(talk.session_id, safe='')}")
    side = page.locator("aside.session-side")
    expect(side.locator(".side-score")).to_have_count(1)
    body = f"See https://example.com/issue/7. {XSS_SCRIPT} and {XSS_IMG} <b>bold</b>"
    side.get_by_label("Add a comment").fill(body)
    side.get_by_role("button", name="Comment").click()

    comment = side.locator(".comment")
    expect(comment).to_have_count(1)
    expect(comment.locator(".comment-body")).to_have_text(body)  # the markup, as text
    expect(comment.locator(".comment-author")).to_have_text(web.email)
    expect(comment.locator(".comment-body b")).to_have_count(0)
    expect(comment.locator(".comment-body img")).to_have_count(0)
    expect(comment.locator(".comment-body script")).to_have_count(0)
    link = comment.get_by_role("link", name="https://example.com/issue/7")
    expect(link).to_have_attribute("href", "https://example.com/issue/7")
    expect(link).to_have_attribute("rel", "nofollow noopener noreferrer")
    # the side panel lists the score and the comment, in the order they were given
    expect(side.locator("li")).to_have_count(2)
    expect(side.locator("li").first).to_contain_text("helpful")
    [stored] = talk.comments(session_id=talk.session_id)
    assert stored["body"] == body and stored["author"] == web.email

    comment.get_by_role("button", name="Delete this comment").click()
    expect(side.locator(".comment")).to_have_count(0)
    assert talk.comments(session_id=talk.session_id) == []


def test_comments_on_a_trace_and_a_span(page: Page, web: Seeded, talk: Talk) -> None:
    trace_id = talk.traces[1]
    spans = talk.api.get(f"/api/v1/traces/{trace_id}").json()["spans"]
    child = next(span for span in spans if span["parent_span_id"])
    page.goto(f"{web.url}/p/{talk.project}/traces/{trace_id}")
    on_trace = page.locator("section.trace-comments")
    on_trace.get_by_label("Comment on this trace").fill(f"trace note {XSS_IMG}")
    on_trace.get_by_role("button", name="Comment").click()
    expect(on_trace.locator(".comment-body")).to_have_text(f"trace note {XSS_IMG}")

    page.locator(f'.span-row[data-id="{child["span_id"]}"]').click()
    detail = page.locator(f'.detail[data-span-id="{child["span_id"]}"]')
    detail.locator("summary", has_text="Comments on this span").click()
    detail.get_by_label("Comment on this span").fill("span note")
    detail.get_by_role("button", name="Comment").click()

    # the page is read again: the span's row shows its count; its thread opens
    row = page.locator(f'.span-row[data-id="{child["span_id"]}"]')
    expect(row.locator("[data-comment-count]")).to_have_text("1")
    row.click()
    detail = page.locator(f'.detail[data-span-id="{child["span_id"]}"]')
    expect(detail.locator(".span-comments .comment-body")).to_have_text("span note")
    expect(page.locator("section.trace-comments .comment-body")).to_have_text(
        f"trace note {XSS_IMG}"
    )
    stored = talk.comments(trace_id=trace_id)
    assert [(c["body"], c["span_id"]) for c in stored] == [
        (f"trace note {XSS_IMG}", None),
        ("span note", child["span_id"]),
    ]
    # both are in the session's thread too
    assert len(talk.comments(session_id=talk.session_id)) == 2


def test_star_a_session_and_filter_by_starred(page: Page, web: Seeded, talk: Talk) -> None:
    page.goto(f"{web.url}/p/{talk.project}/traces?tab=sessions")
    row = page.locator(f'tr.srow[data-id="{talk.session_id}"]')
    star = row.get_by_role("button", name="Star this session")
    expect(star).to_have_attribute("aria-pressed", "false")
    star.click()
    expect(star).to_have_attribute("aria-pressed", "true")
    expect(page.locator("tr.expansion")).to_have_count(0)  # a star is no click on the row

    page.get_by_role("checkbox", name="Starred").click()  # it sends the form at once
    page.wait_for_url("**starred=true**")
    expect(page.locator("tr.srow")).to_have_count(1)
    expect(page.locator(f'tr.srow[data-id="{talk.session_id}"]')).to_be_visible()
    expect(page.locator(".chips")).to_contain_text("only starred")

    # the session's header shows the star, and unstarring there empties the filter
    page.goto(f"{web.url}/p/{talk.project}/sessions/{quote(talk.session_id, safe='')}")
    header_star = page.locator(".page-head").get_by_role("button", name="Star this session")
    expect(header_star).to_have_attribute("aria-pressed", "true")
    header_star.click()
    expect(header_star).to_have_attribute("aria-pressed", "false")
    page.goto(f"{web.url}/p/{talk.project}/traces?tab=sessions&starred=true")
    expect(page.locator("tr.srow")).to_have_count(0)
    page.goto(f"{web.url}/p/{talk.project}/traces?tab=sessions")
    expect(page.locator("tr.srow")).to_have_count(2)
