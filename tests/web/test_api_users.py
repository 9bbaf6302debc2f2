"""``GET /api/v1/users`` and ``/api/v1/users/{user_id}`` over HTTP on a real server (both
stores): the answer's shape and numbers (each user's sessions as the sessions list gives
them), sort, search, paging by cursor and by offset, a 404 for an unknown user and a 400
that says what is wrong. What each total adds up is the store contract's
(tests/store/test_users_contract.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import LaminaServer
from tests.support import otlp

pytestmark = pytest.mark.both_stores  # tests/conftest.py
START = 1_785_110_400 * 1_000_000_000  # 2026-07-27T00:00:00Z
MINUTE = 60_000_000_000
USERS = {"ana": 3, "ben/2": 1, "<i>cy</i>": 2}  # user id -> sessions


@pytest.fixture(scope="module")
def key(server: LaminaServer) -> str:
    _, made = otlp.new_project(server, "users")
    spans = []
    at = START
    for user, sessions in USERS.items():
        for n in range(sessions):
            for turn in range(n + 1):
                at += MINUTE
                session = f"{user}-{n}"
                error = "boom" if user == "ben/2" else None
                spans += otlp.conversation_turn(
                    session, turn, start_ns=at, user_id=user, error=error
                )
    assert otlp.post(server.url, made, otlp.export(spans)).status_code == 200
    return made


def _users(server: LaminaServer, key: str, **params: Any) -> Any:
    return otlp.api(server, "/api/v1/users", key=key, **params)


def test_each_user_with_the_totals_of_their_sessions(server: LaminaServer, key: str) -> None:
    page = _users(server, key)
    assert page["total"] == 3 and page["next_cursor"] is None
    assert [u["user_id"] for u in page["items"]] == ["<i>cy</i>", "ben/2", "ana"]  # last seen
    for user in page["items"]:
        sessions = otlp.api(server, "/api/v1/sessions", key=key, user_id=user["user_id"])
        items = sessions["items"]
        assert user["sessions"] == USERS[user["user_id"]] == len(items)
        assert user["traces"] == sum(s["trace_count"] for s in items)
        assert user["total_tokens"] == sum(s["total_tokens"] for s in items)
        assert user["input_tokens"] + user["output_tokens"] == user["total_tokens"]
        assert user["cost"] == pytest.approx(sum(s["cost"] for s in items))
        assert user["errors"] == sum(s["error_count"] for s in items)
        assert user["first_seen"] == min(s["start_time"] for s in items)
        assert user["last_seen"] == max(s["end_time"] for s in items)
        assert user["score_summary"] == {}
        one = otlp.api(server, f"/api/v1/users/{quote(user['user_id'], safe='')}", key=key)
        assert one == user
    assert page["items"][1]["errors"] == 1


def test_sort_search_and_pages(server: LaminaServer, key: str) -> None:
    by_sessions = _users(server, key, sort="sessions", order="asc")["items"]
    assert [u["user_id"] for u in by_sessions] == ["ben/2", "<i>cy</i>", "ana"]
    first = _users(server, key, sort="user_id", order="asc", limit=2)
    assert [u["user_id"] for u in first["items"]] == ["<i>cy</i>", "ana"]
    rest = _users(server, key, sort="user_id", order="asc", limit=2, cursor=first["next_cursor"])
    assert [u["user_id"] for u in rest["items"]] == ["ben/2"] and rest["next_cursor"] is None
    skipped = _users(server, key, sort="user_id", order="asc", limit=2, offset=2)
    assert skipped["items"] == rest["items"] and skipped["total"] == 3
    found = _users(server, key, q="AN")
    assert [u["user_id"] for u in found["items"]] == ["ana"] and found["total"] == 1


def test_sort_by_a_score_puts_users_without_it_last(server: LaminaServer) -> None:
    """sort=score:NAME: by the average of their sessions' NAME scores, users without
    one last in either order; the next page by cursor, the page after by offset."""
    _, made = otlp.new_project(server, "users-scored")
    spans = []
    for n, user in enumerate(("ana", "ben", "cy", "dee")):
        spans += otlp.conversation_turn(f"{user}-s", 0, start_ns=START + n * MINUTE, user_id=user)
    assert otlp.post(server.url, made, otlp.export(spans)).status_code == 200
    given = [("ana-s", 0.25), ("ana-s", 0.75), ("cy-s", 0.9), ("dee-s", 0.4)]
    scores = [{"name": "quality", "value": v, "session_id": s} for s, v in given]
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {made}"}) as api:
        assert api.post("/api/v1/scores", json={"scores": scores}).status_code == 201
    for order, expected in (
        ("desc", ["cy", "ana", "dee", "ben"]),
        ("asc", ["dee", "ana", "cy", "ben"]),
    ):
        page = _users(server, made, sort="score:quality", order=order)
        assert [u["user_id"] for u in page["items"]] == expected, order
        first = _users(server, made, sort="score:quality", order=order, limit=3)
        rest = _users(
            server, made, sort="score:quality", order=order, limit=3, cursor=first["next_cursor"]
        )
        skipped = _users(server, made, sort="score:quality", order=order, limit=3, offset=3)
        assert [u["user_id"] for u in first["items"] + rest["items"]] == expected
        assert skipped["items"] == rest["items"] and rest["next_cursor"] is None
    assert page["items"][1]["score_summary"]["quality"] == {"avg": 0.5, "count": 2}


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"sort": "name"}, "sort must be one of last_seen"),
        ({"order": "up"}, "order must be asc or desc"),
        ({"limit": "0"}, "limit must be between 1 and"),
        ({"offset": "-1"}, "offset is out of range"),
        ({"offset": "2", "cursor": "x"}, "cursor"),
    ],
)
def test_a_bad_parameter_is_a_400_that_says_which(
    server: LaminaServer, key: str, params: dict[str, str], said: str
) -> None:
    answer = otlp.get(server, "/api/v1/users", key=key, **params)
    assert answer.status_code == 400, answer.text
    assert said in answer.json()["error"]["message"]


def test_an_unknown_user_is_a_404(server: LaminaServer, key: str) -> None:
    answer = otlp.get(server, "/api/v1/users/nobody", key=key)
    assert answer.status_code == 404
    assert answer.json()["error"]["message"] == (
        'No user "nobody" in this project: no session carries that user id.'
    )
