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
    box = page.get_by_label("Definition")
    box.fill(json.dumps({"name": "cost", "kind": "check", "check": {"type": "max_cost"}}))
    page.get_by_role("button", name="Add").click()
    alert = page.locator("[data-evaluator-error]")
    expect(alert).to_contain_text("max_cost needs check.params.max")
    box.fill("{not json")
    page.get_by_role("button", name="Add").click()
    expect(alert).to_contain_text("The definition is not JSON")
    good = {"name": "cost", "kind": "check", "check": {"type": "max_cost", "params": {"max": 1}}}
    box.fill(json.dumps(good))
    page.get_by_role("button", name="Add").click()
    expect(page.locator("table.evaluators")).to_contain_text("max_cost")
    names = [e["name"] for e in judged.api.get("/api/v1/evaluators").json()["items"]]
    assert names == ["cost", "last-error"]
    # a turn's text never became markup on the page
    assert page.locator("script:not([src])").count() == 0
