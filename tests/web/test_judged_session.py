"""A session judged twice by an evaluator (#20), on its page in a real browser: the
current score with its reasoning on the turn it cites, and in the side panel the older
judgement struck through beside it, with its reasoning and the turn it cited."""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import quote

import httpx
from playwright.sync_api import Page, expect

from tests.support import otlp
from tests.web.conftest import Seeded, send_turns


def _wait_runs(api: httpx.Client, evaluator_id: str, wanted: list[tuple[str, bool]]) -> Any:
    """The evaluator's runs (newest first) once their (status, superseded) are ``wanted``
    (the shared server polls every 5 s)."""
    deadline = time.monotonic() + 15
    while True:
        items = api.get(f"/api/v1/evaluators/{evaluator_id}/runs").json()["items"]
        if [(r["status"], r["superseded"]) for r in items] == wanted:
            return items
        assert time.monotonic() < deadline, items
        time.sleep(0.1)


def test_a_session_judged_twice_shows_the_older_score_struck_through(
    page: Page, web: Seeded
) -> None:
    project, key = otlp.new_project(web.server, "judged-twice")
    session_id = f"twice-{uuid.uuid4().hex[:8]}"
    first = send_turns(
        web.server, session_id, [("Pay", "ok"), ("Again", "no")], key=key, fail_last=True
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
        _wait_runs(api, evaluator_id, [("ok", False)])
        # a third turn, without an error: judged again, the first judgement superseded
        third = send_turns(web.server, session_id, [("Thanks", "bye")], key=key)
        newest, older = _wait_runs(api, evaluator_id, [("ok", False), ("ok", True)])
        assert (newest["value"], newest["trace_id"]) == (0, third[0])
        assert (older["value"], older["trace_id"]) == (1, first[1])

    page.goto(f"{web.url}/p/{project}/sessions/{quote(session_id, safe='')}")
    # the current score, with its reasoning, on the turn it cites (the third)
    verdict = page.locator(f"#turn-{third[0]} .turn-verdict")
    expect(verdict).to_contain_text("last-error")
    expect(verdict).to_contain_text("The last turn ended without an error.")
    expect(page.locator(f"#turn-{first[1]} .turn-verdict")).to_have_count(0)
    # the side panel: the current score, and beside it the older one struck through
    side = page.locator(".session-side")
    current = side.locator(".side-score", has_text="The last turn ended without an error.")
    expect(current).to_contain_text("evaluator:last-error")
    expect(current.get_by_role("link", name="turn 3").first).to_be_visible()
    history = current.locator("[data-superseded]")
    expect(history).to_have_count(1)
    expect(history.locator("s").first).to_have_text("last-error 1")
    expect(history).to_contain_text("The last turn ended in an error")
    expect(history.get_by_role("link", name="turn 2")).to_be_visible()
