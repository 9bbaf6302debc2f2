"""Authorisation over the evaluator routes (#20), as tests/reliability/test_auth.py does
for the others: no key, a bad or revoked key are 401 everywhere; another project's key
sees no evaluator, run or secret of the owner's, and gets for the owner's evaluator the
answer an id that exists nowhere gets; the admin token reads the project it names; an
evaluator's LLM API key is in no answer (to any caller) and no log line.

One server, at ``--log-level debug`` (access log on), serves the module; the last test
reads everything it wrote.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from lamina.web import evaluators
from tests.conftest import LaminaServer, start_server
from tests.reliability.test_data_lifecycle import send_session
from tests.support import otlp
from tests.support.otlp import IN_PROCESS

API_KEY = "sk-evaluator-" + "s3cr3t" * 6
MISSING = "evl_0000000000000000"
ROUTES = [
    ("GET", "/api/v1/evaluators", None),
    ("POST", "/api/v1/evaluators", None),
    ("GET", "/api/v1/evaluators/{evaluator_id}", "evaluator"),
    ("PUT", "/api/v1/evaluators/{evaluator_id}", "evaluator"),
    ("DELETE", "/api/v1/evaluators/{evaluator_id}", "evaluator"),
    ("GET", "/api/v1/evaluators/{evaluator_id}/runs", "evaluator"),
    ("POST", "/api/v1/evaluators/{evaluator_id}/test", "evaluator"),
    ("POST", "/api/v1/evaluators/{evaluator_id}/backfill", "evaluator"),
    ("POST", "/api/v1/evaluators/{evaluator}/judge", "evaluator"),
]


@dataclass
class World:
    server: LaminaServer
    name: str
    key: str
    other_key: str
    revoked_key: str
    admin_token: str
    session_id: str
    judge_id: str  # an LLM judge with an API key
    check_id: str  # a check that has run on the owner's session


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _call(world: World, method: str, path: str, key: str | None, **params: Any) -> Any:
    headers = _bearer(key) if key is not None else {}
    body = None
    if method in ("POST", "PUT"):
        body = orjson.dumps(_body(world, path))
    return otlp.client().request(
        method, world.server.url + path, headers=headers, params=params, content=body
    )


def _body(world: World, path: str) -> dict[str, Any]:
    if path.endswith("/test"):
        return {"session_id": world.session_id}
    if path.endswith("/backfill"):
        return {"since": "2000-01-01T00:00:00Z"}
    if path.endswith("/judge"):
        return {"input": "question", "output": "answer"}
    if path == "/api/v1/evaluators":
        check = {"type": "error_in_last_turn"}
        return {"name": otlp.uid("intruder"), "kind": "check", "check": check, "enabled": False}
    return {"enabled": False}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = start_server(
        tmp_path_factory.mktemp("auth-evaluators"),
        "--log-level",
        "debug",
        "--evaluator-poll-ms",
        "100",
        *IN_PROCESS,
    )
    name, key = otlp.new_project(server, "owner")
    _, other_key = otlp.new_project(server, "stranger")
    revoked = otlp.admin(server, "create_key", project=name, name="soon revoked")
    otlp.admin(server, "revoke_key", key_id=revoked["id"])
    session_id = otlp.uid("secret-session")
    send_session(server, key, session_id, 2, start_ns=time.time_ns() - 3_600 * 10**9)
    made = otlp.client().post(
        server.url + "/api/v1/evaluators",
        headers=_bearer(key),
        json={
            "name": "helpfulness",
            "kind": "llm_judge",
            "enabled": False,
            "llm": {
                "base_url": "http://127.0.0.1:9/v1",
                "model": "gpt-4o-mini",
                "api_key": API_KEY,
                "prompt": "Judge: {{transcript}}",
                "score": {"name": "helpfulness", "min": 0, "max": 1},
            },
        },
    )
    assert made.status_code == 201, made.text
    assert API_KEY not in made.text and made.json()["llm"]["api_key_set"] is True
    check = otlp.client().post(
        server.url + "/api/v1/evaluators",
        headers=_bearer(key),
        json={"name": "errors", "kind": "check", "check": {"type": "error_in_last_turn"}},
    )
    assert check.status_code == 201, check.text
    world = World(
        server,
        name,
        key,
        other_key,
        revoked["key"],
        (server.data_dir / "admin.token").read_text().strip(),
        session_id,
        made.json()["id"],
        check.json()["id"],
    )
    filled = _call(world, "POST", f"/api/v1/evaluators/{world.check_id}/backfill", key)
    assert filled.status_code == 202 and filled.json() == {"queued": 1}, filled.text
    deadline = time.monotonic() + 10
    while [r["status"] for r in _runs(world, world.check_id)] != ["ok"]:
        assert time.monotonic() < deadline, _runs(world, world.check_id)
        time.sleep(0.05)
    yield world
    server.kill()


def _runs(world: World, evaluator_id: str) -> list[dict[str, Any]]:
    runs = _call(world, "GET", f"/api/v1/evaluators/{evaluator_id}/runs", world.key)
    assert runs.status_code == 200, runs.text
    items: list[dict[str, Any]] = runs.json()["items"]
    return items


def _state(world: World) -> Any:
    mine = world.key
    return (
        _call(world, "GET", "/api/v1/evaluators", mine).json()["items"],
        _runs(world, world.check_id),
        _call(world, "GET", "/api/v1/scores", mine).json()["items"],
    )


def test_the_routes_are_all_here() -> None:
    listed = {(method, path) for method, path, _ in ROUTES}
    for route in evaluators.routes:
        for method in route.methods or ():  # type: ignore[attr-defined]
            if method != "HEAD":
                assert (method, route.path) in listed, f"{method} {route.path}"  # type: ignore[attr-defined]


def _paths(world: World, path: str, kind: str | None) -> tuple[str, str]:
    if kind is None:
        return path, path
    path = path.replace("{evaluator}", "{evaluator_id}")  # the judge's: its id or name
    return path.replace("{evaluator_id}", world.check_id), path.replace("{evaluator_id}", MISSING)


def test_no_key_a_bad_key_or_a_revoked_key_is_401_and_reveals_nothing(world: World) -> None:
    before = _state(world)
    bad = {
        "no key": None,
        "unknown key": "lmn_" + "x" * 43,
        "revoked key": world.revoked_key,
        "token cut short": world.admin_token[:-1],
    }
    for label, key in bad.items():
        for method, path, kind in ROUTES:
            real, missing = _paths(world, path, kind)
            on_real = _call(world, method, real, key)
            on_missing = _call(world, method, missing, key)
            assert on_real.status_code == 401, f"{label}: {method} {path}"
            assert on_real.json() == on_missing.json()
            assert world.check_id not in on_real.text and "helpfulness" not in on_real.text
    assert _state(world) == before


def test_another_projects_key_sees_no_evaluator_run_or_secret(world: World) -> None:
    before = _state(world)
    for method, path, kind in ROUTES:
        for params in ({}, {"project": world.name}):  # naming the owner's project: no change
            real, missing = _paths(world, path, kind)
            on_real = _call(world, method, real, world.other_key, **params)
            where = f"{method} {path} {params}"
            if kind is None:
                # lists the stranger's own; a POST makes one in the stranger's project
                assert on_real.status_code == (201 if method == "POST" else 200), where
                for secret in (world.check_id, world.judge_id, "helpfulness", API_KEY):
                    assert secret not in on_real.text, where
                continue
            on_missing = _call(world, method, missing, world.other_key, **params)
            assert on_real.status_code == on_missing.status_code == 404, where
            assert on_real.json()["error"]["message"].replace(
                world.check_id, "ID"
            ) == on_missing.json()["error"]["message"].replace(MISSING, "ID"), where
    assert _state(world) == before
    # the stranger's own list holds only what it made
    listed = _call(world, "GET", "/api/v1/evaluators", world.other_key).json()["items"]
    assert listed and all(item["name"].startswith("intruder") for item in listed)


def test_the_admin_token_reads_the_project_it_names(world: World) -> None:
    token = world.admin_token
    for method, path, kind in ROUTES:
        if method != "GET":
            continue
        real, _ = _paths(world, path, kind)
        assert _call(world, method, real, token, project=world.name).status_code == 200, path
        if kind is not None:
            assert _call(world, method, real, token).status_code == 404, path  # "default"


def test_the_api_key_is_in_no_answer(world: World) -> None:
    answers = [
        _call(world, "GET", "/api/v1/evaluators", world.key),
        _call(world, "GET", f"/api/v1/evaluators/{world.judge_id}", world.key),
        _call(
            world,
            "GET",
            f"/api/v1/evaluators/{world.judge_id}",
            world.admin_token,
            project=world.name,
        ),
        _call(world, "GET", f"/api/v1/evaluators/{world.judge_id}/runs", world.key),
        _call(world, "POST", f"/api/v1/evaluators/{world.judge_id}/test", world.key),
    ]
    changed = otlp.client().put(
        f"{world.server.url}/api/v1/evaluators/{world.judge_id}",
        headers=_bearer(world.key),
        json={"llm": {"model": "gpt-4o"}},  # the key is kept
    )
    answers.append(changed)
    assert changed.json()["llm"]["api_key_set"] is True
    for answer in answers:
        assert API_KEY not in answer.text and API_KEY[12:30] not in answer.text, answer.text
    # the judge's address (127.0.0.1) is refused on this server: the dry run says so
    assert answers[-2].status_code == 200 and "allowed-hosts" in answers[-2].json()["error"]
    # the data dir's files hold it only sealed
    for path in world.server.data_dir.rglob("*"):
        if path.is_file():
            assert API_KEY.encode() not in path.read_bytes(), path


def test_no_evaluator_secret_is_written_to_the_log(world: World) -> None:
    """Runs last in this module: everything above was logged at debug level."""
    log = "".join(world.server.output)
    assert re.search(r"GET /api/v1/evaluators", log), "the access log is on at debug level"
    assert API_KEY not in log and API_KEY[12:30] not in log
    assert world.key not in log
