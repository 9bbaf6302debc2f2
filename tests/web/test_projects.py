"""Two projects on one server: neither key sees or touches the other's data, on any route.

Projects and keys are made with the real `lamina` CLI while the server runs (so they go
through the server); data is sent with real OTLP requests; reads use the JSON API.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from tests.conftest import LaminaServer
from tests.support import otlp

pytestmark = pytest.mark.both_stores  # tests/conftest.py


@dataclass
class Tenant:
    project: str
    key: str
    session_id: str
    trace_ids: list[str]
    word: str  # a word only this project's inputs contain


def _make_project(server: LaminaServer, name: str) -> str:
    created = server.cli("projects", "create", name)
    assert created.returncode == 0, created.stderr
    keyed = server.cli("keys", "create", "--project", name)
    assert keyed.returncode == 0, keyed.stderr
    lines = keyed.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("lmn_"), keyed.stdout  # only the key
    return lines[0]


@pytest.fixture(scope="module")
def tenants(server: LaminaServer) -> tuple[Tenant, Tenant]:
    made = []
    shared_session = otlp.uid("same-session-id")  # both projects use this session id
    shared_trace = otlp.new_trace_id()  # and this trace id
    for label in ("alpha", "beta"):
        name = otlp.uid(label)
        key = _make_project(server, name)
        word = otlp.uid(f"secret{label}")
        spans = []
        for turn in range(2):
            turn_spans = otlp.conversation_turn(
                shared_session,
                turn,
                start_ns=time.time_ns(),
                user_id=f"{label}-user",
                extra_root={"input.value": f"{word} question {turn}", "tag.tags": [label]},
            )
            spans += turn_spans
        same = otlp.span(
            shared_trace,
            f"{label}-root",
            attributes={"session.id": f"{label}-{shared_session}", "input.value": word},
        )
        spans.append(same)
        response = otlp.post(server.url, key, otlp.export(spans))
        assert response.status_code == 200, response.text
        trace_ids = [spans[0].trace_id.hex(), spans[2].trace_id.hex(), shared_trace.hex()]
        made.append(Tenant(name, key, shared_session, trace_ids, word))
    return made[0], made[1]


@pytest.mark.parametrize("who", [0, 1])
def test_each_key_sees_only_its_own_project(
    server: LaminaServer, tenants: tuple[Tenant, Tenant], who: int
) -> None:
    me = tenants[who]
    sessions = otlp.api(server, "/api/v1/sessions", key=me.key, limit=500)["items"]
    assert sorted(s["session_id"] for s in sessions) == sorted(
        [me.session_id, f"{me.project.split('-')[0]}-{me.session_id}"]
    )
    session = otlp.api(server, f"/api/v1/sessions/{me.session_id}", key=me.key)
    assert session["trace_count"] == 2  # not 4: the other project's same-named session
    assert session["user_ids"] == [f"{me.project.split('-')[0]}-user"]
    assert me.word in session["first_input"]
    traces = otlp.api(server, "/api/v1/traces", key=me.key, limit=500)["items"]
    assert sorted(t["trace_id"] for t in traces) == sorted(me.trace_ids)
    shared = otlp.api(server, f"/api/v1/traces/{me.trace_ids[2]}", key=me.key)
    assert shared["span_count"] == 1
    assert shared["name"] == f"{me.project.split('-')[0]}-root"


@pytest.mark.parametrize("who", [0, 1])
def test_other_projects_ids_are_404_not_403(
    server: LaminaServer, tenants: tuple[Tenant, Tenant], who: int
) -> None:
    me, other = tenants[who], tenants[1 - who]
    other_only = f"{other.project.split('-')[0]}-{other.session_id}"
    response = otlp.get(server, f"/api/v1/sessions/{other_only}", key=me.key)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    for trace_id in other.trace_ids[:2]:
        response = otlp.get(server, f"/api/v1/traces/{trace_id}", key=me.key)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    # the default project's key sees neither
    for trace_id in me.trace_ids:
        assert otlp.get(server, f"/api/v1/traces/{trace_id}").status_code == 404


@pytest.mark.parametrize("who", [0, 1])
def test_filters_never_reach_into_the_other_project(
    server: LaminaServer, tenants: tuple[Tenant, Tenant], who: int
) -> None:
    me, other = tenants[who], tenants[1 - who]
    other_label = other.project.split("-")[0]
    empty_queries: list[tuple[str, dict[str, str]]] = [
        ("/api/v1/sessions", {"q": other.word}),
        ("/api/v1/sessions", {"user_id": f"{other_label}-user"}),
        ("/api/v1/traces", {"q": other.word}),
        ("/api/v1/traces", {"user_id": f"{other_label}-user"}),
        ("/api/v1/traces", {"session_id": f"{other_label}-{other.session_id}"}),
        ("/api/v1/traces", {"tag": other_label}),
        ("/api/v1/traces", {"name": f"{other_label}-root"}),
    ]
    for path, params in empty_queries:
        assert otlp.api(server, path, key=me.key, **params)["items"] == [], (path, params)
    # the same filters on its own data do find it
    mine = otlp.api(server, "/api/v1/traces", key=me.key, q=me.word)["items"]
    assert sorted(t["trace_id"] for t in mine) == sorted(me.trace_ids)
    mine = otlp.api(server, "/api/v1/traces", key=me.key, session_id=me.session_id)["items"]
    assert len(mine) == 2


def test_writing_with_one_key_never_touches_the_other_project(
    server: LaminaServer, tenants: tuple[Tenant, Tenant]
) -> None:
    alpha, beta = tenants
    before = otlp.api(server, f"/api/v1/traces/{alpha.trace_ids[0]}", key=alpha.key)
    # beta sends spans carrying alpha's trace id and session id
    intruder = otlp.span(
        bytes.fromhex(alpha.trace_ids[0]),
        "intruder",
        attributes={
            "session.id": alpha.session_id,
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 999_999,
        },
        error="injected",
    )
    assert otlp.post(server.url, beta.key, otlp.export([intruder])).status_code == 200
    after = otlp.api(server, f"/api/v1/traces/{alpha.trace_ids[0]}", key=alpha.key)
    assert after == before
    alpha_session = otlp.api(server, f"/api/v1/sessions/{alpha.session_id}", key=alpha.key)
    assert alpha_session["trace_count"] == 2 and alpha_session["error_count"] == 0
    # it landed in beta's own project
    beta_trace = otlp.api(server, f"/api/v1/traces/{alpha.trace_ids[0]}", key=beta.key)
    assert beta_trace["span_count"] == 1 and beta_trace["name"] == "intruder"
