"""Authorisation over Laminar's own API (lamina.web.laminar, #24), as
tests/reliability/test_auth.py does for Lamina's: no key, a bad or a revoked key are
401 on every route; another project's key sees none of the owner's datasets,
evaluations, traces or rows, changes none of them (each is a 404, as an id that exists
nowhere is), and what it makes lands in its own project.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from lamina.web.laminar import ids, routes
from tests.conftest import LaminaServer, start_server
from tests.reliability.test_data_lifecycle import send_session
from tests.support import otlp
from tests.support.otlp import IN_PROCESS

DATASET = "owners-cases"
DATAPOINT = "3c1e6f0a-8d2b-4b7e-a5c9-0f1d2e3a4b5c"  # the id the owner's SDK gave its datapoint


@dataclass
class World:
    server: LaminaServer
    key: str
    other_key: str
    revoked_key: str
    eval_id: str
    trace_id: str  # as Laminar writes it: a UUID

    def call(
        self, method: str, path: str, key: str | None, body: Any = None, **params: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        return otlp.client().request(
            method, self.server.url + path, headers=headers, params=params, json=body
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = start_server(tmp_path_factory.mktemp("auth-laminar"), *IN_PROCESS)
    name, key = otlp.new_project(server, "owner")
    _, other_key = otlp.new_project(server, "stranger")
    revoked = otlp.admin(server, "create_key", project=name, name="soon revoked")
    otlp.admin(server, "revoke_key", key_id=revoked["id"])
    (trace_hex,) = send_session(server, key, "owners-session", 1)
    trace_id = str(uuid.UUID(hex=trace_hex))
    world = World(server, key, other_key, revoked["key"], "", trace_id)
    made = world.call("POST", "/v1/evals", key, {"name": "owner's run", "groupName": "g"})
    assert made.status_code == 200, made.text
    world.eval_id = made.json()["id"]
    point = {
        "id": DATAPOINT,
        "index": 0,
        "data": "q",
        "executorOutput": "secret",
        "scores": {"s": 1},
        "traceId": trace_id,
    }
    saved = world.call("POST", f"/v1/evals/{world.eval_id}/datapoints", key, {"points": [point]})
    assert saved.status_code == 200, saved.text
    pushed = world.call(
        "POST",
        "/v1/datasets/datapoints",
        key,
        {"name": DATASET, "datapoints": [{"data": "secret case"}], "createDataset": True},
    )
    assert pushed.status_code == 201, pushed.text
    server.wait_for(f"/api/v1/traces/{trace_hex}", lambda t: t["span_count"] == 2, key=key)
    tagged = world.call("POST", "/v1/tag", key, {"traceId": trace_id, "names": ["owners"]})
    assert tagged.status_code == 200, tagged.text
    yield world
    server.kill()


@pytest.mark.parametrize("who", ["no key", "bad key", "revoked key"])
def test_every_route_refuses_a_caller_without_a_live_key(world: World, who: str) -> None:
    key = {"no key": None, "bad key": "lmn_not-a-key", "revoked key": world.revoked_key}[who]
    for route in routes:
        path: str = route.path  # type: ignore[attr-defined]
        if path.startswith("/project/"):
            continue  # the results link, a page: the page it leads to asks for sign-in
        path = path.replace("{eval_id}", world.eval_id).replace("{datapoint_id}", "d")
        path = path.replace("{session_id}", "s")
        for method in route.methods or ():  # type: ignore[attr-defined]
            if method != "HEAD":
                answer = world.call(method, path, key, {} if method != "GET" else None)
                assert answer.status_code == 401, (method, path, answer.text)
                assert answer.json()["error"]["code"] == "unauthorized"


def test_another_projects_key_sees_none_of_the_owners(world: World) -> None:
    other = world.other_key
    assert world.call("GET", "/v1/datasets", other).json() == []
    assert world.call("GET", "/v1/datasets", other, name=DATASET).json() == []
    owners = ids.dataset_uuid(_project(world), DATASET)
    for params in ({"name": DATASET}, {"datasetId": owners}):
        pulled = world.call("GET", "/v1/datasets/datapoints", other, **params)
        assert pulled.status_code == 404, pulled.text
    rows = world.call(
        "POST", "/v1/sql/query", other, {"query": "SELECT id, top_span_name FROM traces"}
    )
    assert rows.status_code == 200 and rows.json() == {"data": []}
    mine = world.call("POST", "/v1/sql/query", world.key, {"query": "SELECT id FROM traces"})
    assert mine.json() == {"data": [{"id": world.trace_id}]}


def test_another_projects_key_changes_none_of_the_owners(world: World) -> None:
    other = world.other_key
    eval_id = world.eval_id
    point = {"index": 0, "data": "q", "executorOutput": "taken", "scores": {"s": 0}}
    assert world.call("POST", f"/v1/evals/{eval_id}", other, {}).status_code == 404
    assert (
        world.call(
            "POST", f"/v1/evals/{eval_id}/datapoints", other, {"points": [point]}
        ).status_code
        == 404
    )
    update = {"executorOutput": "taken", "scores": {"s": 0}}
    path = f"/v1/evals/{eval_id}/datapoints/{DATAPOINT}"
    assert world.call("POST", path, other, update).status_code == 404
    owners = ids.dataset_uuid(_project(world), DATASET)
    pushed = world.call(
        "POST",
        "/v1/datasets/datapoints",
        other,
        {"datasetId": owners, "datapoints": [{"data": "x"}]},
    )
    assert pushed.status_code == 404
    for method in ("GET", "DELETE"):
        answer = world.call(method, f"/v1/datasets/{owners}", other)
        assert answer.status_code == 404, answer.text
    for path, body in (
        ("/v1/tag", {"traceId": world.trace_id, "names": ["intruder"]}),
        ("/v1/traces/metadata", {"traceId": world.trace_id, "metadata": {"by": "intruder"}}),
    ):
        answer = world.call("POST", path, other, body)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    # a score by the owner's span's id finds no span; by its trace's id it is the other
    # project's own score (a score may name a trace not stored yet), not the owner's
    trace_hex = uuid.UUID(world.trace_id).hex
    span_id = world.server.api(f"/api/v1/traces/{trace_hex}", key=world.key)["spans"][0]["span_id"]
    span_uuid = str(uuid.UUID(hex=span_id.rjust(32, "0")))
    scored = world.call(
        "POST", "/v1/evaluators/score", other, {"name": "i", "score": 0, "spanId": span_uuid}
    )
    assert scored.status_code == 404 and scored.json()["error"]["code"] == "not_found"
    body = {"name": "intruder", "score": 0, "traceId": world.trace_id}
    assert world.call("POST", "/v1/evaluators/score", other, body).status_code == 200
    # the same dataset name made by the other key is its own project's
    made = world.call(
        "POST",
        "/v1/datasets/datapoints",
        other,
        {"name": DATASET, "datapoints": [{"data": "its own"}], "createDataset": True},
    )
    assert made.status_code == 201 and made.json()["datasetId"] != owners
    server = world.server
    run = server.api(f"/api/v1/experiments/{eval_id}", key=world.key)["experiment"]
    assert [(i["output"], i["scores"]) for i in run["items"]] == [("secret", {"s": 1.0})]
    items = server.api(f"/api/v1/datasets/{DATASET}/items", key=world.key)["items"]
    assert [i["input"] for i in items] == ["secret case"]
    trace = server.api(f"/api/v1/traces/{uuid.UUID(world.trace_id).hex}", key=world.key)
    assert trace["tags"] == ["owners"] and "by" not in trace["metadata"]
    owners_scores = server.api("/api/v1/scores", key=world.key, trace_id=trace_hex)["items"]
    assert "intruder" not in {s["name"] for s in owners_scores}
    theirs = server.api("/api/v1/scores", key=other, trace_id=trace_hex)["items"]
    assert [s["name"] for s in theirs] == ["intruder"]


def _project(world: World) -> str:
    """The owner's project id (what its datasets' Laminar ids are made from)."""
    made = world.call("POST", "/v1/evals", world.key, {})
    assert made.status_code == 200
    projects = otlp.admin(world.server, "list_projects")
    return next(p["id"] for p in projects if ids.project_uuid(p["id"]) == made.json()["projectId"])
