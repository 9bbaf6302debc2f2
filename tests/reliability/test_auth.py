"""Authorisation over every route: no key, a malformed or unknown key, a revoked key,
another project's key (also naming the owner's project), a project key on the managing
routes, a token that is not quite the admin token, the admin token where an OTLP key
belongs, a signed-out browser, a browser change without its CSRF token, a browser whose
user is not an administrator on the managing routes. Each is denied, and no answer
tells whether the session, trace, project or key exists. Then: no secret in the
server's log.

One server, at ``--log-level debug`` (access log on), serves the whole module; the
last test reads everything it wrote.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import grpc
import httpx
import orjson
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from lamina.receivers import http as otlp_routes
from lamina.web import admin, api, comments, metrics, scores, shares
from lamina.web import console as console_api
from lamina.web import users as user_api
from tests.conftest import LaminaServer, start_server
from tests.reliability.test_data_lifecycle import send_session
from tests.support import otlp
from tests.support.otlp import IN_PROCESS

PASSWORD = "a long and secret passphrase 42"
MISSING_TRACE = "0123456789abcdef0123456789abcdef"
MISSING_SESSION = "no-such-session"
MISSING_SCORE = "no-such-score"
MISSING_COMMENT = "no-such-comment"
CONFIG = "tone"  # the owner's score config
MISSING_CONFIG = "no-such-config"
MISSING_SHARE = "shr_0000000000000000"
SAVED = "owners-saved-query"  # the owner's saved SQL query
MISSING_SAVED = "no-such-saved-query"
USER = "u-1"  # the user id of the owner's session (send_session)
MISSING_USER = "no-such-user"


@dataclass
class World:
    server: LaminaServer
    name: str  # project A, which owns the data
    key: str
    other_key: str  # project B
    revoked_key: str
    admin_token: str
    session_id: str
    trace_id: str
    secrets: dict[str, str]
    key_id: str = "key_x"  # a key of the owner's, made on the Settings page
    span_id: str = ""  # a span of trace_id
    owner_key_id: str = ""  # the id of the owner's key
    score_id: str = ""  # a score on the owner's session
    share_id: str = ""  # a share link of the owner's session, and its token
    share_token: str = ""
    comment_id: str = ""  # a comment on the owner's session, by the owner's key
    evaluator_id: str = ""  # an evaluator of the owner's project


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = start_server(tmp_path_factory.mktemp("auth"), "--log-level", "debug", *IN_PROCESS)
    name, key = otlp.new_project(server, "owner")
    _, other_key = otlp.new_project(server, "stranger")
    revoked = otlp.admin(server, "create_key", project=name, name="soon revoked")
    otlp.admin(server, "revoke_key", key_id=revoked["id"])
    session_id = f"s/{otlp.uid('secret')}"
    (trace_id,) = send_session(server, key, session_id, 1)
    token = (server.data_dir / "admin.token").read_text().strip()
    secrets = {
        "project key": key,
        "other key": other_key,
        "revoked key": revoked["key"],
        "admin token": token,
        "password": PASSWORD,
    }
    span_id = otlp.api(server, f"/api/v1/traces/{trace_id}", key=key)["spans"][0]["span_id"]
    scored = otlp.client().post(
        f"{server.url}/api/v1/scores",
        json={"name": "helpful", "value": 1, "session_id": session_id},
        headers=_bearer(key),
    )
    assert scored.status_code == 201, scored.text
    configured = otlp.client().post(
        f"{server.url}/api/v1/score-configs",
        json={"name": CONFIG, "type": "categorical", "categories": [{"label": "warm", "value": 1}]},
        headers=_bearer(key),
    )
    assert configured.status_code == 201, configured.text
    shared = otlp.client().post(
        f"{server.url}/api/v1/sessions/{quote(session_id, safe='')}/share",
        json={},
        headers=_bearer(key),
    )
    assert shared.status_code == 201, shared.text
    commented = otlp.client().post(
        f"{server.url}/api/v1/comments",
        json={"body": "the owner's note", "session_id": session_id},
        headers=_bearer(key),
    )
    assert commented.status_code == 201, commented.text
    saved = otlp.client().put(
        f"{server.url}/api/v1/sql/queries/{SAVED}",
        json={"query": f"SELECT * FROM sessions WHERE session_id = '{session_id}'"},
        headers=_bearer(key),
    )
    assert saved.status_code == 200, saved.text
    judge = otlp.client().post(
        f"{server.url}/api/v1/evaluators",
        json={"name": "owners-check", "kind": "check", "check": {"type": "json_output"}},
        headers=_bearer(key),
    )
    assert judge.status_code == 201, judge.text
    owner_key_id = next(
        k["id"]
        for k in otlp.admin(server, "list_keys", project=name)
        if key.startswith(k["prefix"])
    )
    yield World(
        server,
        name,
        key,
        other_key,
        revoked["key"],
        token,
        session_id,
        trace_id,
        secrets,
        span_id=span_id,
        owner_key_id=owner_key_id,
        score_id=scored.json()["score"]["score_id"],
        share_id=shared.json()["share"]["id"],
        share_token=shared.json()["token"],
        comment_id=commented.json()["comment"]["comment_id"],
        evaluator_id=judge.json()["id"],
    )
    server.kill()


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# Every route of a project, with the ids it takes: (method, path, kind of id or None).
API = [
    ("GET", "/api/v1/sessions", None),
    ("GET", "/api/v1/sessions/{session_id}", "session"),
    ("DELETE", "/api/v1/sessions/{session_id}", "session"),
    ("GET", "/api/v1/traces", None),
    ("GET", "/api/v1/traces/{trace_id}", "trace"),
    ("DELETE", "/api/v1/traces/{trace_id}", "trace"),
    ("GET", "/api/v1/traces/{trace_id}/spans/{span_id}/{field}", "span"),
    ("GET", "/api/v1/export", None),
    ("GET", "/api/v1/export?session_id={session_id}", "session"),
    ("POST", "/api/v1/import", None),
    ("GET", "/api/v1/scores", None),
    ("POST", "/api/v1/scores", None),
    ("DELETE", "/api/v1/scores/{score_id}", "score"),
    ("GET", "/api/v1/score-configs", None),
    ("POST", "/api/v1/score-configs", None),
    ("DELETE", "/api/v1/score-configs/{name}", "config"),
    ("POST", "/api/v1/sessions/{session_id}/end", "session"),
    ("POST", "/api/v1/sessions/{session_id}/share", "session"),
    ("POST", "/api/v1/traces/{trace_id}/share", "trace"),
    ("GET", "/api/v1/shares", None),
    ("DELETE", "/api/v1/shares/{key}", "share"),
    ("GET", "/api/v1/comments", None),
    ("POST", "/api/v1/comments", None),
    ("DELETE", "/api/v1/comments/{comment_id}", "comment"),
    ("PUT", "/api/v1/bookmarks", None),  # stars are a signed-in user's: a key is a 403
    ("DELETE", "/api/v1/bookmarks", None),
    ("GET", "/api/v1/metrics?metric=traces", None),
    ("GET", "/api/v1/metrics/distribution?metric=turns", None),
    ("POST", "/api/v1/sql", None),
    ("GET", "/api/v1/sql/queries", None),
    ("PUT", "/api/v1/sql/queries/{name}", None),  # saved in the caller's own project
    ("DELETE", "/api/v1/sql/queries/{name}", "saved"),
    ("GET", "/api/v1/users", None),
    ("GET", "/api/v1/users/{user_id}", "user"),
]
# Every managing route (admin token only), with the ids it takes.
ADMIN = [
    ("GET", "/api/v1/projects", None),
    ("POST", "/api/v1/projects", None),
    ("GET", "/api/v1/projects/{project}", "project"),
    ("PATCH", "/api/v1/projects/{project}", "project"),
    ("DELETE", "/api/v1/projects/{project}", "project"),
    ("GET", "/api/v1/keys", None),
    ("GET", "/api/v1/keys?project={project}", "project"),
    ("POST", "/api/v1/keys", None),
    ("POST", "/api/v1/keys/{key_id}/revoke", "key"),
    ("GET", "/api/v1/accounts", None),
    ("POST", "/api/v1/accounts", None),
    ("GET", "/api/v1/quarantine", None),
    ("POST", "/api/v1/quarantine/{entry_id}/retry", "entry"),
    ("DELETE", "/api/v1/quarantine/{entry_id}", "entry"),
]
PUBLIC = {"/api/v1/openapi.json", "/healthz"}
OTLP_PATHS = sorted(route.path for route in otlp_routes.routes)  # type: ignore[attr-defined]


def test_the_matrix_covers_every_route() -> None:
    covered = {(method, path.split("?")[0]) for method, path, _ in [*API, *ADMIN]}
    routes = [*api.routes, *scores.routes, *comments.routes, *shares.routes, *admin.routes]
    routes += console_api.routes
    for route in [*routes, *metrics.routes, *user_api.routes]:
        for method in route.methods or ():  # type: ignore[attr-defined]
            if method == "HEAD" or route.path in PUBLIC:  # type: ignore[attr-defined]
                continue
            path = re.sub(r":\w+}", "}", route.path)  # type: ignore[attr-defined]
            assert (method, path) in covered, f"{method} {path} is not in the matrix"
    assert all(path.startswith("/v1/") for path in OTLP_PATHS)


def _paths(world: World, path: str, kind: str | None) -> tuple[str, str]:
    """The route with the owner's real id, and with an id that exists nowhere."""
    if kind == "session":
        return (
            path.replace("{session_id}", quote(world.session_id, safe="")),
            path.replace("{session_id}", MISSING_SESSION),
        )
    if kind in ("trace", "span"):
        path = path.replace("{span_id}", world.span_id).replace("{field}", "input")
        return (
            path.replace("{trace_id}", world.trace_id),
            path.replace("{trace_id}", MISSING_TRACE),
        )
    if kind == "score":
        return (
            path.replace("{score_id}", world.score_id),
            path.replace("{score_id}", MISSING_SCORE),
        )
    if kind == "comment":
        return (
            path.replace("{comment_id}", world.comment_id),
            path.replace("{comment_id}", MISSING_COMMENT),
        )
    if kind == "share":
        return path.replace("{key}", world.share_id), path.replace("{key}", MISSING_SHARE)
    if kind == "config":
        return path.replace("{name}", CONFIG), path.replace("{name}", MISSING_CONFIG)
    if kind == "saved":
        return path.replace("{name}", SAVED), path.replace("{name}", MISSING_SAVED)
    if kind == "user":
        return path.replace("{user_id}", USER), path.replace("{user_id}", MISSING_USER)
    if kind == "project":
        return path.replace("{project}", quote(world.name)), path.replace("{project}", "nowhere")
    if kind == "key":
        return path.replace("{key_id}", world.owner_key_id), path.replace("{key_id}", "key_0")
    if kind == "entry":
        return path.replace("{entry_id}", "q_1"), path.replace("{entry_id}", "q_2")
    return path, path


def _body(world: World, method: str, path: str) -> bytes | None:
    """What a caller would send to change the owner's data, were it let through."""
    bodies: dict[str, Any] = {
        "/api/v1/import": otlp.uid("x"),
        "/api/v1/projects": {"name": otlp.uid("intruder")},
        "/api/v1/keys": {"project": world.name, "name": "intruder"},
        "/api/v1/accounts": {"email": "intruder@example.com", "password": "x" * 12},
        "/api/v1/scores": {"name": "intrusion", "value": 0, "session_id": world.session_id},
        "/api/v1/score-configs": {"name": "intrusion", "type": "numeric", "max": 0},
        "/api/v1/comments": {"body": "intrusion", "session_id": world.session_id},
        "/api/v1/sql": {"query": "SELECT session_id, trace_id FROM traces"},
    }
    if path == "/api/v1/bookmarks":
        return orjson.dumps({"session_id": world.session_id})
    if path.endswith("/end"):
        return orjson.dumps({"outcome": "failure"})
    if method == "PUT" and path.startswith("/api/v1/sql/queries/"):
        return orjson.dumps({"query": "SELECT count(*) FROM sessions"})
    if method == "PUT" and path.startswith("/api/v1/sql/queries/"):
        return orjson.dumps({"query": "SELECT count(*) FROM sessions"})
    if method == "PATCH":
        return orjson.dumps({"retention_days": 1})
    body = bodies.get(path.split("?")[0]) if method == "POST" else None
    if isinstance(body, str):  # an import: a session the owner's list would show
        span = {"kind": "span", "trace_id": "f" * 32, "span_id": "0" * 16, "name": body}
        return orjson.dumps({**span, "session_id": "intruder", "start_ns": 1, "end_ns": 2})
    return None if body is None else orjson.dumps(body)


def _call(world: World, method: str, path: str, headers: dict[str, str], **params: Any) -> Any:
    url = world.server.url + path
    if params:  # beside the path's own query, if any
        url += ("&" if "?" in path else "?") + urlencode(params)
    return otlp.client().request(method, url, headers=headers, content=_body(world, method, path))


def _bad_credentials(world: World) -> dict[str, dict[str, str]]:
    return {
        "no key": {},
        "empty bearer": {"Authorization": "Bearer"},
        "basic auth": {"Authorization": "Basic dXNlcjpwYXNz"},
        "unknown key": _bearer("lmn_" + "x" * 43),
        "revoked key": _bearer(world.revoked_key),
        "token with one more character": _bearer(world.admin_token + "x"),
        "token cut short": _bearer(world.admin_token[:-1]),
    }


def test_no_key_a_bad_key_or_a_revoked_key_is_401_everywhere_and_reveals_nothing(
    world: World,
) -> None:
    before = _state(world)
    for label, headers in _bad_credentials(world).items():
        for method, path, kind in [*API, *ADMIN]:
            real, missing = _paths(world, path, kind)
            on_real = _call(world, method, real, headers)
            on_missing = _call(world, method, missing, headers)
            where = f"{label}: {method} {path}"
            assert on_real.status_code == 401, where
            assert on_real.json() == on_missing.json(), where
            assert on_real.json()["error"]["code"] == "unauthorized", where
            for secret in (world.session_id, world.trace_id, world.name, "prj_", "key_"):
                assert secret not in on_real.text, where
        for path in OTLP_PATHS:
            body = otlp.export(otlp.conversation_turn("s-x", 0, start_ns=1))
            answer = otlp.post(world.server.url, None, body, path=path, headers=headers)
            assert answer.status_code == 401, f"{label}: POST {path}"
    for path in OTLP_PATHS:  # the admin token is no project's key
        body = otlp.export(otlp.conversation_turn("s-x", 0, start_ns=1))
        answer = otlp.post(world.server.url, world.admin_token, body, path=path)
        assert answer.status_code == 401, f"admin token: POST {path}"
    assert _state(world) == before
    _owner_still_has_everything(world)


def test_another_projects_key_finds_nothing_and_changes_nothing(world: World) -> None:
    before = _state(world)
    headers = _bearer(world.other_key)
    for method, path, kind in API:
        for params in ({}, {"project": world.name}):  # naming the owner's project changes nothing
            real, missing = _paths(world, path, kind)
            on_real = _call(world, method, real, headers, **params)
            on_missing = _call(world, method, missing, headers, **params)
            where = f"{method} {path} {params}"
            if path == "/api/v1/bookmarks":  # a key has no stars, in any project
                assert on_real.status_code == on_missing.status_code == 403, where
                assert "signed-in user" in on_real.json()["error"]["message"], where
                continue
            if path == "/api/v1/comments" and method == "POST":  # no such session in B
                assert on_real.status_code == 404, where
                continue
            if kind is None and method == "POST" and "score" in path:
                # made in the stranger's own project (the owner's state is unchanged)
                assert on_real.status_code == 201, where
                continue
            if kind is None:
                assert on_real.status_code == 200, where
                assert world.trace_id not in on_real.text and world.session_id not in on_real.text
                assert world.score_id not in on_real.text and f'"{CONFIG}"' not in on_real.text
                assert world.share_id not in on_real.text, where
                assert world.comment_id not in on_real.text, where
                continue
            if path.endswith("/end"):  # ends the stranger's session of that id, if any
                assert on_real.status_code == on_missing.status_code == 200, where
                continue
            assert on_real.status_code == on_missing.status_code == 404, where
            assert on_real.json()["error"]["code"] == on_missing.json()["error"]["code"], where
            # the message names the id that was asked for, and nothing more
            real_id, missing_id = {
                "session": (world.session_id, MISSING_SESSION),
                "score": (world.score_id, MISSING_SCORE),
                "share": (world.share_id, MISSING_SHARE),
                "comment": (world.comment_id, MISSING_COMMENT),
                "config": (CONFIG, MISSING_CONFIG),
                "saved": (SAVED, MISSING_SAVED),
                "user": (USER, MISSING_USER),
            }.get(kind, (world.trace_id, MISSING_TRACE))
            assert on_real.json()["error"]["message"].replace(real_id, "ID") == on_missing.json()[
                "error"
            ]["message"].replace(missing_id, "ID"), where
    for key in (world.other_key, world.key):  # a project key manages nothing, not even its own
        for method, path, kind in ADMIN:
            real, missing = _paths(world, path, kind)
            on_real = _call(world, method, real, _bearer(key))
            on_missing = _call(world, method, missing, _bearer(key))
            assert on_real.status_code == on_missing.status_code == 403, f"{method} {path}"
            assert on_real.json() == on_missing.json()
            assert world.name not in on_real.text and "prj_" not in on_real.text
    assert _state(world) == before  # the import made a session in the stranger's project
    _owner_still_has_everything(world)


def test_another_projects_key_sees_no_score_of_the_owners(world: World) -> None:
    """Scores and configs by the owner's ids, names and filters: none from B's key."""
    headers = _bearer(world.other_key)
    queries = [
        ("/api/v1/scores", {"session_id": world.session_id}),
        ("/api/v1/scores", {"name": "helpful"}),
        ("/api/v1/sessions", {"has_score": "helpful"}),
        ("/api/v1/sessions", {"score": "helpful>=0"}),
        ("/api/v1/sessions", {"sort": "score:helpful"}),
        ("/api/v1/traces", {"has_score": "helpful"}),
    ]
    for path, params in queries:
        for project in ({}, {"project": world.name}):
            answer = _call(world, "GET", path, headers, **params, **project)
            assert answer.status_code == 200, (path, params)
            assert world.score_id not in answer.text
            if path != "/api/v1/scores":  # B may have scored a session of that id itself
                assert world.session_id not in answer.text
            assert not [item for item in answer.json()["items"] if item.get("name") == "helpful"]
    configs = _call(world, "GET", "/api/v1/score-configs", headers).json()["items"]
    assert CONFIG not in {config["name"] for config in configs}


def test_another_projects_key_counts_none_of_the_owners_data(world: World) -> None:
    """Metrics and distributions with B's key, naming A's project or not, by A's user,
    session or trace: zeros and empty histograms; A's key counts its own."""
    traces = {"metric": "traces", "group_by": "user_id"}
    for key, counted in ((world.other_key, 0), (world.key, 1)):
        for params in ({}, {"project": world.name}, {"user_id": "u-1"}):
            answer = _call(world, "GET", "/api/v1/metrics", _bearer(key), **traces, **params)
            assert answer.status_code == 200, answer.text
            total = sum(p["v"] for s in answer.json()["series"] for p in s["points"])
            assert (total > 0) == bool(counted), (key == world.key, params)
            spread = _call(
                world,
                "GET",
                "/api/v1/metrics/distribution",
                _bearer(key),
                metric="session_cost",
                **params,
            )
            assert spread.status_code == 200, spread.text
            assert bool(spread.json()["buckets"]) == bool(counted), (key == world.key, params)
            assert world.session_id not in spread.text and world.trace_id not in answer.text


def test_another_projects_key_sees_none_of_the_owners_users(world: World) -> None:
    """The owner's user, listed, searched and asked for by id with B's key, naming A's
    project or not: an empty list and a 404; A's key finds them, with their session."""
    for params in ({}, {"project": world.name}):
        for query in ({}, {"q": USER}):
            listed = _call(
                world, "GET", "/api/v1/users", _bearer(world.other_key), **params, **query
            )
            assert listed.status_code == 200, listed.text
            assert listed.json()["items"] == [] and listed.json()["total"] == 0
        one = _call(world, "GET", f"/api/v1/users/{USER}", _bearer(world.other_key), **params)
        assert one.status_code == 404, one.text
        assert world.session_id not in one.text
    mine = _call(world, "GET", f"/api/v1/users/{USER}", _bearer(world.key)).json()
    assert (mine["user_id"], mine["sessions"]) == (USER, 1)
    assert mine["score_summary"]["helpful"]["count"] == 1


def test_another_projects_key_reads_none_of_the_owners_rows_in_sql(world: World) -> None:
    """SQL with B's key, naming A's project or not, by A's ids, through joins and a
    UNION: no row of A's; A's key reads its own."""
    session = world.session_id.replace("'", "''")
    queries = [
        "SELECT trace_id FROM traces",
        f"SELECT * FROM sessions WHERE session_id = '{session}'",
        f"SELECT t.trace_id FROM traces t JOIN spans s ON s.trace_id = t.trace_id "
        f"WHERE t.trace_id = '{world.trace_id}'",
        f"SELECT trace_id FROM spans UNION ALL SELECT trace_id FROM scores "
        f"WHERE trace_id = '{world.trace_id}'",
        "SELECT score_id FROM scores",
    ]
    for key, owner in ((world.other_key, False), (world.key, True)):
        for params in ({}, {"project": world.name}):
            for text in queries:
                answer = otlp.client().post(
                    world.server.url + "/api/v1/sql?" + urlencode(params),
                    headers=_bearer(key),
                    json={"query": text},
                )
                assert answer.status_code == 200, answer.text
                if text == "SELECT trace_id FROM traces":
                    assert (world.trace_id in answer.text) == owner, (owner, params)
                elif not owner:
                    assert world.trace_id not in answer.text and world.score_id not in answer.text
                    assert world.session_id not in answer.text
    theirs = _call(world, "GET", "/api/v1/sql/queries", _bearer(world.other_key))
    assert SAVED not in theirs.text and world.session_id not in theirs.text
    mine = _call(world, "GET", "/api/v1/sql/queries", _bearer(world.key)).json()["items"]
    assert SAVED in {item["name"] for item in mine}
    theirs = _call(world, "GET", "/api/v1/sql/queries", _bearer(world.other_key))
    assert SAVED not in theirs.text and world.session_id not in theirs.text
    mine = _call(world, "GET", "/api/v1/sql/queries", _bearer(world.key)).json()["items"]
    assert SAVED in {item["name"] for item in mine}


def _owner_still_has_everything(world: World) -> None:
    mine = _bearer(world.key)
    session = quote(world.session_id, safe="")
    assert _call(world, "GET", f"/api/v1/sessions/{session}", mine).status_code == 200
    assert _call(world, "GET", f"/api/v1/traces/{world.trace_id}", mine).status_code == 200


def test_grpc_refuses_bad_keys(world: World) -> None:
    request = otlp.export(otlp.conversation_turn("s-grpc", 0, start_ns=1))
    with grpc.insecure_channel(world.server.grpc_target) as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        wrong = {**_bad_credentials(world), "admin token": _bearer(world.admin_token)}
        for label, headers in wrong.items():
            metadata = [("authorization", v) for v in headers.values()]
            with pytest.raises(grpc.RpcError) as raised:
                stub.Export(request, metadata=metadata, timeout=10)
            assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED, label


def test_the_admin_token_reads_any_project_it_names_and_manages_them(world: World) -> None:
    token = _bearer(world.admin_token)
    for method, path, kind in API:
        if method != "GET":
            continue
        real, _ = _paths(world, path, kind)
        mine = _call(world, method, real, token, project=world.name)
        assert mine.status_code == 200, f"{method} {path}"
        if kind is not None:  # under another project, the owner's items do not exist
            stranger = _call(world, method, real, token, project=_stranger(world))
            assert stranger.status_code == 404, f"{method} {path}"
    sessions = _call(world, "GET", "/api/v1/sessions", token, project=world.name)
    assert world.session_id in sessions.text
    nowhere = _call(world, "GET", "/api/v1/sessions", token, project="no-such-project")
    assert nowhere.status_code == 404
    for method, path, kind in ADMIN:
        if method == "GET":
            real, _ = _paths(world, path, kind)
            assert _call(world, method, real, token).status_code == 200, path
    projects = _call(world, "GET", "/api/v1/projects", token).json()["items"]
    assert world.name in {project["name"] for project in projects}


def _stranger(world: World) -> str:
    return next(
        p["name"]
        for p in otlp.admin(world.server, "list_projects")
        if p["name"].startswith("stranger")
    )


def test_the_owners_key_may_do_everything(world: World) -> None:
    """The control: the same routes with the right key work."""
    mine = _bearer(world.key)
    for method, path, kind in API:
        if method in ("DELETE", "POST", "PUT"):  # PUT: a star, which no key may give
            continue
        real, _ = _paths(world, path, kind)
        assert _call(world, method, real, mine).status_code == 200, f"{method} {path}"


# -- a browser -------------------------------------------------------------------------------------


def _csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None, "no CSRF token on the page"
    return found[1]


def test_a_browser_needs_to_be_signed_in_and_to_send_its_csrf_token(world: World) -> None:
    if not any(line.startswith("First sign-in") for line in world.server.output):
        pytest.skip("this build has no web pages")
    otlp.admin(world.server, "create_user", email="owner@example.com", password=PASSWORD)
    (trace_id,) = send_session(world.server, world.key, "s-browser", 1)
    trace_path = f"/api/v1/traces/{trace_id}?project={quote(world.name)}"
    with httpx.Client(base_url=world.server.url, timeout=30) as browser:
        assert browser.get(f"/api/v1/sessions?project={quote(world.name)}").status_code == 401
        token = _csrf(browser.get("/signin"))
        signed = browser.post(
            "/signin", data={"email": "owner@example.com", "password": PASSWORD, "csrf": token}
        )
        assert signed.status_code == 303
        world.secrets["session cookie"] = browser.cookies["lamina_session"]
        assert browser.get(trace_path).status_code == 200
        csrf = _csrf(browser.get("/p/default/settings"))
        world.secrets["csrf token"] = csrf

        refusals = {
            "no token": {},
            "a wrong token": {"X-CSRF-Token": "x" * len(csrf)},
            "another site": {"X-CSRF-Token": csrf, "Origin": "https://evil.example"},
        }
        for label, headers in refusals.items():
            answer = browser.delete(trace_path, headers=headers)
            assert answer.status_code == 403, label
            assert browser.get(trace_path).status_code == 200, label
        same_site = {"X-CSRF-Token": csrf, "Origin": world.server.url}
        assert browser.delete(trace_path, headers=same_site).status_code == 200
        assert browser.get(trace_path).status_code == 404

        browser.post("/signout", data={"csrf": csrf})
        assert browser.get(f"/api/v1/sessions?project={quote(world.name)}").status_code == 401
    # a copy of the cookie taken before sign-out no longer works either
    stale = httpx.get(
        f"{world.server.url}/api/v1/sessions?project={quote(world.name)}",
        cookies={"lamina_session": world.secrets["session cookie"]},
    )
    assert stale.status_code == 401


def test_only_an_administrators_browser_may_manage(world: World) -> None:
    if not any(line.startswith("First sign-in") for line in world.server.output):
        pytest.skip("this build has no web pages")
    otlp.admin(world.server, "create_user", email="member@example.com", password=PASSWORD)
    otlp.admin(
        world.server, "create_user", email="admin@example.com", password=PASSWORD, is_admin=True
    )
    before = _state(world)
    with _browser(world, "member@example.com") as (member, csrf):
        for method, path, kind in ADMIN:
            real, _ = _paths(world, path, kind)
            answer = member.request(
                method, real, content=_body(world, method, path), headers={"X-CSRF-Token": csrf}
            )
            assert answer.status_code == 403, f"{method} {path}"
            assert "administrators" in answer.json()["error"]["message"]
    assert _state(world) == before
    with _browser(world, "admin@example.com") as (chief, csrf):
        assert world.name in chief.get("/api/v1/projects").text
        made = {"name": otlp.uid("by-the-admin")}
        assert chief.post("/api/v1/projects", json=made).status_code == 403  # no CSRF token
        created = chief.post("/api/v1/projects", json=made, headers={"X-CSRF-Token": csrf})
        assert created.status_code == 201, created.text
        gone = chief.delete(f"/api/v1/projects/{made['name']}", headers={"X-CSRF-Token": csrf})
        assert gone.status_code == 200, gone.text
    assert _state(world) == before


@contextmanager
def _browser(world: World, email: str) -> Iterator[tuple[httpx.Client, str]]:
    """A browser signed in as ``email``, and its CSRF token."""
    with httpx.Client(base_url=world.server.url, timeout=30) as client:
        token = _csrf(client.get("/signin"))
        data = {"email": email, "password": PASSWORD, "csrf": token}
        assert client.post("/signin", data=data).status_code == 303
        yield client, _csrf(client.get("/p/default/settings"))


# -- the pages ---------------------------------------------------------------------------------

# Page routes anyone may call: (method, path) -> what a signed-out caller gets.
OPEN_PAGES = {
    ("GET", "/static/{name}"): 200,
    ("GET", "/favicon.ico"): 204,
    ("GET", "/signin"): 200,
    ("POST", "/signin"): 403,  # no CSRF token: refused before anything is looked at
    ("POST", "/signout"): 403,
    ("GET", "/setup/{token}"): 404,  # once a user exists, the link is gone
    ("POST", "/setup/{token}"): 404,
    ("GET", "/share/{token}"): 404,  # a share link's address; this token is no link
    ("GET", "/share/{token}/traces/{trace_id}"): 404,
    ("GET", "/share/{token}/traces/{trace_id}/spans/{span_id}/{field}"): 404,
}
PAGE_USER = "pages@example.com"


def _page_routes() -> list[tuple[str, str]]:
    """Every (method, path) the pages serve, read from the app's own route list."""
    from lamina.web.pages import build_routes
    from lamina.web.pages.render import load_assets, static_route

    found = []
    for route in build_routes(static_route(load_assets())):
        for method in sorted(route.methods or ()):  # type: ignore[attr-defined]
            if method != "HEAD":
                found.append((method, re.sub(r":\w+}", "}", route.path)))  # type: ignore[attr-defined]
    assert len(found) > 15, found
    return found


def _page_path(world: World, path: str, missing: bool = False, project: str | None = None) -> str:
    """A page route with real ids (or ids that exist nowhere) filled in."""
    values = {
        "project": quote(project or world.name, safe=""),
        "trace_id": MISSING_TRACE if missing else world.trace_id,
        "session_id": MISSING_SESSION if missing else quote(world.session_id, safe=""),
        "user_id": MISSING_USER if missing else USER,
        "key_id": "key_" + "0" * 20 if missing else world.key_id,
        "evaluator_id": "evl_" + "0" * 16 if missing else world.evaluator_id,
        "token": "not-the-setup-token",
        "span_id": world.span_id,
        "field": "input",
        "name": "app.css",
        "experiment_id": "no-such-run" if missing else "a-run",
    }
    return re.sub(r"{(\w+)}", lambda m: values[m[1]], path)


@contextmanager
def _signed_in(world: World) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.server.url, timeout=30) as client:
        token = _csrf(client.get("/signin"))
        data = {"email": PAGE_USER, "password": PASSWORD, "csrf": token}
        answer = client.post("/signin", data=data)
        assert answer.status_code == 303, answer.text
        yield client


def _state(world: World) -> Any:
    """Everything a page's form could change: projects, keys, users, the owner's data
    (its sessions with their status and score summaries, its scores, configs and
    comments)."""
    return (
        otlp.admin(world.server, "list_projects"),
        otlp.admin(world.server, "list_keys"),
        _call(world, "GET", "/api/v1/sessions", _bearer(world.key)).json()["items"],
        _call(world, "GET", f"/api/v1/traces/{world.trace_id}", _bearer(world.key)).status_code,
        _call(world, "GET", "/api/v1/scores", _bearer(world.key)).json()["items"],
        _call(world, "GET", "/api/v1/score-configs", _bearer(world.key)).json()["items"],
        _call(world, "GET", "/api/v1/shares", _bearer(world.key)).json()["items"],
        _call(world, "GET", "/api/v1/comments", _bearer(world.key)).json()["items"],
        _call(world, "GET", "/api/v1/sql/queries", _bearer(world.key)).json()["items"],
    )


def test_every_page_denies_a_signed_out_browser_and_reveals_nothing(world: World) -> None:
    if not any(line.startswith("First sign-in") for line in world.server.output):
        pytest.skip("this build has no web pages")
    otlp.admin(world.server, "create_user", email=PAGE_USER, password=PASSWORD)
    before = _state(world)
    for method, path in _page_routes():
        real, missing = _page_path(world, path), _page_path(world, path, missing=True)
        where = f"{method} {path}"
        for headers in ({}, {"X-Lamina-Fragment": "1"}):
            on_real = otlp.client().request(method, world.server.url + real, headers=headers)
            on_missing = otlp.client().request(method, world.server.url + missing, headers=headers)
            if (method, path) in OPEN_PAGES:
                assert on_real.status_code == OPEN_PAGES[method, path], where
                continue
            if headers:  # a script's request: 401, never a page or a redirect
                assert on_real.status_code == 401, where
            else:
                assert on_real.status_code == 303, where
                assert on_real.headers["location"].startswith("/signin?next="), where
            assert on_real.text.replace(real, "X") == on_missing.text.replace(missing, "X"), where
            for secret in (world.trace_id, world.session_id, world.name):
                assert secret not in on_real.text, f"{where} shows {secret}"
    assert _state(world) == before


def test_every_page_form_needs_its_csrf_token(world: World) -> None:
    with _signed_in(world) as browser:
        created = browser.post(
            f"/p/{quote(world.name)}/settings/keys",
            data={"name": "from the page", "csrf": _csrf(browser.get("/p/default/settings"))},
        )
        new_key = re.search(r"data-new-key>(lmn_[\w-]+)<", created.text)
        assert created.status_code == 200 and new_key is not None
        world.secrets["key made on the page"] = new_key[1]
        world.key_id = next(
            k["id"] for k in otlp.admin(world.server, "list_keys") if k["name"] == "from the page"
        )
        csrf = _csrf(browser.get("/p/default/settings"))
        forms = {
            "/signout": {},
            "/p/{project}/settings/projects": {"name": "made-without-a-token"},
            "/p/{project}/settings/users": {"email": "intruder@example.com", "password": "x" * 12},
            "/p/{project}/traces": {"action": "create_key"},
            "/p/{project}/settings/keys": {"name": "made-without-a-token"},
            "/p/{project}/settings/keys/{key_id}/revoke": {},
            "/p/{project}/settings/delete": {"confirm_name": world.name},
            "/p/{project}/columns": {"tab": "sessions", "hidden": "cost"},
            "/p/{project}/sql": {"name": "made-without-a-token", "q": "SELECT 1"},
        }
        posts = [path for method, path in _page_routes() if method == "POST"]
        signed_in_posts = [p for p in posts if ("POST", p) not in OPEN_PAGES or p == "/signout"]
        assert sorted(signed_in_posts) == sorted(forms), "a page form is not in the matrix"
        before = _state(world)
        refusals = {
            "no token": ({}, {}),
            "a wrong token": ({"csrf": "x" * len(csrf)}, {}),
            "another site": ({"csrf": csrf}, {"Origin": "https://evil.example"}),
        }
        for path, fields in forms.items():
            for label, (token, headers) in refusals.items():
                answer = browser.post(
                    _page_path(world, path), data={**fields, **token}, headers=headers
                )
                assert answer.status_code == 403, f"{label}: POST {path}"
                assert "lmn_" not in answer.text
        assert _state(world) == before
        # still signed in: /signout without its token did not sign out
        assert browser.get(f"/api/v1/sessions?project={quote(world.name)}").status_code == 200


def test_a_project_in_the_address_never_shows_another_projects_data(world: World) -> None:
    """Every signed-in user may open every project, but a trace or session is found only
    under its own project: asked for under another, it does not exist, in the same words."""
    stranger = next(
        p["name"]
        for p in otlp.admin(world.server, "list_projects")
        if p["name"].startswith("stranger")
    )
    pages = [
        "/p/{project}/traces/{trace_id}",
        "/p/{project}/traces/{trace_id}?fragment=view",
        "/p/{project}/traces/{trace_id}?fragment=turn&n=1",
        "/p/{project}/traces/{trace_id}?fragment=span",
        "/p/{project}/sessions/{session_id}",
        "/p/{project}/sessions/{session_id}?fragment=traces",
        "/p/{project}/sessions/{session_id}?export=json",
        "/p/{project}/users/{user_id}",
        "/p/{project}/evaluators/{evaluator_id}",
        "/p/{project}/experiments/{experiment_id}",
        "/p/{project}/experiments/{experiment_id}?compare={experiment_id}",
    ]
    # the owner's run (#22), its id "a-run" as _page_path fills it in
    made = otlp.client().post(
        world.server.url + "/api/v1/experiments",
        headers=_bearer(world.key),
        content=orjson.dumps({"experiment_id": "a-run"}),
    )
    assert made.status_code in (200, 201), made.text
    # (a share link's pages have no project: test_a_share_token_reads_its_one_object_only)
    listed = {
        path
        for method, path in _page_routes()
        if "_id}" in path and method == "GET" and not path.startswith("/share/")
    }
    assert listed <= {p.split("?")[0] for p in pages}, "a page with an id is not checked"
    api = [
        ("GET", "/api/v1/traces/{trace_id}"),
        ("DELETE", "/api/v1/traces/{trace_id}"),
        ("GET", "/api/v1/sessions/{session_id}"),
        ("DELETE", "/api/v1/sessions/{session_id}"),
        ("GET", "/api/v1/export?session_id={session_id}"),
    ]
    with _signed_in(world) as browser:
        csrf = _csrf(browser.get("/p/default/settings"))
        for path in pages:
            real = _page_path(world, path, project=stranger)
            missing = _page_path(world, path, missing=True, project=stranger)
            on_real, on_missing = browser.get(real), browser.get(missing)
            assert on_real.status_code == on_missing.status_code == 404, path
            ids = (quote(world.session_id, safe=""), world.session_id, world.trace_id, USER)
            ids += (world.evaluator_id, "a-run")
            missing_ids = (MISSING_SESSION, MISSING_SESSION, MISSING_TRACE, MISSING_USER)
            missing_ids += ("evl_" + "0" * 16, "no-such-run")
            text_real, text_missing = on_real.text, on_missing.text
            for real_id, missing_id in zip(ids, missing_ids, strict=True):
                text_real = text_real.replace(real_id, "ID")
                text_missing = text_missing.replace(missing_id, "ID")
            assert text_real == text_missing, path
        for method, path in api:
            separator = "&" if "?" in path else "?"
            real = _page_path(world, path) + f"{separator}project={quote(stranger)}"
            missing = (
                _page_path(world, path, missing=True) + f"{separator}project={quote(stranger)}"
            )
            headers = {"X-CSRF-Token": csrf}
            on_real = browser.request(method, real, headers=headers)
            on_missing = browser.request(method, missing, headers=headers)
            assert on_real.status_code == on_missing.status_code == 404, f"{method} {path}"
            assert on_real.json()["error"]["code"] == on_missing.json()["error"]["code"]
        # the owner's data is untouched, and under its own project the page shows it
        _owner_still_has_everything(world)
        assert browser.get(_page_path(world, "/p/{project}/traces/{trace_id}")).status_code == 200


def test_a_share_token_reads_its_one_object_only(world: World) -> None:
    """A share link's token opens its session and that session's traces, at the share's
    own addresses only: no other session's trace (the same 404 as no link at all), no
    route of the JSON API (as a key or as a cookie), no page of the project."""
    base = f"{world.server.url}/share/{world.share_token}"
    page = otlp.client().get(base)
    assert page.status_code == 200 and world.session_id in page.text
    assert otlp.client().get(f"{base}/traces/{world.trace_id}").status_code == 200
    value = otlp.client().get(f"{base}/traces/{world.trace_id}/spans/{world.span_id}/input")
    assert value.status_code == 200 and value.json()["span_id"] == world.span_id
    (elsewhere,) = send_session(world.server, world.key, otlp.uid("unshared"), 1)
    before = _state(world)
    nothing = otlp.client().get(f"{world.server.url}/share/{'x' * 43}")
    for path in (
        f"/traces/{elsewhere}",
        f"/traces/{elsewhere}?fragment=span",
        f"/traces/{elsewhere}?fragment=turn&n=1",
        f"/traces/{elsewhere}/spans/{world.span_id}/input",
        f"/traces/{MISSING_TRACE}",
        "/traces/" + quote(world.session_id, safe=""),
    ):
        answer = otlp.client().get(base + path)
        assert answer.status_code == 404 and answer.text == nothing.text, path
        assert elsewhere not in answer.text
    as_key = _bearer(world.share_token)
    for method, path, kind in [*API, *ADMIN]:
        real, _ = _paths(world, path, kind)
        assert _call(world, method, real, as_key).status_code == 401, f"{method} {path}"
    as_cookie = httpx.get(
        f"{world.server.url}/api/v1/sessions?project={quote(world.name)}",
        cookies={"lamina_session": world.share_token},
        timeout=30,
    )
    assert as_cookie.status_code == 401
    session_page = _page_path(world, "/p/{project}/sessions/{session_id}")
    for headers in (as_key, {"Cookie": f"lamina_session={world.share_token}"}):
        answer = httpx.get(world.server.url + session_page, headers=headers, timeout=30)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/signin")
    assert _state(world) == before


def test_sign_in_is_rate_limited_and_says_so(world: World) -> None:
    wrong = "a wrong password, also a secret"
    world.secrets["a wrong password"] = wrong
    from_elsewhere = httpx.HTTPTransport(local_address="127.0.77.1")
    with httpx.Client(transport=from_elsewhere, base_url=world.server.url, timeout=30) as browser:
        token = _csrf(browser.get("/signin"))
        data = {"email": "someone@example.com", "csrf": token}
        for _ in range(5):
            answer = browser.post("/signin", data={**data, "password": wrong})
            assert answer.status_code == 400
        paused = browser.post("/signin", data={**data, "password": PASSWORD})
        assert paused.status_code == 429 and int(paused.headers["retry-after"]) > 0
        assert "Too many failed sign-in attempts" in paused.text


def test_no_secret_is_ever_written_to_the_log(world: World) -> None:
    """Runs last in this module: everything above was logged at debug level."""
    # more traffic that carries secrets: the CLI through the JSON API, gRPC ingest
    done = world.server.cli("keys", "list")
    assert done.returncode == 0, done.stderr
    request = otlp.export(otlp.conversation_turn("s-log", 0, start_ns=1))
    with grpc.insecure_channel(world.server.grpc_target) as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        stub.Export(request, metadata=[("authorization", f"Bearer {world.key}")], timeout=10)
    log = "".join(world.server.output)
    assert "GET /api/v1/sessions" in log, "the access log is on at debug level"
    for label, secret in world.secrets.items():
        assert secret not in log, f"the {label} was written to the log"
        assert secret[8:24] not in log, f"part of the {label} was written to the log"
