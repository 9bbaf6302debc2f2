"""Authorisation over the experiment routes (#22), as tests/reliability/test_auth.py does
for the others: no key, a bad or revoked key are 401 everywhere; another project's key
sees no run or item of the owner's, adds nothing to them, deletes none, cannot compare
its own run to the owner's, and gets for the owner's run the answer an id that exists nowhere gets;
the admin token reads the project it names. (Deleting a project deletes its
experiments: tests/store/test_experiments_contract.py.)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from lamina.web import experiments
from tests.conftest import LaminaServer, start_server
from tests.support import otlp
from tests.support.otlp import IN_PROCESS

RUN = "owners-run"
MISSING = "no-such-run"
SECRET = "the owner's secret answer"
ROUTES = [
    ("GET", "/api/v1/experiments", False),
    ("POST", "/api/v1/experiments", False),
    ("GET", "/api/v1/experiments/{experiment_id}", True),
    ("DELETE", "/api/v1/experiments/{experiment_id}", True),
    ("POST", "/api/v1/experiments/{experiment_id}/items", True),
]


@dataclass
class World:
    server: LaminaServer
    name: str
    key: str
    other_key: str
    revoked_key: str
    admin_token: str


def _call(
    world: World, method: str, path: str, key: str | None, body: Any = None, **params: Any
) -> Any:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    if body is None and method == "POST":
        body = _body(path)
    content = orjson.dumps(body) if body is not None else None
    return otlp.client().request(
        method, world.server.url + path, headers=headers, params=params, content=content
    )


def _body(path: str) -> dict[str, Any]:
    if path == "/api/v1/experiments":
        return {"experiment_id": "intruders-run", "name": "the intruder's"}
    return {"items": [{"index": 0, "input": "intrusion", "output": "taken"}]}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = start_server(tmp_path_factory.mktemp("auth-experiments"), *IN_PROCESS)
    name, key = otlp.new_project(server, "owner")
    _, other_key = otlp.new_project(server, "stranger")
    revoked = otlp.admin(server, "create_key", project=name, name="soon revoked")
    otlp.admin(server, "revoke_key", key_id=revoked["id"])
    world = World(
        server,
        name,
        key,
        other_key,
        revoked["key"],
        (server.data_dir / "admin.token").read_text().strip(),
    )
    made = _call(world, "POST", "/api/v1/experiments", key, {"experiment_id": RUN})
    assert made.status_code == 201, made.text
    item = {"index": 0, "input": "q", "output": SECRET, "scores": {"exact": 1}}
    added = _call(world, "POST", f"/api/v1/experiments/{RUN}/items", key, {"items": [item]})
    assert added.status_code == 201, added.text
    yield world
    server.kill()


def _state(world: World) -> Any:
    return (
        _call(world, "GET", "/api/v1/experiments", world.key).json()["items"],
        _call(world, "GET", f"/api/v1/experiments/{RUN}", world.key).json(),
    )


def test_the_routes_are_all_here() -> None:
    listed = {(method, path) for method, path, _ in ROUTES}
    for route in experiments.routes:
        for method in route.methods or ():  # type: ignore[attr-defined]
            if method != "HEAD":
                assert (method, route.path) in listed, f"{method} {route.path}"  # type: ignore[attr-defined]


def _paths(path: str) -> tuple[str, str]:
    return path.replace("{experiment_id}", RUN), path.replace("{experiment_id}", MISSING)


def test_no_key_a_bad_key_or_a_revoked_key_is_401_and_reveals_nothing(world: World) -> None:
    before = _state(world)
    bad = {
        "no key": None,
        "unknown key": "lmn_" + "x" * 43,
        "revoked key": world.revoked_key,
        "token cut short": world.admin_token[:-1],
    }
    for label, key in bad.items():
        for method, path, _ in ROUTES:
            real, missing = _paths(path)
            on_real = _call(world, method, real, key)
            assert on_real.status_code == 401, f"{label}: {method} {path}"
            assert on_real.json() == _call(world, method, missing, key).json()
            assert RUN not in on_real.text and SECRET not in on_real.text
    assert _state(world) == before


def test_another_projects_key_sees_and_changes_nothing_of_the_owners(world: World) -> None:
    before = _state(world)
    for method, path, names_a_run in ROUTES:
        for params in ({}, {"project": world.name}):  # naming the owner's project: no change
            real, missing = _paths(path)
            on_real = _call(world, method, real, world.other_key, **params)
            where = f"{method} {path} {params}"
            if not names_a_run:
                assert on_real.status_code in ((201, 200) if method == "POST" else (200,)), where
                assert SECRET not in on_real.text and RUN not in on_real.text, where
                continue
            on_missing = _call(world, method, missing, world.other_key, **params)
            assert on_real.status_code == on_missing.status_code == 404, where
            assert on_real.json()["error"]["message"].replace(RUN, "ID") == on_missing.json()[
                "error"
            ]["message"].replace(MISSING, "ID"), where
    # the stranger's own run cannot be compared to the owner's
    compared = _call(
        world, "GET", "/api/v1/experiments/intruders-run", world.other_key, compare=RUN
    )
    assert compared.status_code == 404 and SECRET not in compared.text, compared.text
    assert _state(world) == before
    assert _state(world)[1]["experiment"]["items"][0]["output"] == SECRET


def test_the_admin_token_reads_the_project_it_names(world: World) -> None:
    token = world.admin_token
    for method, path, names_a_run in ROUTES:
        if method != "GET":
            continue
        real, _ = _paths(path)
        answer = _call(world, method, real, token, project=world.name)
        assert answer.status_code == 200, path
        assert RUN in answer.text, path
        if names_a_run:
            assert _call(world, method, real, token).status_code == 404, path  # "default"
