"""Datasets in a real browser (#22): "Add to dataset" on a transcript turn makes a new
dataset holding the conversation up to that turn, and the Datasets page shows the item
with its source link (back to the turn); the whole session and a trace go into an
existing dataset the dialog lists; an item's expected output is edited and an item
deleted on the page; user text (HTML in an input) renders as text."""

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
class Chat:
    project: str
    session_id: str
    traces: list[str]
    api: httpx.Client  # the project's API key

    def items(self, name: str) -> list[dict[str, Any]]:
        answer = self.api.get(f"/api/v1/datasets/{name}/items")
        assert answer.status_code == 200, answer.text
        found: list[dict[str, Any]] = answer.json()["items"]
        return found


@pytest.fixture
def chat(web: Seeded) -> Iterator[Chat]:
    """A new three-turn session in a project of its own, HTML in its second question."""
    project, key = otlp.new_project(web.server, "sets")
    session_id = f"sets/{uuid.uuid4().hex[:8]}"
    turns = [
        ("Where is my order?", "It ships today."),
        (f"Can I pay {XSS_IMG} by card {XSS_SCRIPT}?", "Yes, by card."),
        ("Thanks!", "You are welcome."),
    ]
    traces = send_turns(web.server, session_id, turns, key=key)
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=web.url, headers=headers, timeout=30) as api:
        deadline = time.monotonic() + 10
        while (
            len(api.get(f"/api/v1/sessions/{quote(session_id, safe='')}").json().get("traces", []))
            < 3
        ):
            assert time.monotonic() < deadline, "the session's traces did not arrive"
            time.sleep(0.05)
        yield Chat(project, session_id, traces, api)


def _session_page(web: Seeded, chat: Chat) -> str:
    return f"{web.url}/p/{chat.project}/sessions/{quote(chat.session_id, safe='')}"


def test_a_turn_added_to_a_new_dataset_shows_with_its_source_link(
    page: Page, web: Seeded, chat: Chat
) -> None:
    page.goto(_session_page(web, chat))
    page.locator(f"#turn-{chat.traces[1]}").get_by_role("button", name="Add to dataset").click()
    dialog = page.get_by_role("dialog", name="Add turn 2 to a dataset")
    expect(dialog.get_by_text("the conversation up to turn 2")).to_be_visible()
    # no dataset yet: a new one
    expect(dialog.get_by_label("Dataset", exact=True)).to_have_value("")
    dialog.get_by_label("Name of the new dataset").fill("refund-cases")
    dialog.get_by_role("button", name="Add").click()
    done = dialog.get_by_role("link", name="refund-cases")
    expect(done).to_be_visible()
    (item,) = chat.items("refund-cases")
    question = f"Can I pay {XSS_IMG} by card {XSS_SCRIPT}?"
    assert item["input"] == [
        {"role": "user", "content": "Where is my order?"},
        {"role": "assistant", "content": "It ships today."},
        {"role": "user", "content": question},
    ]
    assert item["expected_output"] == "Yes, by card."
    done.click()
    page.wait_for_url(f"**/p/{chat.project}/datasets/refund-cases#item-{item['item_id']}")
    row = page.locator(f"#item-{item['item_id']}")
    expect(row.locator(".item-messages li")).to_have_text(
        ["user Where is my order?", "assistant It ships today.", f"user {question}"]
    )
    expect(row.locator("td").nth(1)).to_have_text("Yes, by card.")
    assert page.locator(".dataset-items img, .dataset-items script").count() == 0
    source = row.get_by_role("link", name=f"turn 2 of {chat.session_id}")
    expected = f"/p/{chat.project}/sessions/{quote(chat.session_id, safe='')}#turn-{chat.traces[1]}"
    expect(source).to_have_attribute("href", expected)
    source.click()
    page.wait_for_url(f"**{expected}")
    expect(page.locator(f"#turn-{chat.traces[1]}")).to_be_visible()
    # the Datasets page lists it, from the top navigation
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Datasets").click()
    expect(page.locator('tr[data-dataset="refund-cases"] td.num')).to_have_text("1")


def test_a_session_and_a_trace_go_into_a_listed_dataset_and_items_are_edited(
    page: Page, web: Seeded, chat: Chat
) -> None:
    assert chat.api.post("/api/v1/datasets", json={"name": "golden"}).status_code == 201
    page.goto(_session_page(web, chat))
    page.locator(".session-head, main").get_by_role("button", name="Add to dataset").first.click()
    dialog = page.get_by_role("dialog", name="Add this session to a dataset")
    expect(dialog.get_by_label("Dataset", exact=True)).to_have_value("golden")
    expect(dialog.get_by_label("Name of the new dataset")).to_be_hidden()
    dialog.get_by_role("button", name="Add").click()
    expect(dialog.get_by_role("link", name="golden")).to_be_visible()
    page.goto(f"{web.url}/p/{chat.project}/traces/{chat.traces[2]}")
    page.locator(".trace-actions").get_by_role("button", name="Add to dataset").click()
    dialog = page.get_by_role("dialog", name="Add this trace to a dataset")
    expect(dialog.get_by_label("Dataset", exact=True)).to_have_value("golden")
    dialog.get_by_role("button", name="Add").click()
    expect(dialog.get_by_role("link", name="golden")).to_be_visible()
    whole, trace = chat.items("golden")
    assert len(whole["input"]) == 6 and whole["source"]["turn"] is None
    assert trace["input"] == {"user_message": "Thanks!"}  # the root span's, as recorded
    assert trace["expected_output"] == "You are welcome."

    page.goto(f"{web.url}/p/{chat.project}/datasets/golden")
    row = page.locator(f"#item-{trace['item_id']}")
    expect(row.get_by_role("link", name=f"trace {chat.traces[2][:12]}…")).to_have_attribute(
        "href", f"/p/{chat.project}/traces/{chat.traces[2]}"
    )
    row.get_by_text("Edit", exact=True).click()
    row.get_by_label("Expected output").fill("You're welcome! <b>Anything else?</b>")
    row.get_by_role("button", name="Save").click()
    expect(page.locator(f"#item-{trace['item_id']} td").nth(1)).to_have_text(
        "You're welcome! <b>Anything else?</b>"
    )
    assert chat.items("golden")[1]["expected_output"] == "You're welcome! <b>Anything else?</b>"
    page.locator(f"#item-{whole['item_id']}").get_by_role("button", name="Delete").click()
    expect(page.locator(f"#item-{whole['item_id']}")).to_have_count(0)
    assert [item["item_id"] for item in chat.items("golden")] == [trace["item_id"]]
