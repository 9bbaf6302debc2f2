"""Authorisation over the dataset routes (#22), as tests/reliability/test_auth.py does for
the others: no key, a bad or revoked key are 401 everywhere; another project's key sees
no dataset or item of the owner's, changes none, cannot make an item from the owner's
sessions or traces, and gets for the owner's dataset and item the answer a name that
exists nowhere gets; the admin token reads the project it names. (Deleting a project
deletes its datasets: tests/store/test_datasets_contract.py.)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from lamina.web import datasets
from tests.conftest import LaminaServer, start_server
from tests.reliability.test_data_lifecycle import send_session
from tests.support import otlp
from tests.support.otlp import IN_PROCESS

DATASET = "owners-cases"
ITEM = "owners-item"
MISSING = "no-such-thing"
ROUTES = [
    ("GET", "/api/v1/datasets", None),
    ("POST", "/api/v1/datasets", None),
    ("GET", "/api/v1/datasets/{name}", "dataset"),
    ("DELETE", "/api/v1/datasets/{name}", "dataset"),
    ("GET", "/api/v1/datasets/{name}/items", "dataset"),
    ("GET", "/api/v1/datasets/{name}/items?format=jsonl", "dataset"),
    ("POST", "/api/v1/datasets/{name}/items", "dataset"),
    ("PATCH", "/api/v1/datasets/{name}/items/{item_id}", "item"),
    ("DELETE", "/api/v1/datasets/{name}/items/{item_id}", "item"),
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
    trace_id: str


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _call(
    world: World, method: str, path: str, key: str | None, body: Any = None, **params: Any
) -> Any:
    headers = _bearer(key) if key is not None else {}
    if body is None and method in ("POST", "PATCH"):
        body = _body(path)
    content = orjson.dumps(body) if body is not None else None
    return otlp.client().request(
        method, world.server.url + path, headers=headers, params=params, content=content
    )


def _body(path: str) -> dict[str, Any]:
    if path == "/api/v1/datasets":
        return {"name": "intruders-cases", "description": "the intruder's"}
    return {"input": "intrusion"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = start_server(tmp_path_factory.mktemp("auth-datasets"), *IN_PROCESS)
    name, key = otlp.new_project(server, "owner")
    _, other_key = otlp.new_project(server, "stranger")
    revoked = otlp.admin(server, "create_key", project=name, name="soon revoked")
    otlp.admin(server, "revoke_key", key_id=revoked["id"])
    session_id = otlp.uid("secret-session")
    (trace_id, _) = send_session(server, key, session_id, 2)
    world = World(
        server,
        name,
        key,
        other_key,
        revoked["key"],
        (server.data_dir / "admin.token").read_text().strip(),
        session_id,
        trace_id,
    )
    made = _call(world, "POST", "/api/v1/datasets", key, {"name": DATASET})
    assert made.status_code == 201, made.text
    item = {"from_session": session_id, "up_to_turn": 2, "item_id": ITEM}
    added = _call(world, "POST", f"/api/v1/datasets/{DATASET}/items", key, item)
    assert added.status_code == 201, added.text
    yield world
    server.kill()


def _state(world: World) -> Any:
    mine = world.key
    return (
        _call(world, "GET", "/api/v1/datasets", mine).json()["items"],
        _call(world, "GET", f"/api/v1/datasets/{DATASET}/items", mine).json()["items"],
    )


def test_the_routes_are_all_here() -> None:
    listed = {(method, path.split("?")[0]) for method, path, _ in ROUTES}
    for route in datasets.routes:
        for method in route.methods or ():  # type: ignore[attr-defined]
            if method != "HEAD":
                assert (method, route.path) in listed, f"{method} {route.path}"  # type: ignore[attr-defined]


def _paths(path: str, kind: str | None) -> tuple[str, str]:
    """The route with the owner's names, and with names that exist nowhere (an item: in
    the owner's dataset)."""
    if kind == "dataset":
        return path.replace("{name}", DATASET), path.replace("{name}", MISSING)
    if kind == "item":
        real = path.replace("{name}", DATASET)
        return real.replace("{item_id}", ITEM), real.replace("{item_id}", MISSING)
    return path, path


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
            real, missing = _paths(path, kind)
            on_real = _call(world, method, real, key)
            on_missing = _call(world, method, missing, key)
            assert on_real.status_code == 401, f"{label}: {method} {path}"
            assert on_real.json() == on_missing.json()
            assert DATASET not in on_real.text and ITEM not in on_real.text
    assert _state(world) == before


def test_another_projects_key_sees_and_changes_nothing_of_the_owners(world: World) -> None:
    before = _state(world)
    for method, path, kind in ROUTES:
        for params in ({}, {"project": world.name}):  # naming the owner's project: no change
            real, missing = _paths(path, kind)
            on_real = _call(world, method, real, world.other_key, **params)
            where = f"{method} {path} {params}"
            if kind is None:
                # lists the stranger's own; a POST makes one in the stranger's project
                assert on_real.status_code in ((201, 200) if method == "POST" else (200,)), where
                assert ITEM not in on_real.text and "the owner" not in on_real.text, where
                continue
            on_missing = _call(world, method, missing, world.other_key, **params)
            assert on_real.status_code == on_missing.status_code == 404, where
            real_id, missing_id = (DATASET, MISSING) if kind == "dataset" else (ITEM, MISSING)
            assert on_real.json()["error"]["message"].replace(real_id, "ID") == on_missing.json()[
                "error"
            ]["message"].replace(missing_id, "ID"), where
    # the stranger's own dataset of the owner's name cannot take the owner's data either
    mine = _call(world, "POST", "/api/v1/datasets", world.other_key, {"name": DATASET})
    assert mine.status_code == 201, mine.text
    for made_from in ({"from_session": world.session_id}, {"from_trace": world.trace_id}):
        answer = _call(
            world, "POST", f"/api/v1/datasets/{DATASET}/items", world.other_key, made_from
        )
        assert answer.status_code == 404, answer.text
        assert "question" not in answer.text and "answer" not in answer.text
    stranger = _call(world, "GET", f"/api/v1/datasets/{DATASET}/items", world.other_key).json()
    assert stranger["items"] == []
    assert _state(world) == before
    assert _state(world)[1][0]["item_id"] == ITEM


def test_the_admin_token_reads_the_project_it_names(world: World) -> None:
    token = world.admin_token
    for method, path, kind in ROUTES:
        if method != "GET":
            continue
        real, _ = _paths(path, kind)
        answer = _call(world, method, real, token, project=world.name)
        assert answer.status_code == 200, path
        if kind is not None:
            assert ITEM in answer.text or DATASET in answer.text, path
            assert _call(world, method, real, token).status_code == 404, path  # "default"
