"""Comments and stars through the JSON API (#19), on a real server and both stores:
threads on a session, a trace and a span; only the author deletes (a key its own, the
admin token any); the body's limits; deleting a session takes its comments; stars are a
signed-in user's own (two users, over HTTP with their cookies and CSRF tokens), filter
both lists, and an API key can neither star nor ask for ``starred=true``.

Each test makes a project of its own on the shared server.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import LaminaServer
from tests.support import otlp
from tests.web.test_api_scores import Project, admin, new_project

pytestmark = pytest.mark.both_stores  # tests/conftest.py
PASSWORD = "a long and secret passphrase 42"


@pytest.fixture
def project(server: LaminaServer) -> Project:
    return new_project(server)


def _second_key(project: Project, name: str) -> Project:
    made = httpx.post(
        project.server.url + "/api/v1/keys",
        json={"project": project.name, "name": name},
        headers=admin(project.server),
        timeout=30,
    )
    assert made.status_code == 201, made.text
    return Project(project.server, project.name, made.json()["key"])


def _thread(project: Project, **params: str) -> list[str]:
    items = project.ok("GET", "/api/v1/comments", params={**params, "limit": "500"})["items"]
    return [item["body"] for item in items]


def test_threads_on_a_session_its_traces_and_spans(project: Project) -> None:
    session_id = otlp.uid("talk")
    traces = project.send(session_id, 2)
    span_id = project.ok("GET", f"/api/v1/traces/{traces[1]}")["spans"][-1]["span_id"]
    made = project.ok(
        "POST", "/api/v1/comments", 201, json={"body": "first", "session_id": session_id}
    )["comment"]
    assert made["author"] == "feedback-bot" and made["created_at"].endswith("Z")
    assert set(made) == {
        "comment_id", "session_id", "trace_id", "span_id", "body", "author", "created_at"
    }  # fmt: skip
    on_trace = project.ok(
        "POST", "/api/v1/comments", 201, json={"body": "second", "trace_id": traces[1].upper()}
    )["comment"]
    assert on_trace["session_id"] == session_id and on_trace["trace_id"] == traces[1]
    project.ok(
        "POST",
        "/api/v1/comments",
        201,
        json={"body": "third", "trace_id": traces[1], "span_id": span_id},
    )
    assert _thread(project, session_id=session_id) == ["first", "second", "third"]
    assert _thread(project, trace_id=traces[1]) == ["second", "third"]
    assert _thread(project, trace_id=traces[1], span_id=span_id) == ["third"]
    assert _thread(project, trace_id=traces[0]) == []
    pages, cursor = [], None
    for _ in range(5):  # pages of one
        params = {"session_id": session_id, "limit": "1", **({"cursor": cursor} if cursor else {})}
        answer = project.ok("GET", "/api/v1/comments", params=params)
        pages += [item["body"] for item in answer["items"]]
        cursor = answer["next_cursor"]
        if cursor is None:
            break
    assert pages == ["first", "second", "third"]


def test_what_a_comment_may_be(project: Project) -> None:
    session_id = otlp.uid("limits")
    (trace_id,) = project.send(session_id, 1)
    refusals: list[tuple[dict[str, Any], int, str]] = [
        ({"body": "x" * 10_001, "session_id": session_id}, 400, "at most 10,000 characters"),
        ({"body": "   ", "session_id": session_id}, 400, "needs a body"),
        ({"session_id": session_id}, 400, "must give body"),
        ({"body": "x"}, 400, "either session_id or trace_id"),
        ({"body": "x", "session_id": session_id, "trace_id": trace_id}, 400, "either"),
        ({"body": "x", "session_id": session_id, "span_id": "ab" * 8}, 400, "names its trace"),
        ({"body": "x", "session_id": "no-such-session"}, 404, "No session"),
        ({"body": "x", "trace_id": "f" * 32}, 404, "No trace"),
        ({"body": 5, "session_id": session_id}, 400, "body must be text"),
    ]
    for body, status, words in refusals:
        answer = project.call("POST", "/api/v1/comments", json=body)
        assert answer.status_code == status, (body, answer.text)
        assert words in answer.json()["error"]["message"], answer.text
    longest = "é" * 10_000  # characters, not bytes
    project.ok("POST", "/api/v1/comments", 201, json={"body": longest, "session_id": session_id})
    assert _thread(project, session_id=session_id) == [longest]


def test_only_the_author_deletes(project: Project) -> None:
    session_id = otlp.uid("mine")
    project.send(session_id, 1)
    other = _second_key(project, "another-bot")
    made = project.ok(
        "POST", "/api/v1/comments", 201, json={"body": "keep", "session_id": session_id}
    )
    comment_id = made["comment"]["comment_id"]
    refused = other.call("DELETE", f"/api/v1/comments/{comment_id}")
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == (
        "Only its author can delete a comment; this one was written by feedback-bot."
    )
    assert _thread(project, session_id=session_id) == ["keep"]
    missing = project.call("DELETE", "/api/v1/comments/no-such-comment")
    assert missing.status_code == 404
    deleted = project.ok("DELETE", f"/api/v1/comments/{comment_id}")["deleted"]
    assert deleted["comment_id"] == comment_id
    assert _thread(project, session_id=session_id) == []
    by_other = other.ok(
        "POST", "/api/v1/comments", 201, json={"body": "b", "session_id": session_id}
    )
    token = admin(project.server)
    gone = httpx.delete(
        f"{project.server.url}/api/v1/comments/{by_other['comment']['comment_id']}",
        params={"project": project.name},
        headers=token,
        timeout=30,
    )
    assert gone.status_code == 200, gone.text  # the admin token deletes any


def test_deleting_a_session_or_trace_deletes_its_comments(project: Project) -> None:
    session_id = otlp.uid("doomed")
    traces = project.send(session_id, 2)
    project.ok("POST", "/api/v1/comments", 201, json={"body": "s", "session_id": session_id})
    project.ok("POST", "/api/v1/comments", 201, json={"body": "t0", "trace_id": traces[0]})
    project.ok("POST", "/api/v1/comments", 201, json={"body": "t1", "trace_id": traces[1]})
    project.ok("DELETE", f"/api/v1/traces/{traces[0]}")
    assert _thread(project, session_id=session_id) == ["s", "t1"]
    project.ok("DELETE", f"/api/v1/sessions/{session_id}")
    assert _thread(project) == []


# -- stars -------------------------------------------------------------------------------------


def _csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None, "no CSRF token on the page"
    return found[1]


@contextmanager
def _browser(server: LaminaServer, email: str) -> Iterator[tuple[httpx.Client, str]]:
    """A browser signed in as a new administrator ``email``, and its CSRF token."""
    made = httpx.post(
        f"{server.url}/api/v1/accounts",
        json={"email": email, "password": PASSWORD, "is_admin": True},
        headers=admin(server),
        timeout=30,
    )
    assert made.status_code == 201, made.text
    with httpx.Client(base_url=server.url, timeout=30) as client:
        token = _csrf(client.get("/signin"))
        data = {"email": email, "password": PASSWORD, "csrf": token}
        assert client.post("/signin", data=data).status_code == 303
        yield client, _csrf(client.get("/p/default/settings"))


def test_stars_are_each_users_own_and_filter_the_lists(project: Project) -> None:
    starred_session, plain_session = otlp.uid("star"), otlp.uid("plain")
    (starred_trace,) = project.send(starred_session, 1)
    project.send(plain_session, 1)
    where = {"project": project.name}
    with (
        _browser(project.server, f"{otlp.uid('ana')}@example.com") as (ana, ana_csrf),
        _browser(project.server, f"{otlp.uid('bo')}@example.com") as (bo, _),
    ):
        for body in ({"session_id": starred_session}, {"trace_id": starred_trace}):
            answer = ana.put(
                "/api/v1/bookmarks", params=where, json=body, headers={"X-CSRF-Token": ana_csrf}
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["bookmark"]["starred"] is True
        missing = ana.put(
            "/api/v1/bookmarks",
            params=where,
            json={"session_id": "no-such-session"},
            headers={"X-CSRF-Token": ana_csrf},
        )
        assert missing.status_code == 404

        def listed(client: httpx.Client, kind: str, **params: str) -> dict[str, bool]:
            answer = client.get(f"/api/v1/{kind}", params={**where, **params})
            assert answer.status_code == 200, answer.text
            key = "session_id" if kind == "sessions" else "trace_id"
            return {item[key]: item["starred"] for item in answer.json()["items"]}

        assert listed(ana, "sessions") == {starred_session: True, plain_session: False}
        assert listed(ana, "sessions", starred="true") == {starred_session: True}
        assert listed(ana, "traces", starred="true") == {starred_trace: True}
        assert listed(bo, "sessions")[starred_session] is False  # ana's star is ana's
        assert listed(bo, "sessions", starred="true") == {}
        assert listed(bo, "traces", starred="true") == {}

        # a key has no stars: none shown, none filtered by, none given
        by_key = project.ok("GET", "/api/v1/sessions")["items"]
        assert all("starred" not in item for item in by_key)
        assert project.ok("GET", "/api/v1/sessions", params={"starred": "true"})["items"] == []
        assert project.ok("GET", "/api/v1/traces", params={"starred": "true"})["items"] == []
        refused = project.call("PUT", "/api/v1/bookmarks", json={"session_id": plain_session})
        assert refused.status_code == 403 and "signed-in user" in refused.text

        unstar = ana.request(
            "DELETE",
            "/api/v1/bookmarks",
            params=where,
            json={"session_id": starred_session},
            headers={"X-CSRF-Token": ana_csrf},
        )
        assert unstar.status_code == 200 and unstar.json()["bookmark"]["starred"] is False
        assert listed(ana, "sessions", starred="true") == {}
        assert listed(ana, "traces", starred="true") == {starred_trace: True}


def test_export_and_import_carry_the_comments(project: Project, server: LaminaServer) -> None:
    session_id = otlp.uid("moved")
    traces = project.send(session_id, 2)
    span_id = project.ok("GET", f"/api/v1/traces/{traces[0]}")["spans"][-1]["span_id"]
    for body in (
        {"body": "on the session", "session_id": session_id},
        {"body": "on a trace", "trace_id": traces[1]},
        {"body": "on a span", "trace_id": traces[0], "span_id": span_id},
    ):
        project.ok("POST", "/api/v1/comments", 201, json=body)
    exported = project.call("GET", "/api/v1/export")
    assert exported.status_code == 200
    assert b'"comments":3' in exported.content.splitlines()[-1]
    target = new_project(server)
    imported = target.ok(
        "POST",
        "/api/v1/import",
        content=exported.content,
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert imported["comments"] == 3 and imported["traces"] == 2

    def listed(p: Project) -> list[dict[str, Any]]:
        return p.ok("GET", "/api/v1/comments", params={"session_id": session_id})["items"]

    assert listed(target) == listed(project)
    assert [c["body"] for c in listed(target)] == ["on the session", "on a trace", "on a span"]
    target.ok("POST", "/api/v1/import", content=exported.content)  # again: nothing added
    assert len(listed(target)) == 3
    # a session's own download carries its comments too
    one = project.call("GET", "/api/v1/export", params={"session_id": session_id})
    assert b'"comments":3' in one.content.splitlines()[-1]


def test_an_import_with_a_key_writes_its_comments_as_the_key(project: Project) -> None:
    """A comment line names its author; a key importing it cannot write in another's
    name (nor become able to delete it as them): the comment is the key's."""
    session_id = otlp.uid("forged")
    project.send(session_id, 1)
    line = {
        "kind": "comment",
        "comment_id": otlp.uid("cmt"),
        "session_id": session_id,
        "body": "approved",
        "author": "the-ceo@example.com",
        "author_id": "user:someone",
        "created_ns": 1_767_225_600_000_000_000,
    }
    answer = project.ok("POST", "/api/v1/import", content=orjson.dumps(line))
    assert answer["comments"] == 1
    (stored,) = project.ok("GET", "/api/v1/comments", params={"session_id": session_id})["items"]
    assert stored["author"] == "feedback-bot" and stored["body"] == "approved"
    project.ok("DELETE", f"/api/v1/comments/{stored['comment_id']}")  # the key's own
