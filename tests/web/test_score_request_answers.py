"""``POST /api/v1/scores``'s answers, on a real server: the request takes a shortcut
past the router (lamina.web.direct) and its key is looked at once for both its project
and its name (lamina.web.access.caller_of), and its answers, given or refused, are
still whole: the pages' security headers once each, the API's JSON errors, the key's
name as the author, a revoked key refused at once.
"""

from __future__ import annotations

import http.client
import uuid
from typing import Any

import httpx
import pytest

from lamina.web.pages import SECURITY_HEADERS
from tests.conftest import LaminaServer
from tests.web.test_api_scores import admin, new_project

SCORES = "/api/v1/scores"


@pytest.fixture(scope="module")
def keyed(server: LaminaServer) -> tuple[str, str]:
    """A project of this module's own, its config of helpfulness (0 to 1) and a key
    named "feedback-bot": (name, key)."""
    project = new_project(server)
    config = {"name": "helpfulness", "type": "numeric", "min": 0, "max": 1}
    project.ok("POST", "/api/v1/score-configs", 201, json=config)
    return project.name, project.key


def _post(server: LaminaServer, key: str | None, **options: Any) -> httpx.Response:
    headers = options.pop("headers", {})
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return httpx.post(server.url + SCORES, headers=headers, timeout=30, **options)


def _too_large(server: LaminaServer, key: str) -> httpx.Response:
    """A request whose Content-Length says 17 MiB (refused before its body is read)."""
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.putrequest("POST", SCORES)
        connection.putheader("Authorization", f"Bearer {key}")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(17 * 2**20))
        connection.endheaders(b"{}")
        answer = connection.getresponse()
        return httpx.Response(answer.status, headers=answer.getheaders(), content=answer.read())
    finally:
        connection.close()


def _whole(answer: httpx.Response, status: int) -> Any:
    """The answer's JSON, after checking its status and that every security header is
    there once, as the pages' middleware sets it."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers.get_list(name) == [value], name
    return answer.json()


def _score(**fields: Any) -> dict[str, Any]:
    return {"name": "helpfulness", "value": 0.5, "trace_id": uuid.uuid4().hex, **fields}


def test_a_given_score_is_answered_whole_and_authored_by_its_key(
    server: LaminaServer, keyed: tuple[str, str]
) -> None:
    _, key = keyed
    for _ in range(3):  # the first finds the key in the store, the rest in the cache
        sent = _score(comment="good answer")
        given = _whole(_post(server, key, json=sent), 201)["score"]
        assert given["author"] == "feedback-bot" and given["source"] == "api"
        assert {name: given[name] for name in sent} == sent
    batch = _whole(_post(server, key, json={"scores": [_score(), _score()]}), 201)
    assert [item["author"] for item in batch["scores"]] == ["feedback-bot"] * 2
    by_admin = _whole(
        httpx.post(
            server.url + SCORES,
            json=_score(),
            params={"project": keyed[0]},
            headers=admin(server),
            timeout=30,
        ),
        201,
    )
    assert by_admin["score"]["author"] == "admin"


def test_refused_scores_get_the_apis_errors(server: LaminaServer, keyed: tuple[str, str]) -> None:
    _, key = keyed
    cases: list[tuple[httpx.Response, int, str, str]] = [
        (_post(server, None, json=_score()), 401, "unauthorized", "Sign in"),
        (_post(server, "lmn_not-a-key", json=_score()), 401, "unauthorized", "Unknown or revoked"),
        (_post(server, key, content=b"{not json"), 400, "bad_request", "could not be read"),
        (_post(server, key, json=[_score()]), 400, "bad_request", "it is a list"),
        (_post(server, key, json=_score(colour="red")), 400, "bad_request", "unknown field"),
        (_post(server, key, json=_score(value=7)), 400, "bad_request", "at most 1"),
        (_too_large(server, key), 413, "payload_too_large", "at most 16 MiB"),
    ]
    for answer, status, code, says in cases:
        error = _whole(answer, status)["error"]
        assert error["code"] == code and says in error["message"], error


def test_a_revoked_key_is_refused_at_once(server: LaminaServer, keyed: tuple[str, str]) -> None:
    name, _ = keyed
    made = httpx.post(
        server.url + "/api/v1/keys",
        json={"project": name, "name": "soon-revoked"},
        headers=admin(server),
        timeout=30,
    ).json()
    assert _whole(_post(server, made["key"], json=_score()), 201)["score"]["author"] == (
        "soon-revoked"
    )
    revoked = httpx.post(
        f"{server.url}/api/v1/keys/{made['id']}/revoke", headers=admin(server), timeout=30
    )
    assert revoked.status_code == 200, revoked.text
    _whole(_post(server, made["key"], json=_score()), 401)
