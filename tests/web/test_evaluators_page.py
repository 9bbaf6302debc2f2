"""The Evaluators page (#20), in a real browser: an evaluator's runs with the score each
wrote and the turn it cites, turning it off, trying it on a session, adding one (a
refused definition shown as the server words it), and user text shown as text."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support import otlp
from tests.web.conftest import XSS_SCRIPT, Seeded, send_turns


@dataclass
class Judged:
    project: str
    session_id: str
    traces: list[str]
    evaluator_id: str
    api: httpx.Client


@pytest.fixture
def judged(web: Seeded) -> Iterator[Judged]:
    """A project whose one session ended in an error, judged by a check (a backfill)."""
    project, key = otlp.new_project(web.server, "judged")
    session_id = f"judged-{uuid.uuid4().hex[:8]}"
    traces = send_turns(
        web.server, session_id, [("Pay", "ok"), ("Again", XSS_SCRIPT)], fail_last=True, key=key
    )
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=web.url, headers=headers, timeout=30) as api:
        deadline = time.monotonic() + 10
        while len(api.get(f"/api/v1/sessions/{session_id}").json().get("traces", [])) < 2:
            assert time.monotonic() < deadline, "the session's traces did not arrive"
            time.sleep(0.05)
        check = {"type": "error_in_last_turn"}
        made = api.post(
            "/api/v1/evaluators",
            json={"name": "last-error", "kind": "check", "check": check, "quiet_seconds": 0},
        )
        assert made.status_code == 201, made.text
        evaluator_id = made.json()["id"]
        filled = api.post(
            f"/api/v1/evaluators/{evaluator_id}/backfill", json={"since": "2000-01-01"}
        )
        assert filled.json() == {"queued": 1}
        deadline = time.monotonic() + 15  # the shared server polls every 5 s
        while _runs(api, evaluator_id) != ["ok"]:
            assert time.monotonic() < deadline, _runs(api, evaluator_id)
            time.sleep(0.1)
        yield Judged(project, session_id, traces, evaluator_id, api)


def _runs(api: httpx.Client, evaluator_id: str) -> list[str]:
    items: list[dict[str, Any]] = api.get(f"/api/v1/evaluators/{evaluator_id}/runs").json()["items"]
    return [item["status"] for item in items]


def test_the_evaluators_page_lists_runs_switches_tries_and_adds(
    page: Page, web: Seeded, judged: Judged
) -> None:
    page.goto(f"{web.url}/p/{judged.project}/evaluators")
    row = page.locator(f'tr[data-evaluator="{judged.evaluator_id}"]')
    expect(row).to_contain_text("last-error")
    expect(row).to_contain_text("error_in_last_turn")
    expect(row).to_contain_text("found in 1 of 1")
    expect(page.get_by_role("link", name="Evaluators")).to_have_attribute("aria-current", "page")

    # its runs: the session, the score and the turn it cites
    page.get_by_text("Runs and “Try on a session”").click()
    run = page.locator("table.runs tbody tr").first
    expect(run.get_by_role("link", name=judged.session_id)).to_be_visible()
    expect(run).to_contain_text("ok")
    expect(run).to_contain_text("The last turn ended in an error")
    expect(run.locator(f'a[href$="/traces/{judged.traces[1]}"]')).to_be_visible()

    # try it on the session: the score it would give, stored nowhere
    form = page.locator(f'form[data-try="{judged.evaluator_id}"]')
    form.get_by_label("Session id").fill(judged.session_id)
    form.get_by_role("button", name="Try").click()
    expect(form.locator("[data-try-result]")).to_contain_text("last-error = 1")
    scores = judged.api.get("/api/v1/scores").json()["items"]
    assert len(scores) == 1

    # off, and on again
    switch = row.get_by_role("switch")
    expect(switch).to_have_text("On")
    switch.click()
    expect(
        page.locator(f'tr[data-evaluator="{judged.evaluator_id}"]').get_by_role("switch")
    ).to_have_text("Off")
    answer = judged.api.get(f"/api/v1/evaluators/{judged.evaluator_id}").json()
    assert answer["enabled"] is False

    # a refused definition: the server's words; then a good one is listed
    page.get_by_text("Or give its definition as JSON").click()
    box = page.get_by_label("Definition")
    box.fill(json.dumps({"name": "cost", "kind": "check", "check": {"type": "max_cost"}}))
    page.get_by_role("button", name="Add from JSON").click()
    alert = page.locator("[data-evaluator-error]")
    expect(alert).to_contain_text("max_cost needs check.params.max")
    box.fill("{not json")
    page.get_by_role("button", name="Add from JSON").click()
    expect(alert).to_contain_text("The definition is not JSON")
    good = {"name": "cost", "kind": "check", "check": {"type": "max_cost", "params": {"max": 1}}}
    box.fill(json.dumps(good))
    page.get_by_role("button", name="Add from JSON").click()
    expect(page.locator("table.evaluators")).to_contain_text("max_cost")
    names = [e["name"] for e in judged.api.get("/api/v1/evaluators").json()["items"]]
    assert names == ["cost", "last-error"]
    # a turn's text never became markup on the page
    assert page.locator("script:not([src])").count() == 0


def test_the_editor_adds_a_check_and_changes_its_sample_rate(page: Page, web: Seeded) -> None:
    """The editor's form, not JSON: a check added (a refused field's error shown under
    it first), listed, then its sample rate changed on its own page."""
    project, key = otlp.new_project(web.server, "editor")
    page.goto(f"{web.url}/p/{project}/evaluators")
    form = page.locator("form[data-evaluator-form]")
    form.get_by_label("Name", exact=True).fill("slow-sessions")
    form.get_by_label("Kind").select_option("check")
    form.get_by_label("Check type").select_option("max_duration")
    seconds = form.locator('[data-check-params="max_duration"]').get_by_label("seconds")
    expect(seconds).to_be_visible()
    expect(form.get_by_label("Base URL")).to_be_hidden()  # the LLM judge's fields
    form.get_by_label("Sample rate").fill("2")
    form.get_by_role("button", name="Add evaluator").click()
    # the API's refusal, next to the field it names
    error = form.locator('[data-error-for="sample_rate"]')
    expect(error).to_contain_text("sample_rate must be a number from 0 to 1")
    expect(form.get_by_label("Sample rate")).to_have_attribute("aria-invalid", "true")
    form.get_by_label("Sample rate").fill("0.5")
    form.get_by_role("button", name="Add evaluator").click()
    expect(form.locator('[data-error-for="check.params.seconds"]')).to_contain_text(
        "max_duration needs check.params.seconds"
    )
    seconds.fill("30")
    form.get_by_label("Quiet period").fill("120")
    form.get_by_role("button", name="Add evaluator").click()
    row = page.locator("table.evaluators tr[data-evaluator]")
    expect(row).to_contain_text("slow-sessions")
    expect(row).to_contain_text("max_duration")
    expect(row).to_contain_text("120 s")
    with httpx.Client(base_url=web.url, headers={"Authorization": f"Bearer {key}"}) as api:
        (made,) = api.get("/api/v1/evaluators").json()["items"]
        assert made["check"] == {"type": "max_duration", "params": {"seconds": 30}}
        assert (made["sample_rate"], made["quiet_seconds"], made["enabled"]) == (0.5, 120, True)
        assert made["state"] == "idle" and made["filter"] == {}

        # its own page: the form holds its definition; the sample rate changed
        row.get_by_role("link", name="slow-sessions").click()
        expect(page.get_by_role("heading", name="slow-sessions")).to_be_visible()
        editor = page.locator("form[data-evaluator-form]")
        expect(editor.get_by_label("Sample rate")).to_have_value("0.5")
        expect(
            editor.locator('[data-check-params="max_duration"]').get_by_label("seconds")
        ).to_have_value("30")
        editor.get_by_label("Sample rate").fill("0.25")
        with page.expect_navigation():  # saved, the page is read again
            editor.get_by_role("button", name="Save changes").click()
        expect(page.locator("form[data-evaluator-form]").get_by_label("Sample rate")).to_have_value(
            "0.25"
        )
        changed = api.get(f"/api/v1/evaluators/{made['id']}").json()
        assert changed["sample_rate"] == 0.25 and changed["check"] == made["check"]
        assert changed["quiet_seconds"] == 120 and changed["name"] == "slow-sessions"


def test_a_backfill_from_the_page_shows_its_progress_read_again(page: Page, web: Seeded) -> None:
    """'Judge earlier sessions' queues a backfill; while its run waits (a judge whose
    daily budget is 0 never calls), the page shows 0 of 1 done and reads it again."""
    project, key = otlp.new_project(web.server, "backfill")
    session_id = f"earlier-{uuid.uuid4().hex[:8]}"
    send_turns(web.server, session_id, [("Hello", "Hi")], key=key)
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=web.url, headers=headers, timeout=30) as api:
        deadline = time.monotonic() + 10
        while not api.get(f"/api/v1/sessions/{session_id}").json().get("traces"):
            assert time.monotonic() < deadline, "the session's traces did not arrive"
            time.sleep(0.05)
        llm = {
            "base_url": "https://api.openai.com/v1",
            "model": "gpt-4o-mini",
            "prompt": "Helpful? {{transcript}}",
            "score": {"name": "helpfulness"},
        }
        definition = {"name": "judge", "kind": "llm_judge", "quiet_seconds": 0, "llm": llm}
        made = api.post("/api/v1/evaluators", json={**definition, "budget": {"calls_per_day": 0}})
        assert made.status_code == 201, made.text
        evaluator_id = made.json()["id"]
        page.goto(f"{web.url}/p/{project}/evaluators/{evaluator_id}")
        expect(page.locator("[data-progress]")).to_have_count(0)  # nothing in hand yet
        page.get_by_label("Ended since").fill("2000-01-01T00:00")
        page.get_by_role("button", name="Queue them").click()
        progress = page.locator("[data-progress]")
        expect(progress).to_contain_text("0 of 1 runs queued since")
        expect(progress.locator("progress")).to_have_attribute("max", "1")
        expect(progress.locator("progress")).to_have_attribute("value", "0")
        answer = api.get(f"/api/v1/evaluators/{evaluator_id}").json()["progress"]
        assert (answer["total"], answer["done"], answer["failed"]) == (1, 0, 0)
        with page.expect_event("load", timeout=10_000):  # read again while runs remain
            pass
        expect(page.locator("[data-progress]")).to_contain_text("0 of 1")
