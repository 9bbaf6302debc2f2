"""``GET /api/v1/metrics`` and ``/api/v1/metrics/distribution`` over HTTP on a real server
(both stores): the answer's shape, every bucket of a count filled, gaps for averages,
groups, and a 400 that says what is wrong for each kind of bad request. What each
metric counts is the store contract's (tests/store/test_metrics_contract.py)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.conftest import LaminaServer
from tests.support import otlp
from tests.web.conftest import PASSWORD, create_user

HOUR = 3_600_000_000_000
DAY = 24 * HOUR
MS = 1_000_000
pytestmark = pytest.mark.both_stores  # tests/conftest.py
START = 1_785_110_400 * 1_000_000_000  # 2026-07-27T00:00:00Z, a Monday


def _send(server: LaminaServer, key: str) -> None:
    """Day 0: two sessions of u-1 (one and two turns, hours 1 and 3); day 2: one of u-2
    whose turn failed, on another model."""
    turns = [
        otlp.conversation_turn("m-a", 0, start_ns=START + HOUR),
        otlp.conversation_turn("m-b", 0, start_ns=START + 3 * HOUR),
        otlp.conversation_turn("m-b", 1, start_ns=START + 3 * HOUR + 60_000 * MS),
        otlp.conversation_turn(
            "m-c", 0, start_ns=START + 2 * DAY, user_id="u-2", model="gpt-x", error="boom"
        ),
    ]
    spans = [span for turn in turns for span in turn]
    assert otlp.post(server.url, key, otlp.export(spans)).status_code == 200


@pytest.fixture(scope="module")
def project(server: LaminaServer) -> tuple[str, str]:
    """The project's name and key."""
    name, made = otlp.new_project(server, "metrics")
    _send(server, made)
    return name, made


@pytest.fixture(scope="module")
def key(project: tuple[str, str]) -> str:
    return project[1]


def _metric(server: LaminaServer, key: str, **params: str) -> Any:
    since = {"since": "2026-07-27T00:00:00Z", "until": "2026-07-30T00:00:00Z"}
    return otlp.api(server, "/api/v1/metrics", key=key, **{**since, **params})


def test_a_count_has_every_bucket_and_an_average_has_gaps(server: LaminaServer, key: str) -> None:
    daily = _metric(server, key, metric="traces", interval="day")
    assert daily["metric"] == "traces" and daily["interval"] == "day" and daily["unit"] == "traces"
    assert daily["since"] == "2026-07-27T00:00:00Z" and daily["until"] == "2026-07-30T00:00:00Z"
    (series,) = daily["series"]
    assert series["group"] is None
    assert [(p["t"], p["v"]) for p in series["points"]] == [
        ("2026-07-27T00:00:00Z", 3),
        ("2026-07-28T00:00:00Z", 0),
        ("2026-07-29T00:00:00Z", 1),
    ]
    hourly = _metric(server, key, metric="sessions")  # three days: hours by default
    assert hourly["interval"] == "hour" and len(hourly["series"][0]["points"]) == 72
    assert sum(p["v"] for p in hourly["series"][0]["points"]) == 3
    rate = _metric(server, key, metric="error_rate", interval="day")["series"][0]["points"]
    assert [(p["t"][:10], p["v"]) for p in rate] == [("2026-07-27", 0), ("2026-07-29", 1)]
    turns = _metric(server, key, metric="turns", interval="day")["series"][0]["points"]
    assert [p["v"] for p in turns] == [1.5, 1]


def test_groups_filters_and_distributions(server: LaminaServer, key: str) -> None:
    by_model = _metric(server, key, metric="input_tokens", interval="day", group_by="model")
    totals = {s["group"]: sum(p["v"] for p in s["points"]) for s in by_model["series"]}
    assert totals == {"gpt-4o-mini": 3000, "gpt-x": 1000}
    assert by_model["series"][0]["group"] == "gpt-4o-mini"  # the largest first
    top = _metric(server, key, metric="traces", group_by="user_id", top="1")
    assert [s["group"] for s in top["series"]] == ["u-1"]
    errors = _metric(server, key, metric="traces", interval="day", status="error")
    assert [p["v"] for p in errors["series"][0]["points"]] == [0, 0, 1]
    mine = _metric(server, key, metric="sessions", interval="day", user_id="u-2")
    assert [p["v"] for p in mine["series"][0]["points"]] == [0, 0, 1]
    spread = otlp.api(
        server,
        "/api/v1/metrics/distribution",
        key=key,
        metric="turns",
        since="2026-07-27T00:00:00Z",
        until="2026-07-30T00:00:00Z",
    )
    assert spread["buckets"] == [{"lo": 1, "hi": 2, "count": 2}, {"lo": 2, "hi": 3, "count": 1}]


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({}, "metric is required"),
        ({"metric": "happiness"}, "metric must be one of"),
        ({"metric": "traces", "interval": "week"}, "interval must be hour or day"),
        ({"metric": "sessions", "group_by": "model"}, "takes group_by user_id"),
        ({"metric": "score:tone", "group_by": "user_id"}, "takes group_by no group_by"),
        (
            {"metric": "traces", "interval": "hour", "since": "2020-01-01T00:00:00Z"},
            "at most 1000",
        ),
        ({"metric": "sessions", "name": "chat"}, "applies only to the trace metrics"),
        ({"metric": "traces", "status": "ended"}, "status must be one of ok, error"),
        ({"metric": "traces", "since": "2026-07-30", "until": "2026-07-27"}, "since must be"),
        ({"metric": "traces", "top": "0"}, "top must be"),
        ({"metric": "traces", "since": "yesterday"}, "since must be an ISO-8601 time"),
    ],
)
def test_a_bad_request_is_a_400_that_says_why(
    server: LaminaServer, key: str, params: dict[str, str], says: str
) -> None:
    answer = otlp.get(server, "/api/v1/metrics", key=key, **params)
    assert answer.status_code == 400, answer.text
    assert says in answer.json()["error"]["message"]
    assert (
        otlp.get(server, "/api/v1/metrics/distribution", key=key, metric="cost")
        .json()["error"]["message"]
        .startswith("metric must be one of turns")
    )


def test_the_dashboard_page_draws_the_same_numbers(
    server: LaminaServer, project: tuple[str, str]
) -> None:
    """The page on this store (the browser tests run on DuckDB): a custom range of the
    three days above, by day; its totals are the API's."""
    email = f"{otlp.uid('dash')}@example.com"
    create_user(server, email)
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        form = browser.get("/signin")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token is not None
        signed = browser.post(
            "/signin", data={"email": email, "password": PASSWORD, "csrf": token[1]}
        )
        assert signed.status_code == 303
        page = browser.get(
            f"/p/{project[0]}/dashboard",
            params={"range": "custom", "since": "2026-07-27", "until": "2026-07-29"},
        )
        assert page.status_code == 200, page.text
        assert 'data-total="traces">4<' in page.text and 'data-total="sessions">3<' in page.text
        assert 'data-total="errors">1<' in page.text and "by day" in page.text
        assert page.text.count('class="chart-empty"') < page.text.count('class="chart"') / 2
        # a custom range that is not one: said on the page, which shows the last 24 h
        wrong_ranges = [
            ("2026-07-27", "9999-12-31"),
            ("yesterday", ""),
            ("2026-07-29", "2026-07-27"),
        ]
        for since, until in wrong_ranges:
            wrong = browser.get(
                f"/p/{project[0]}/dashboard",
                params={"range": "custom", "since": since, "until": until},
            )
            assert wrong.status_code == 200 and 'role="alert"' in wrong.text, (since, until)
