"""Experiments in a real browser (#22): the Experiments page (top navigation) charts a
group's runs and lists them with their score averages; "Compare with the run before"
opens the newer run beside the older one, item by item, the item that got worse first
with its score change; each score shows in the run's table; user text (HTML in an
output) renders as text. A run is deleted from its page after a confirm; a run's traces
are left out of the Sessions list until its filter shows them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support import otlp
from tests.web.conftest import XSS_SCRIPT, Seeded


@dataclass
class Runs:
    project: str
    older: str
    newer: str


def _run(api: httpx.Client, run_id: str, outputs: list[str], exact: list[int]) -> None:
    made = api.post(
        "/api/v1/experiments",
        json={"experiment_id": run_id, "name": run_id, "group": "support", "dataset": None},
    )
    assert made.status_code == 201, made.text
    items: list[dict[str, Any]] = [
        {
            "index": n,
            "item_id": f"case-{n}",
            "input": f"question {n}",
            "expected_output": f"answer {n}",
            "output": output,
            "duration_ms": 12.0 + n,
            "scores": {"exact": exact[n], "length": len(output)},
        }
        for n, output in enumerate(outputs)
    ]
    added = api.post(f"/api/v1/experiments/{run_id}/items", json={"items": items})
    assert added.status_code == 201, added.text


@pytest.fixture
def runs(web: Seeded) -> Iterator[Runs]:
    project, key = otlp.new_project(web.server, "experiments")
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=web.url, headers=headers, timeout=30) as api:
        _run(api, "prompt-v1", ["answer 0", "answer 1", "wrong"], [1, 1, 0])
        _run(api, "prompt-v2", ["answer 0", f"oops {XSS_SCRIPT}", "answer 2"], [1, 0, 1])
    yield Runs(project, "prompt-v1", "prompt-v2")


def test_the_comparison_lists_the_item_that_got_worse_first(
    page: Page, web: Seeded, runs: Runs
) -> None:
    page.goto(f"{web.url}/p/{runs.project}/traces")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Experiments").click()
    expect(page.get_by_role("heading", name="Experiments", exact=True)).to_be_visible()
    expect(page.locator("svg[aria-label='Score averages by run']")).to_be_visible()
    rows = page.locator("table.experiments tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("prompt-v2")
    expect(rows.first.locator("td.num").nth(1)).to_have_text("0.667")  # exact, of 3 items
    rows.first.get_by_role("link", name="Compare with the run before").click()
    expect(page.get_by_role("heading", name="Compared with prompt-v1")).to_be_visible()
    expect(page.get_by_text("1 item got worse (shown first)")).to_be_visible()
    compared = page.locator("table.comparison tbody tr")
    expect(compared).to_have_count(3)
    worst = compared.first
    expect(worst).to_have_class("worse")
    expect(worst).to_contain_text("question 1")
    expect(worst).to_contain_text(f"oops {XSS_SCRIPT}")  # the HTML as text
    expect(worst.locator("[data-delta='exact']")).to_have_text("-1")
    expect(compared.nth(1).locator("[data-delta='exact']")).to_have_text("+0")
    expect(compared.nth(2).locator("[data-delta='exact']")).to_have_text("+1")
    # the run's own table: each item's scores
    page.get_by_role("link", name="This run’s items alone").click()
    items = page.locator("table.experiment-items tbody tr")
    expect(items).to_have_count(3)
    expect(items.nth(2).locator("[data-score='exact']")).to_have_text("1")
    expect(page.locator("[data-average='exact']")).to_have_text("0.667")


def test_a_run_is_deleted_from_its_page_after_a_confirm(
    page: Page, web: Seeded, runs: Runs
) -> None:
    page.goto(f"{web.url}/p/{runs.project}/experiments/{runs.older}")
    opener = page.get_by_role("button", name="Delete run")
    opener.click()
    dialog = page.get_by_role("dialog", name=f"Delete the run {runs.older}?")
    expect(dialog).to_contain_text("3 items")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    opener.click()
    dialog.get_by_role("button", name="Delete run").click()
    expect(page).to_have_url(f"{web.url}/p/{runs.project}/experiments?group=support")
    rows = page.locator("table.experiments tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(runs.newer)
    gone = page.request.get(f"{web.url}/api/v1/experiments/{runs.older}?project={runs.project}")
    assert gone.status == 404


def test_an_experiments_traces_are_hidden_from_the_lists_until_asked(
    page: Page, web: Seeded
) -> None:
    project, key = otlp.new_project(web.server, "hidden-runs")
    headers = {"Authorization": f"Bearer {key}"}
    made = httpx.post(
        f"{web.url}/api/v1/experiments", json={"experiment_id": "run-a"}, headers=headers
    )
    assert made.status_code == 201, made.text
    spans = otlp.conversation_turn("experiment-run-a", 0, start_ns=time.time_ns())
    spans += otlp.conversation_turn("real-chat", 0, start_ns=time.time_ns())
    assert otlp.post(web.url, key, otlp.export(spans)).status_code == 200
    web.server.wait_for(
        "/api/v1/sessions",
        lambda found: len(found["items"]) == 2,
        key=key,
        experiments="include",
    )
    page.goto(f"{web.url}/p/{project}/traces?tab=sessions")
    rows = page.locator("#rows > tr.srow")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("real-chat")
    page.get_by_text("+ Filter").click()
    page.get_by_label("Experiment runs").select_option("include")
    page.get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(2)
    chip = page.get_by_role("link", name="Remove filter Experiment runs: Shown with the others")
    expect(chip).to_be_visible()
    expect(page.locator("#rows")).to_contain_text("experiment-run-a")


def test_a_long_run_shows_its_items_a_hundred_a_page_compared_too(page: Page, web: Seeded) -> None:
    """A run of 250 items: its table holds 100 a page, the next page's link goes on
    (keeping the comparison when comparing) and the last page has the last items."""
    project, key = otlp.new_project(web.server, "long-run")
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=web.url, headers=headers, timeout=30) as api:
        _run(api, "long-v1", [f"answer {n}" for n in range(250)], [1] * 250)
        _run(api, "long-v2", [f"answer {n}" for n in range(250)], [1] * 249 + [0])
    page.goto(f"{web.url}/p/{project}/experiments/long-v2")
    items = page.locator("table.experiment-items tbody tr")
    expect(items).to_have_count(100)
    expect(items.first).to_have_attribute("data-item", "0")
    expect(page.locator("[data-average='exact']")).to_have_text("0.996")  # of all 250
    page.get_by_role("link", name="Next items ›").first.click()
    expect(items.first).to_have_attribute("data-item", "100")
    page.get_by_role("link", name="Next items ›").first.click()
    expect(items).to_have_count(50)
    expect(items.last).to_have_attribute("data-item", "249")
    expect(page.locator("[data-pager]").first).to_contain_text("items 201–250 of 250")
    page.goto(f"{web.url}/p/{project}/experiments/long-v2?compare=long-v1")
    compared = page.locator("table.comparison tbody tr")
    expect(compared).to_have_count(100)
    expect(compared.first).to_have_class("worse")  # the one that got worse, first
    expect(compared.first).to_contain_text("question 249")
    page.get_by_role("link", name="Next items ›").first.click()
    expect(page.get_by_role("heading", name="Compared with long-v1")).to_be_visible()
    expect(compared).to_have_count(100)
