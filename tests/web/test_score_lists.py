"""Scores in the Sessions and Traces tabs (#19), in a real browser: a column per score
name (averages, colour steps, outcome chips), a filter by a score and the sort by it
give the order of a reference computed here, and the status and outcome filters."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support import otlp
from tests.web.conftest import Seeded

SESSIONS = 8
MINUTE = 60 * 1_000_000_000
# session n's quality scores (its average is what the list shows and sorts by)
QUALITY = {
    0: [0.9],
    1: [0.2, 0.4],
    2: [0.75],
    3: [],
    4: [0.5, 0.6, 0.95],
    5: [0.05],
    6: [],
    7: [1.0, 0.9],
}
OUTCOME = {0: "success", 1: "failure", 4: "partial", 7: "success"}


@dataclass
class Scored:
    project: str
    key: str
    traces: dict[str, str]  # session id -> its trace id


def _session(n: int) -> str:
    return f"scored-{n}"


@pytest.fixture(scope="module")
def scored(web: Seeded) -> Iterator[Scored]:
    project, key = otlp.new_project(web.server, "scores")
    now = time.time_ns()
    spans, traces = [], {}
    for n in range(SESSIONS):
        turn = otlp.conversation_turn(_session(n), 0, start_ns=now - (SESSIONS - n) * MINUTE)
        traces[_session(n)] = turn[0].trace_id.hex()
        spans += turn
    assert otlp.post(web.url, key, otlp.export(spans)).status_code == 200
    scores = []
    for n, values in QUALITY.items():
        for i, value in enumerate(values):  # the first on the session, the rest on its trace
            where = {"session_id": _session(n)} if i == 0 else {"trace_id": traces[_session(n)]}
            scores.append({"name": "quality", "value": value, **where})
    for n, label in OUTCOME.items():
        scores.append({"name": "outcome", "label": label, "session_id": _session(n)})
    with httpx.Client(base_url=web.url, headers={"Authorization": f"Bearer {key}"}) as api:
        assert api.post("/api/v1/scores", json={"scores": scores}).status_code == 201
        ended = api.post(f"/api/v1/sessions/{_session(2)}/end", json={})
        assert ended.status_code == 200, ended.text
    yield Scored(project, key, traces)


def _average(n: int) -> float:
    return sum(QUALITY[n]) / len(QUALITY[n])


def _ids(page: Page, selector: str = "#rows > tr.srow") -> list[str]:
    rows = page.locator(selector)
    return [rows.nth(i).get_attribute("data-id") or "" for i in range(rows.count())]


def test_a_column_per_score_with_averages_and_outcome_chips(
    page: Page, web: Seeded, scored: Scored
) -> None:
    page.goto(f"{web.url}/p/{scored.project}/traces?tab=sessions")
    expect(page.locator("#rows > tr.srow")).to_have_count(SESSIONS)
    headers = page.locator("table.sessions thead th.c-score")
    expect(headers).to_have_text(["outcome", "quality"])
    row = page.locator(f'#rows > tr[data-id="{_session(4)}"]')
    quality = row.locator('td[data-score="quality"] .score-num')
    expect(quality).to_have_text(f"{_average(4):.2f}")
    expect(quality).to_have_class("score-num score-b3")  # 0.68: the fourth fifth of 0..1
    expect(row.locator('td[data-score="outcome"] .score-chip')).to_have_text("partial")
    unscored = page.locator(f'#rows > tr[data-id="{_session(3)}"] td[data-score="quality"]')
    expect(unscored).to_have_text("—")
    # the Traces tab: a trace's own scores (the second and later quality scores above)
    page.goto(f"{web.url}/p/{scored.project}/traces")
    trace = page.locator(f'#rows > tr[data-id="{scored.traces[_session(7)]}"]')
    expect(trace.locator('td[data-score="quality"]')).to_have_text("0.90")


def test_filter_and_sort_by_a_score_match_a_reference(
    page: Page, web: Seeded, scored: Scored
) -> None:
    page.goto(f"{web.url}/p/{scored.project}/traces?tab=sessions&score=quality>=0.5")
    wanted = [n for n in QUALITY if QUALITY[n] and _average(n) >= 0.5]
    expect(page.locator("#rows > tr.srow")).to_have_count(len(wanted))
    expect(page.get_by_role("link", name="Remove filter Score: quality>=0.5")).to_be_visible()

    page.get_by_role("link", name="quality", exact=True).click()  # its header: best first
    expect(page.locator('th[aria-sort="descending"]')).to_have_text("quality↓")
    best_first = sorted(wanted, key=lambda n: -_average(n))
    assert _ids(page) == [_session(n) for n in best_first]
    assert "sort=score%3Aquality" in page.url and "score=quality%3E%3D0.5" in page.url

    page.get_by_role("link", name="quality", exact=True).click()  # again: worst first
    expect(page.locator('th[aria-sort="ascending"]')).to_have_text("quality↑")
    assert _ids(page) == [_session(n) for n in reversed(best_first)]

    page.get_by_role("link", name="Remove filter Score: quality>=0.5").click()
    expect(page.locator("#rows > tr.srow")).to_have_count(SESSIONS)
    scored_first = sorted((n for n in QUALITY if QUALITY[n]), key=_average)
    ids = _ids(page)  # sessions without a quality score come last in either order
    assert ids[: len(scored_first)] == [_session(n) for n in scored_first]
    assert set(ids[len(scored_first) :]) == {_session(3), _session(6)}


def test_status_outcome_and_has_score_filters(page: Page, web: Seeded, scored: Scored) -> None:
    base = f"{web.url}/p/{scored.project}/traces?tab=sessions"
    page.goto(base)
    page.get_by_label("Outcome").select_option("success")
    expect(page.locator("#rows > tr.srow")).to_have_count(2)
    assert sorted(_ids(page)) == [_session(0), _session(7)]
    assert "outcome=success" in page.url

    page.goto(base)
    page.get_by_label("Session status").select_option("ended")
    expect(page.locator("#rows > tr.srow")).to_have_count(1)
    assert _ids(page) == [_session(2)]

    page.goto(f"{base}&has_score=outcome")
    expect(page.locator("#rows > tr.srow")).to_have_count(len(OUTCOME))
    assert sorted(_ids(page)) == sorted(_session(n) for n in OUTCOME)


def test_more_rows_keep_the_pages_score_columns(page: Page, web: Seeded, scored: Scored) -> None:
    """ "Load more" and live updates ask for rows with the page's columns (column=NAME),
    whatever scores those rows have."""
    url = f"{web.url}/p/{scored.project}/traces?tab=sessions&fragment=rows&column=quality"
    answer = page.request.get(url, headers={"X-Lamina-Fragment": "1"})
    assert answer.ok, answer.text()
    text = answer.text()
    assert text.count('<td class="num c-score" data-score="quality">') == SESSIONS
    assert 'data-score="outcome"' not in text


def test_a_new_score_shows_live(page: Page, web: Seeded) -> None:
    """A score that arrives while the list is open redraws its row (the live poll)."""
    project, key = otlp.new_project(web.server, "live-scores")
    spans = otlp.conversation_turn("live-0", 0, start_ns=time.time_ns() - MINUTE)
    spans += otlp.conversation_turn("live-1", 0, start_ns=time.time_ns() - MINUTE)
    assert otlp.post(web.url, key, otlp.export(spans)).status_code == 200
    with httpx.Client(base_url=web.url, headers={"Authorization": f"Bearer {key}"}) as api:
        first = {"name": "quality", "value": 0.1, "session_id": "live-0"}
        assert api.post("/api/v1/scores", json=first).status_code == 201
        page.goto(f"{web.url}/p/{project}/traces?tab=sessions")
        cell = page.locator('#rows > tr[data-id="live-1"] td[data-score="quality"]')
        expect(cell).to_have_text("—")
        second = {"name": "quality", "value": 0.9, "session_id": "live-1"}
        assert api.post("/api/v1/scores", json=second).status_code == 201
    expect(cell).to_have_text("0.90", timeout=10_000)
