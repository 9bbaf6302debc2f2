"""Scores on the pages over plain HTTP (#19): a bad score filter or sort is a message on
the page (not a 500), filters and sort kept in the address and the JSON link, and the
session page's score text escaped."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support import otlp
from tests.web.conftest import PASSWORD, XSS_SCRIPT, Seeded


@pytest.fixture(scope="module")
def client(web: Seeded) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=web.url, timeout=30) as signed_in:
        form = signed_in.get("/signin")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token is not None
        answer = signed_in.post(
            "/signin", data={"email": web.email, "password": PASSWORD, "csrf": token[1]}
        )
        assert answer.status_code == 303
        yield signed_in


@pytest.fixture(scope="module")
def project(web: Seeded) -> str:
    name, key = otlp.new_project(web.server, "score-http")
    spans = otlp.conversation_turn("http-0", 0, start_ns=time.time_ns() - 60 * 10**9)
    assert otlp.post(web.url, key, otlp.export(spans)).status_code == 200
    score = {"name": "quality", "value": 0.5, "session_id": "http-0", "comment": XSS_SCRIPT}
    with httpx.Client(base_url=web.url, headers={"Authorization": f"Bearer {key}"}) as api:
        assert api.post("/api/v1/scores", json=score).status_code == 201
    return name


def test_a_bad_score_filter_or_sort_is_a_message(client: httpx.Client, project: str) -> None:
    for params, message in [
        ({"score": "quality~1"}, "score filters look like NAME&lt;op&gt;VALUE"),
        ({"score": "quality>high"}, "a label is compared with = or != only"),
        ({"sort": "score:"}, "cannot be sorted by"),
        ({"status": "paused"}, "status must be one of active, ended"),
    ]:
        page = client.get(f"/p/{project}/traces", params={"tab": "sessions", **params})
        assert page.status_code == 200, page.text
        assert 'class="callout error" role="alert"' in page.text and message in page.text


def test_filters_stay_in_links_and_the_json_link(client: httpx.Client, project: str) -> None:
    params = {
        "tab": "sessions",
        "score": "quality>=0.5",
        "has_score": "quality",
        "outcome": "success",
        "status": "active",
    }
    page = client.get(f"/p/{project}/traces", params=params)
    assert page.status_code == 200
    json_link = re.search(r'class="json-link" href="([^"]+)"', page.text)
    assert json_link is not None
    query = parse_qs(urlsplit(json_link[1].replace("&amp;", "&")).query)
    assert query["score"] == ["quality>=0.5", "outcome=success"]
    assert query["has_score"] == ["quality"] and query["status"] == ["active"]
    sort = re.search(r'<a class="sort" href="([^"]+)">quality<', page.text)
    assert sort is not None  # the filtered name has a column, even with no row shown
    kept = parse_qs(urlsplit(sort[1].replace("&amp;", "&")).query)
    assert kept["sort"] == ["score:quality"] and kept["score"] == ["quality>=0.5"]
    assert kept["outcome"] == ["success"] and kept["has_score"] == ["quality"]


def test_the_session_page_escapes_score_text(client: httpx.Client, project: str) -> None:
    page = client.get(f"/p/{project}/sessions/http-0")
    assert page.status_code == 200
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page.text
    assert XSS_SCRIPT not in page.text


def test_an_outcome_shows_the_label_given(web: Seeded, client: httpx.Client) -> None:
    """failure and abandoned have the same value (0): a session's outcome cell shows the
    label its scores gave (both for a mix), never one it was not given."""
    name, key = otlp.new_project(web.server, "outcome-labels")
    given = {"abandoned": ["abandoned"], "failure": ["failure"], "both": ["failure", "abandoned"]}
    spans, scores = [], []
    for session, labels in given.items():
        turn = otlp.conversation_turn(session, 0, start_ns=time.time_ns() - 60 * 10**9)
        spans += turn
        for n, label in enumerate(labels):  # the second on the session's trace
            on = {"session_id": session} if n == 0 else {"trace_id": turn[0].trace_id.hex()}
            scores.append({"name": "outcome", "label": label, **on})
    assert otlp.post(web.url, key, otlp.export(spans)).status_code == 200
    with httpx.Client(base_url=web.url, headers={"Authorization": f"Bearer {key}"}) as api:
        assert api.post("/api/v1/scores", json={"scores": scores}).status_code == 201
    page = client.get(f"/p/{name}/traces", params={"tab": "sessions"})
    assert page.status_code == 200, page.text
    shown = {}
    for session in given:
        row = page.text.split(f'data-id="{session}"', 1)[1].split("</tr>", 1)[0]
        cell = re.search(r'data-score="outcome"><span class="score-chip[^"]*"[^>]*>([^<]*)<', row)
        assert cell is not None, row
        shown[session] = cell[1]
    assert shown == {"abandoned": "abandoned", "failure": "failure", "both": "abandoned/failure"}


def test_a_row_whose_outcome_label_changes_is_redrawn(web: Seeded, client: httpx.Client) -> None:
    """The live poll redraws a row whose signature changed: an outcome changed from
    abandoned to failure (both 0, one score either way) changes it."""
    name, key = otlp.new_project(web.server, "outcome-sig")
    turn = otlp.conversation_turn("sig-0", 0, start_ns=time.time_ns() - 60 * 10**9)
    assert otlp.post(web.url, key, otlp.export(turn)).status_code == 200

    def signature() -> str:
        page = client.get(f"/p/{name}/traces", params={"tab": "sessions"})
        found = re.search(r'data-id="sig-0" data-sig="([^"]*)"', page.text)
        assert found is not None, page.text
        return found[1]

    with httpx.Client(base_url=web.url, headers={"Authorization": f"Bearer {key}"}) as api:
        given = {"name": "outcome", "label": "abandoned", "session_id": "sig-0"}
        score = api.post("/api/v1/scores", json=given).json()["score"]
        before = signature()
        assert api.delete(f"/api/v1/scores/{score['score_id']}").status_code == 200
        given["label"] = "failure"
        assert api.post("/api/v1/scores", json=given).status_code == 201
    assert signature() != before
