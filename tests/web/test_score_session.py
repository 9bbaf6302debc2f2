"""Scores on the session page (#19), in a real browser: thumbs on a turn (a ``thumbs``
score of the signed-in user, source ui, on that turn's trace), the outcome set from the
header (shown there and in the Sessions tab), every score listed with its source,
author and comment, and user text in a score rendered as text."""

from __future__ import annotations

import re
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
class Rated:
    project: str
    session_id: str
    traces: list[str]
    api: httpx.Client  # the project's API key

    def scores(self) -> list[dict[str, Any]]:
        answer = self.api.get("/api/v1/scores", params={"session_id": self.session_id})
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items


@pytest.fixture
def rated(web: Seeded) -> Iterator[Rated]:
    """A new two-turn session in a project of its own (the other tests' lists stay)."""
    project, key = otlp.new_project(web.server, "rate")
    session_id = f"rate-{uuid.uuid4().hex[:8]}"
    turns = [("Is it raining?", "No."), ("Sure?", "Yes.")]
    traces = send_turns(web.server, session_id, turns, key=key)
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=web.url, headers=headers, timeout=30) as api:
        deadline = time.monotonic() + 10
        while len(api.get(f"/api/v1/sessions/{session_id}").json().get("traces", [])) < 2:
            assert time.monotonic() < deadline, "the session's traces did not arrive"
            time.sleep(0.05)
        yield Rated(project, session_id, traces, api)


def _open(page: Page, web: Seeded, rated: Rated) -> None:
    page.goto(f"{web.url}/p/{rated.project}/sessions/{quote(rated.session_id, safe='')}")


def test_thumbs_on_a_turn(page: Page, web: Seeded, rated: Rated) -> None:
    _open(page, web, rated)
    second = page.locator(f"#turn-{rated.traces[1]}")
    second.get_by_role("button", name="Thumbs up").click()
    expect(second.get_by_role("button", name="Thumbs up")).to_have_attribute("aria-pressed", "true")
    expect(second.locator(".turn-score")).to_have_text(["thumbs up"])
    expect(page.locator(f"#turn-{rated.traces[0]} .turn-score")).to_have_count(0)
    [score] = rated.scores()
    assert (score["name"], score["value"], score["trace_id"]) == ("thumbs", 1, rated.traces[1])
    assert (score["source"], score["author"]) == ("ui", web.email)
    row = page.locator(f'.score-list tr[data-score-id="{score["score_id"]}"]')
    expect(row.locator("td")).to_have_text(
        ["thumbs", "up", "turn 2", "ui", web.email, "—", re.compile(r"\S")]
    )

    # pressed again, the rating is taken back
    second.get_by_role("button", name="Thumbs up").click()
    expect(second.get_by_role("button", name="Thumbs up")).to_have_attribute(
        "aria-pressed", "false"
    )
    expect(second.locator(".turn-score")).to_have_count(0)
    assert rated.scores() == []


def test_set_the_outcome_from_the_header(page: Page, web: Seeded, rated: Rated) -> None:
    _open(page, web, rated)
    expect(page.locator("[data-session-status]")).to_have_text("Active")
    page.get_by_text("End with outcome").click()
    page.get_by_role("button", name="Failure").click()
    expect(page.locator("[data-outcome]")).to_have_text("failure")
    expect(page.locator("[data-session-status]")).to_have_text("Ended")
    [score] = rated.scores()
    assert (score["name"], score["label"], score["source"]) == ("outcome", "failure", "ui")

    page.goto(
        f"{web.url}/p/{rated.project}/traces?tab=sessions&session_id_prefix={rated.session_id}"
    )
    row = page.locator(f'#rows > tr[data-id="{rated.session_id}"]')
    # the list shows the label given (failure and abandoned are both 0: not "failure/abandoned")
    expect(row.locator('td[data-score="outcome"] .score-chip')).to_have_text("failure")
    page.goto(f"{web.url}/p/{rated.project}/traces?tab=sessions&outcome=failure&status=ended")
    expect(page.locator(f'#rows > tr[data-id="{rated.session_id}"]')).to_have_count(1)


def test_user_text_in_a_score_renders_as_text(page: Page, web: Seeded, rated: Rated) -> None:
    comment = f"bad {XSS_SCRIPT} {XSS_IMG}\nsecond line"
    answer = rated.api.post(
        "/api/v1/scores",
        json={"name": "quality", "value": 0.25, "trace_id": rated.traces[0], "comment": comment},
    )
    assert answer.status_code == 201, answer.text
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    _open(page, web, rated)
    expect(page.locator(".score-list .score-comment")).to_have_text(comment)
    expect(page.locator(f"#turn-{rated.traces[0]} .turn-score")).to_have_text(["quality 0.25"])
    assert page.locator(".session-scores img, .session-scores script").count() == 0
    assert dialogs == []
    html = page.request.get(page.url).text()
    assert "bad &lt;script&gt;alert(2)&lt;/script&gt;" in html


def test_annotate_a_turn_with_a_categorical_config(page: Page, web: Seeded, rated: Rated) -> None:
    config = {
        "name": "tone",
        "type": "categorical",
        "categories": [{"label": "friendly", "value": 1}, {"label": "rude", "value": 0}],
    }
    answer = rated.api.post("/api/v1/score-configs", json=config)
    assert answer.status_code in (200, 201), answer.text
    _open(page, web, rated)
    page.locator(f"#turn-{rated.traces[0]}").get_by_role("button", name="Annotate").click()
    dialog = page.get_by_role("dialog", name="Annotate turn 1")
    dialog.get_by_label("Score", exact=True).select_option("tone")
    expect(dialog.get_by_label("Value", exact=True)).to_be_hidden()  # a label, not a number
    dialog.get_by_label("Label", exact=True).select_option("rude")
    comment = f"curt {XSS_IMG}"
    dialog.get_by_label("Comment (optional, plain text)").fill(comment)
    dialog.get_by_role("button", name="Save score").click()
    expect(page.locator(f"#turn-{rated.traces[0]} .turn-score")).to_have_text(["tone rude"])
    expect(page.locator(".score-list .score-comment")).to_have_text(comment)
    [score] = rated.scores()
    assert (score["name"], score["label"], score["value"]) == ("tone", "rude", 0)
    assert (score["trace_id"], score["comment"], score["author"]) == (
        rated.traces[0],
        comment,
        web.email,
    )


def test_annotate_a_span_on_the_trace_view(page: Page, web: Seeded, rated: Rated) -> None:
    trace = rated.traces[1]
    page.goto(f"{web.url}/p/{rated.project}/traces/{trace}")
    page.get_by_role("treeitem", name=re.compile("openai.chat")).click()
    expect(page.get_by_role("treeitem", name=re.compile("openai.chat"))).to_have_attribute(
        "aria-selected", "true"
    )
    page.get_by_role("button", name="Annotate span").click()
    dialog = page.get_by_role("dialog", name="Annotate this span")
    dialog.get_by_label("Score", exact=True).select_option("")  # a new name, numeric
    dialog.get_by_label("New score name").fill("accuracy")
    dialog.get_by_label("Value", exact=True).fill("0.7")
    dialog.get_by_role("button", name="Save score").click()
    expect(page.locator(".score-list tbody tr td").first).to_have_text("accuracy")
    [score] = rated.scores()
    span = page.get_by_role("treeitem", name=re.compile("openai.chat")).get_attribute("data-id")
    assert (score["name"], score["value"], score["trace_id"]) == ("accuracy", 0.7, trace)
    assert score["span_id"] == span and score["source"] == "ui"
