"""Checks (#20) on a real server, both stores: each check on a session built to trigger
it and one built not to, through the dry run (POST /api/v1/evaluators/{id}/test) and
through the runner (the session goes quiet, is judged once, its boolean score cites
the turn, source evaluator:<name>)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import LaminaServer
from tests.support import otlp

pytestmark = pytest.mark.both_stores  # tests/conftest.py
MS = 1_000_000


class Project:
    def __init__(self, server: LaminaServer) -> None:
        self.server = server
        token = (server.data_dir / "admin.token").read_text().strip()
        admin = {"Authorization": f"Bearer {token}"}
        self.name = otlp.uid("eval")
        made = httpx.post(
            server.url + "/api/v1/projects", json={"name": self.name}, headers=admin, timeout=30
        )
        assert made.status_code == 201, made.text
        keyed = httpx.post(
            server.url + "/api/v1/keys",
            json={"project": self.name, "name": "ci"},
            headers=admin,
            timeout=30,
        )
        assert keyed.status_code == 201, keyed.text
        self.key: str = keyed.json()["key"]

    def call(self, method: str, path: str, **options: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}"}
        return httpx.request(method, self.server.url + path, headers=headers, timeout=30, **options)

    def ok(self, method: str, path: str, status: int = 200, **options: Any) -> Any:
        response = self.call(method, path, **options)
        assert response.status_code == status, response.text
        return response.json()

    def send(self, spans: list[Any], session_id: str, turns: int) -> None:
        response = otlp.post(self.server.url, self.key, otlp.export(spans))
        assert response.status_code == 200, response.text
        deadline = time.monotonic() + 10
        while True:
            found = self.call("GET", f"/api/v1/sessions/{session_id}")
            if found.status_code == 200 and found.json()["trace_count"] == turns:
                return
            assert time.monotonic() < deadline, found.text
            time.sleep(0.05)


@pytest.fixture
def project(server: LaminaServer) -> Iterator[Project]:
    yield Project(server)


def turn(
    session_id: str,
    n: int,
    start: int,
    said: str = "",
    answer: str = "",
    meta: dict[str, str] | None = None,
    **options: Any,
) -> list[Any]:
    extra = {"input.value": said or f"question {n}", "output.value": answer or f"answer {n}"}
    extra |= {f"langfuse.trace.metadata.{k}": v for k, v in (meta or {}).items()}
    return otlp.conversation_turn(session_id, n, start_ns=start, extra_root=extra, **options)


def tool(trace_id: bytes, parent: bytes, start: int, name: str, args: str) -> Any:
    return otlp.span(
        trace_id,
        name,
        parent=parent,
        start_ns=start,
        attributes={"lamina.span.type": "TOOL", "input.value": args},
    )


def session(kind: str, trigger: bool) -> tuple[str, list[Any], int]:
    """A session of three turns built to trigger the check ``kind`` (or not): its id,
    spans and the turn (0-based) the check should cite."""
    sid = f"s-{kind}-{trigger}-{uuid.uuid4().hex[:8]}"
    start = time.time_ns() - 3_600 * 1000 * MS
    turns = [turn(sid, n, start + n * 1000 * MS) for n in range(3)]
    cite = 2
    if kind == "error_in_last_turn" and trigger:
        turns[2] = turn(sid, 2, start + 2000 * MS, error="tool crashed")
    elif kind == "user_repeated" and trigger:
        turns[0] = turn(sid, 0, start, said="Where is my order #123?")
        turns[1] = turn(sid, 1, start + 1000 * MS, said="where is my order #123")
        cite = 1
    elif kind == "user_repeated":
        turns[0] = turn(sid, 0, start, said="Where is my order #123?")
        turns[1] = turn(sid, 1, start + 1000 * MS, said="Can I change the address?")
    elif kind == "tool_loop":
        root = turns[1][0]
        args = ['{"q": "x"}', '{"q": "x"}', '{"q": "x"}' if trigger else '{"q": "y"}']
        turns[1] += [
            tool(root.trace_id, root.span_id, start + 1000 * MS + i * MS, "search", a)
            for i, a in enumerate(args)
        ]
        cite = 1 if trigger else 2
    elif kind == "max_cost":  # each turn costs the same: over 2 turns' worth only if trigger
        cite = 1 if trigger else 2
    elif kind == "max_duration":  # the three turns span 2.5 s
        cite = 2
    elif kind == "json_output":
        for n in range(3):
            bad = trigger and n == 1
            answer = "plain words" if bad else f'{{"answer": {n}}}'
            turns[n] = turn(sid, n, start + n * 1000 * MS, answer=answer)
        cite = 1 if trigger else 2
    elif kind == "regex" and trigger:
        turns[1] = turn(sid, 1, start + 1000 * MS, answer="call me at 555-0199")
        cite = 1
    return sid, [span for spans in turns for span in spans], cite


CHECKS: dict[str, dict[str, Any]] = {
    "error_in_last_turn": {},
    "user_repeated": {"similarity": 0.85},
    "tool_loop": {"times": 3},
    "max_cost": {},  # set from the measured cost of a turn
    "max_duration": {},
    "json_output": {},
    "regex": {"pattern": r"\d{3}-\d{4}"},
}


@pytest.mark.parametrize("kind", list(CHECKS))
def test_each_check_on_a_session_that_triggers_it_and_one_that_does_not(
    project: Project, kind: str
) -> None:
    sessions = {trigger: session(kind, trigger) for trigger in (True, False)}
    for sid, spans, _ in sessions.values():
        project.send(spans, sid, 3)
    traces = {
        trigger: [t["trace_id"] for t in project.ok("GET", f"/api/v1/sessions/{sid}")["traces"]]
        for trigger, (sid, _, _) in sessions.items()
    }
    for trigger in (True, False):
        sid, _, cite = sessions[trigger]
        params = dict(CHECKS[kind])
        if kind == "max_cost":
            cost = project.ok("GET", f"/api/v1/sessions/{sid}")["cost"]
            params["max"] = cost * (0.5 if trigger else 1.5)  # passed at turn 2 of 3, or never
        if kind == "max_duration":
            params["seconds"] = 1.0 if trigger else 60.0
        evaluator = project.ok(
            "POST",
            "/api/v1/evaluators",
            201,
            json={
                "name": f"{kind}-{trigger}".lower(),
                "kind": "check",
                "enabled": False,
                "check": {"type": kind, "params": params},
            },
        )
        tried = project.ok(
            "POST", f"/api/v1/evaluators/{evaluator['id']}/test", json={"session_id": sid}
        )
        score = tried["score"]
        assert score["value"] == (1.0 if trigger else 0.0), (trigger, score)
        if kind == "max_duration" and trigger:
            cite = 1  # 1 s is passed by the second turn's end (1.5 s)
        assert score["trace_id"] == traces[trigger][cite], (trigger, score)
        assert score["source"] == f"evaluator:{kind}-{trigger}".lower()
        assert score["session_id"] == sid and score["comment"]
    # nothing was stored by the dry runs
    assert project.ok("GET", "/api/v1/scores")["items"] == []


def test_a_quiet_session_is_judged_once_and_again_after_a_new_turn(
    new_server: Callable[..., LaminaServer],
) -> None:
    project = Project(new_server("--evaluator-poll-ms", "100"))
    sid = f"s-quiet-{uuid.uuid4().hex[:8]}"
    start = time.time_ns() - 3_600 * 1000 * MS
    project.send(turn(sid, 0, start) + turn(sid, 1, start + 1000 * MS, error="boom"), sid, 2)
    evaluator = project.ok(
        "POST",
        "/api/v1/evaluators",
        201,
        json={
            "name": "last-error",
            "kind": "check",
            "quiet_seconds": 1,
            "check": {"type": "error_in_last_turn"},
        },
    )
    # sessions that ended before the evaluator was made are judged by a backfill
    queued = project.ok(
        "POST",
        f"/api/v1/evaluators/{evaluator['id']}/backfill",
        202,
        json={"since": "2000-01-01T00:00:00Z"},
    )
    assert queued == {"queued": 1}
    runs_path = f"/api/v1/evaluators/{evaluator['id']}/runs"
    runs = wait(project, runs_path, lambda items: [r["status"] for r in items] == ["ok"])
    first = runs[0]
    assert first["target_id"] == sid and first["value"] == 1.0 and not first["superseded"]
    scores = project.ok("GET", "/api/v1/scores")["items"]
    assert [(s["name"], s["value"], s["source"]) for s in scores] == [
        ("last-error", 1.0, "evaluator:last-error")
    ]
    trace_ids = [t["trace_id"] for t in project.ok("GET", f"/api/v1/sessions/{sid}")["traces"]]
    assert scores[0]["trace_id"] == trace_ids[1] == first["trace_id"]
    # a new turn (now: after the evaluator was made) without an error: judged again once quiet
    project.send(turn(sid, 2, time.time_ns()), sid, 3)
    runs = wait(
        project,
        runs_path,
        lambda items: (
            [(r["status"], r["superseded"]) for r in items] == [("ok", False), ("ok", True)]
        ),
    )
    newest, older = runs
    assert [newest["status"], older["status"]] == ["ok", "ok"] and newest["value"] == 0.0
    assert older["value"] == 1.0 and older["trace_id"] == trace_ids[1]  # the history
    scores = project.ok("GET", "/api/v1/scores")["items"]
    assert [(s["value"], s["score_id"]) for s in scores] == [(0.0, newest["score_id"])]
    summary = project.ok("GET", f"/api/v1/sessions/{sid}")["score_summary"]
    assert summary["last-error"]["count"] == 1 and summary["last-error"]["avg"] == 0.0


def wait(project: Project, path: str, done: Any, timeout: float = 15) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        items = project.ok("GET", path)["items"]
        if done(items):
            return list(items)
        assert time.monotonic() < deadline, items
        time.sleep(0.1)


def test_each_quiet_trace_is_judged_once_by_a_trace_evaluator(
    new_server: Callable[..., LaminaServer],
) -> None:
    project = Project(new_server("--evaluator-poll-ms", "100"))
    evaluator = project.ok(
        "POST",
        "/api/v1/evaluators",
        201,
        json={
            "name": "json-out",
            "target": "trace",
            "kind": "check",
            "quiet_seconds": 1,
            "filter": {"name": "handle_turn"},
            "check": {"type": "json_output"},
        },
    )
    sid = f"s-traces-{uuid.uuid4().hex[:8]}"
    now = time.time_ns()
    spans = turn(sid, 0, now, answer='{"ok": true}') + turn(sid, 1, now + MS, answer="plain")
    project.send(spans, sid, 2)
    traces = [t["trace_id"] for t in project.ok("GET", f"/api/v1/sessions/{sid}")["traces"]]
    runs_path = f"/api/v1/evaluators/{evaluator['id']}/runs"
    runs = wait(
        project, runs_path, lambda items: len(items) == 2 and {r["status"] for r in items} == {"ok"}
    )
    assert {r["target_id"]: r["value"] for r in runs} == {traces[0]: 0.0, traces[1]: 1.0}
    scores = project.ok("GET", "/api/v1/scores")["items"]
    assert {(s["trace_id"], s["session_id"], s["value"]) for s in scores} == {
        (traces[0], None, 0.0),
        (traces[1], None, 1.0),
    }
    tried = project.ok(
        "POST", f"/api/v1/evaluators/{evaluator['id']}/test", json={"trace_id": traces[1]}
    )
    assert tried["score"]["value"] == 1.0 and tried["score"]["trace_id"] == traces[1]


def test_an_evaluator_that_fails_says_why_and_holds_up_no_other(
    new_server: Callable[..., LaminaServer],
) -> None:
    project = Project(new_server("--evaluator-poll-ms", "100"))
    sid = f"s-failing-{uuid.uuid4().hex[:8]}"
    project.send(turn(sid, 0, time.time_ns() - 3_600 * 1000 * MS), sid, 1)
    llm = {
        "base_url": "http://127.0.0.1:9/v1",
        "model": "m",
        "prompt": "{{transcript}}",
        "score": {"name": "helpfulness"},
    }
    made = [
        project.ok("POST", "/api/v1/evaluators", 201, json=definition)
        for definition in (
            {"name": "judge", "kind": "llm_judge", "llm": llm},
            {**CHECKED, "name": "errors"},
        )
    ]
    for evaluator in made:
        path = f"/api/v1/evaluators/{evaluator['id']}/backfill"
        assert project.ok("POST", path, 202, json={"since": "2000-01-01"}) == {"queued": 1}
    judge, check = (f"/api/v1/evaluators/{evaluator['id']}/runs" for evaluator in made)
    (failed,) = wait(project, judge, lambda items: [r["status"] for r in items] == ["error"])
    # 127.0.0.1 is refused: this server allows judges no private address
    assert "--evaluator-allowed-hosts" in failed["error"] and failed["score_id"] is None
    wait(project, check, lambda items: [r["status"] for r in items] == ["ok"])
    scores = project.ok("GET", "/api/v1/scores")["items"]
    assert [s["source"] for s in scores] == ["evaluator:errors"]


CHECKED = {"kind": "check", "check": {"type": "error_in_last_turn"}}
