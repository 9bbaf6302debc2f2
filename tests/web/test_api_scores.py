"""Scores through the JSON API (#19), on a real server: given before and after the spans
arrive, summarised on sessions and traces (averages computed here, unknown left out),
filtered and sorted by, checked against score configs, idempotent by score_id, a
session ended with its outcome, deleted with their session, and carried by an export
into another project.

Each test makes a project of its own (with the admin token, over HTTP) on the shared
server, so the tests do not see each other's data.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import mean
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import LaminaServer
from tests.support import otlp

pytestmark = pytest.mark.both_stores  # tests/conftest.py


@dataclass
class Project:
    server: LaminaServer
    name: str
    key: str

    def call(self, method: str, path: str, **options: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}", **options.pop("headers", {})}
        return httpx.request(method, self.server.url + path, headers=headers, timeout=30, **options)

    def ok(self, method: str, path: str, status: int = 200, **options: Any) -> Any:
        response = self.call(method, path, **options)
        assert response.status_code == status, response.text
        return response.json()

    def send(self, session_id: str, turns: int, ago_s: float = 0) -> list[str]:
        """``turns`` traces of the session, started ``ago_s`` seconds ago (each ends
        half a second after it starts); their ids."""
        spans = []
        for turn in range(turns):
            start_ns = time.time_ns() - int(ago_s * 1e9)
            spans += otlp.conversation_turn(session_id, turn, start_ns=start_ns)
        response = otlp.post(self.server.url, self.key, otlp.export(spans))
        assert response.status_code == 200, response.text
        trace_ids = [s.trace_id.hex() for s in spans if not s.parent_span_id]
        self.wait_session(session_id, turns)
        return trace_ids

    def wait_session(self, session_id: str, turns: int) -> dict[str, Any]:
        deadline = time.monotonic() + 10
        while True:
            response = self.call("GET", f"/api/v1/sessions/{session_id}")
            if response.status_code == 200 and response.json()["trace_count"] == turns:
                found: dict[str, Any] = response.json()
                return found
            assert time.monotonic() < deadline, response.text
            time.sleep(0.05)


def admin(server: LaminaServer) -> dict[str, str]:
    token = (server.data_dir / "admin.token").read_text().strip()
    return {"Authorization": f"Bearer {token}"}


def new_project(server: LaminaServer) -> Project:
    name = otlp.uid("scores")
    made = httpx.post(
        server.url + "/api/v1/projects", json={"name": name}, headers=admin(server), timeout=30
    )
    assert made.status_code == 201, made.text
    keyed = httpx.post(
        server.url + "/api/v1/keys",
        json={"project": name, "name": "feedback-bot"},
        headers=admin(server),
        timeout=30,
    )
    assert keyed.status_code == 201, keyed.text
    return Project(server, name, keyed.json()["key"])


@pytest.fixture
def project(server: LaminaServer) -> Project:
    return new_project(server)


def _summary(values: list[float | None], labels: list[str] | None = None) -> dict[str, Any]:
    counted = [v for v in values if v is not None]
    found = {"avg": pytest.approx(mean(counted)) if counted else None, "count": len(values)}
    return {**found, "labels": sorted(set(labels))} if labels else found


def test_a_score_given_before_the_spans_shows_once_they_arrive(project: Project) -> None:
    session_id = otlp.uid("early")
    given = project.ok(
        "POST",
        "/api/v1/scores",
        201,
        json={"name": "helpful", "value": 0.75, "session_id": session_id, "comment": "kind"},
    )["score"]
    assert given["author"] == "feedback-bot" and given["source"] == "api"
    assert given["created_at"].endswith("Z") and given["comment"] == "kind"
    listed = project.ok("GET", "/api/v1/scores", params={"session_id": session_id})["items"]
    assert [s["score_id"] for s in listed] == [given["score_id"]]
    missing = project.call("GET", f"/api/v1/sessions/{session_id}")
    assert missing.status_code == 404

    trace_ids = project.send(session_id, 2)
    late = project.ok(
        "POST",
        "/api/v1/scores",
        201,
        json={"name": "helpful", "value": 0.25, "trace_id": trace_ids[0]},
    )["score"]
    session = project.ok("GET", f"/api/v1/sessions/{session_id}")
    assert {s["score_id"] for s in session["scores"]} == {given["score_id"], late["score_id"]}
    # a detail's scores read as the scores list gives them (created_at, not created_ns)
    listed = project.ok("GET", "/api/v1/scores", params={"session_id": session_id})["items"]
    assert session["scores"] == listed
    assert session["score_summary"] == {"helpful": _summary([0.75, 0.25])}
    assert session["status"] == "active" and session["ended_at"] is None
    trace = project.ok("GET", f"/api/v1/traces/{trace_ids[0]}")
    assert trace["score_summary"] == {"helpful": _summary([0.25])}
    assert [s["score_id"] for s in trace["scores"]] == [late["score_id"]]
    listed_sessions = project.ok("GET", "/api/v1/sessions")["items"]
    assert listed_sessions[0]["score_summary"] == session["score_summary"]


def test_summaries_against_a_reference_unknown_never_averaged(project: Project) -> None:
    session_id = otlp.uid("judged")
    trace_ids = project.send(session_id, 3)
    given: list[dict[str, Any]] = [
        {"name": "quality", "value": 0.5, "session_id": session_id},
        {"name": "quality", "value": 1.0, "trace_id": trace_ids[0]},
        {"name": "quality", "value": 0.0, "trace_id": trace_ids[1]},
        {"name": "outcome", "label": "success", "session_id": session_id},
        {"name": "outcome", "label": "unknown", "session_id": session_id},
        {"name": "outcome", "label": "partial", "trace_id": trace_ids[2]},
    ]
    answer = project.ok("POST", "/api/v1/scores", 201, json={"scores": given})["scores"]
    assert [s["value"] for s in answer[3:]] == [1.0, None, 0.5]
    session = project.ok("GET", f"/api/v1/sessions/{session_id}")
    assert session["score_summary"] == {
        "quality": _summary([0.5, 1.0, 0.0]),
        "outcome": _summary([1.0, None, 0.5], ["success", "unknown", "partial"]),
    }
    traces = project.ok("GET", "/api/v1/traces", params={"session_id": session_id})["items"]
    by_id = {t["trace_id"]: t["score_summary"] for t in traces}
    assert by_id[trace_ids[0]] == {"quality": _summary([1.0])}
    assert by_id[trace_ids[2]] == {"outcome": _summary([0.5], ["partial"])}


def test_filters_and_sorts_by_score_match_a_reference(project: Project) -> None:
    values = {"a": [0.9, 0.7], "b": [0.2], "c": [0.5, 0.6, 0.4], "d": []}
    ids = {label: otlp.uid(f"s{label}") for label in values}
    for label, session_id in ids.items():
        project.send(session_id, 1)
        scores = [{"name": "quality", "value": v, "session_id": session_id} for v in values[label]]
        if scores:
            project.ok("POST", "/api/v1/scores", 201, json={"scores": scores})
    project.ok(
        "POST",
        "/api/v1/scores",
        201,
        json={"name": "outcome", "label": "failure", "session_id": ids["b"]},
    )
    averages = {ids[k]: mean(v) for k, v in values.items() if v}

    def sessions(*params: tuple[str, str]) -> list[str]:
        return [
            s["session_id"]
            for s in project.ok("GET", "/api/v1/sessions", params=list(params))["items"]
        ]

    assert set(sessions(("score", "quality>=0.5"))) == {s for s, a in averages.items() if a >= 0.5}
    assert set(sessions(("score", "quality<0.5"))) == {s for s, a in averages.items() if a < 0.5}
    assert set(sessions(("score", "quality!=0.2"))) == {s for s, a in averages.items() if a != 0.2}
    assert set(sessions(("has_score", "quality"))) == set(averages)
    assert sessions(("score", "outcome=failure")) == [ids["b"]]
    both = sessions(("score", "quality>0.1"), ("score", "quality<0.6"))
    assert set(both) == {s for s, a in averages.items() if 0.1 < a < 0.6}
    ranked = sorted(averages, key=averages.__getitem__)
    assert sessions(("sort", "score:quality"), ("order", "asc")) == [*ranked, ids["d"]]
    assert sessions(("sort", "score:quality"), ("order", "desc")) == [*ranked[::-1], ids["d"]]
    # a page at a time, through the cursor
    first = project.ok(
        "GET", "/api/v1/sessions", params={"sort": "score:quality", "order": "asc", "limit": 2}
    )
    rest = project.ok(
        "GET",
        "/api/v1/sessions",
        params={
            "sort": "score:quality",
            "order": "asc",
            "limit": 2,
            "cursor": first["next_cursor"],
        },
    )
    paged = [s["session_id"] for s in first["items"] + rest["items"]]
    assert paged == [*ranked, ids["d"]]
    traces = project.ok("GET", "/api/v1/traces", params={"has_score": "quality"})["items"]
    assert traces == []  # the scores are on the sessions, not their traces
    for bad in ("quality", "quality>>1", "outcome<success", "=1"):
        response = project.call("GET", "/api/v1/sessions", params={"score": bad})
        assert response.status_code == 400, bad
        assert "score" in response.json()["error"]["message"]


def test_configs_are_checked_and_scores_against_them(project: Project) -> None:
    def config(body: dict[str, Any]) -> httpx.Response:
        return project.call("POST", "/api/v1/score-configs", json=body)

    bad = [
        ({"name": "tone", "type": "categorical"}, "categories"),
        (
            {"name": "tone", "type": "categorical", "categories": [{"label": "x", "value": 1}] * 2},
            "twice",
        ),
        ({"name": "rating", "type": "numeric", "min": 5, "max": 1}, "min"),
        ({"name": "rating", "type": "stars"}, "type"),
        ({"name": "outcome", "type": "numeric"}, "built in"),
        ({"name": "", "type": "numeric"}, "name"),
    ]
    for body, said in bad:
        response = config(body)
        assert response.status_code == 400, body
        assert said in response.json()["error"]["message"], response.text
    assert project.call("DELETE", "/api/v1/score-configs/outcome").status_code == 400

    assert config({"name": "rating", "type": "numeric", "min": 1, "max": 5}).status_code == 201
    assert config({"name": "thumbs", "type": "boolean"}).status_code == 201
    tone = {
        "name": "tone",
        "type": "categorical",
        "categories": [{"label": "warm", "value": 1}, {"label": "cold", "value": 0}],
        "description": "How it sounded",
    }
    assert config(tone).status_code == 201
    names = [c["name"] for c in project.ok("GET", "/api/v1/score-configs")["items"]]
    assert names == ["outcome", "rating", "thumbs", "tone"]

    session_id = otlp.uid("checked")
    wrong = [
        ({"name": "rating", "value": 9}, "at most 5"),
        ({"name": "rating", "label": "good"}, "numeric"),
        ({"name": "thumbs", "value": 0.5}, "true or false"),
        ({"name": "tone", "label": "hot"}, "warm, cold"),
        ({"name": "outcome", "label": "great"}, "success"),
        ({"name": "free", "value": "high"}, "number"),
        ({"name": "free"}, "number"),
        ({"name": "free", "value": 1, "source": "ui"}, "source"),
    ]
    for body, said in wrong:
        response = project.call("POST", "/api/v1/scores", json={**body, "session_id": session_id})
        assert response.status_code == 400, body
        assert said in response.json()["error"]["message"], response.text
    for ids, said in (
        ({"trace_id": session_id}, "32 hex digits"),
        ({"trace_id": "A" * 32, "span_id": "xyz"}, "16 hex digits"),
        ({"session_id": session_id, "span_id": "a" * 16}, "trace_id"),
    ):
        response = project.call("POST", "/api/v1/scores", json={"name": "free", "value": 1, **ids})
        assert response.status_code == 400 and said in response.text, response.text
    nowhere = project.call("POST", "/api/v1/scores", json={"name": "free", "value": 1})
    assert nowhere.status_code == 400 and "session_id" in nowhere.text
    batch = [{"name": "free", "value": 1, "session_id": session_id}] * 2 + [{"name": "tone"}]
    response = project.call("POST", "/api/v1/scores", json={"scores": batch})
    assert response.status_code == 400 and "scores[2]" in response.text
    too_many = project.call("POST", "/api/v1/scores", json={"scores": batch[:1] * 1001})
    assert too_many.status_code == 400 and "1000" in too_many.text
    assert project.ok("GET", "/api/v1/scores", params={"session_id": session_id})["items"] == []

    good = [
        {"name": "rating", "value": 4},
        {"name": "thumbs", "value": True},
        {"name": "thumbs", "value": "false"},
        {"name": "tone", "label": "cold"},
        {"name": "free", "value": -3.5, "source": "evaluator:judge-1"},
    ]
    made = project.ok(
        "POST",
        "/api/v1/scores",
        201,
        json={"scores": [{**g, "session_id": session_id} for g in good]},
    )["scores"]
    assert [(s["value"], s["label"]) for s in made] == [
        (4.0, None),
        (1.0, None),
        (0.0, None),
        (0.0, "cold"),
        (-3.5, None),
    ]
    assert made[-1]["source"] == "evaluator:judge-1"
    deleted = project.ok("DELETE", "/api/v1/score-configs/tone")["deleted"]
    assert deleted["name"] == "tone"
    assert project.call("DELETE", "/api/v1/score-configs/tone").status_code == 404


def test_a_changed_config_checks_the_very_next_score(project: Project) -> None:
    """A score is checked against the configs the store keeps in memory: a change of
    config applies to the next score given, never a copy from before it."""
    session_id = otlp.uid("rechecked")
    score = {"name": "grade", "value": 7, "session_id": session_id}

    def config(most: int) -> None:
        body = {"name": "grade", "type": "numeric", "max": most}
        project.ok("POST", "/api/v1/score-configs", 201, json=body)

    for _ in range(3):
        config(10)
        project.ok("POST", "/api/v1/scores", 201, json=score)
        config(5)
        refused = project.call("POST", "/api/v1/scores", json=score)
        assert refused.status_code == 400 and "at most 5" in refused.text, refused.text
        project.ok("DELETE", "/api/v1/score-configs/grade")
        project.ok("POST", "/api/v1/scores", 201, json=score)  # no config: numeric
    listed = project.ok("GET", "/api/v1/scores", params={"session_id": session_id})["items"]
    assert len(listed) == 6


def test_a_score_id_sent_again_is_not_a_second_score(project: Project) -> None:
    session_id = otlp.uid("retried")
    batch = [
        {
            "score_id": uuid.uuid4().hex,
            "name": "q",
            "value": n,
            "session_id": session_id,
            "source": "sdk",
        }
        for n in range(3)
    ]
    for _ in range(3):  # a client retrying a batch it never saw answered
        project.ok("POST", "/api/v1/scores", 201, json={"scores": batch})
    listed = project.ok("GET", "/api/v1/scores", params={"session_id": session_id})["items"]
    assert sorted(s["score_id"] for s in listed) == sorted(s["score_id"] for s in batch)
    assert {s["source"] for s in listed} == {"sdk"}
    project.send(session_id, 1)
    session = project.ok("GET", f"/api/v1/sessions/{session_id}")
    assert session["score_summary"] == {"q": _summary([0, 1, 2])}


def test_ending_a_session_with_its_outcome(project: Project) -> None:
    session_id = otlp.uid("ending")
    project.send(session_id, 1)
    other = otlp.uid("running")
    project.send(other, 1)
    ended = project.ok("POST", f"/api/v1/sessions/{session_id}/end", json={"outcome": "failure"})
    assert ended["outcome"]["name"] == "outcome" and ended["outcome"]["label"] == "failure"
    session = project.ok("GET", f"/api/v1/sessions/{session_id}")
    assert session["status"] == "ended" and session["ended_at"] is not None
    assert session["score_summary"] == {"outcome": {"avg": 0.0, "count": 1, "labels": ["failure"]}}
    statuses = {
        status: [
            s["session_id"]
            for s in project.ok("GET", "/api/v1/sessions", params={"status": status})["items"]
        ]
        for status in ("active", "ended")
    }
    assert statuses == {"active": [other], "ended": [session_id]}
    again = project.ok("POST", f"/api/v1/sessions/{other}/end")
    assert again["outcome"] is None
    bad = project.call("POST", f"/api/v1/sessions/{other}/end", json={"outcome": "meh"})
    assert bad.status_code == 400 and "success" in bad.text
    assert project.call("GET", "/api/v1/sessions", params={"status": "idle"}).status_code == 400


def test_configs_and_session_ends_written_at_once_all_succeed(project: Project) -> None:
    """Concurrent writes of the same configs and ends of the same sessions are each
    answered as they would be alone (DuckDB refuses a transaction whose row another
    changed meanwhile: the store serialises these writes)."""
    answers: list[int] = []

    def write(number: int) -> None:
        with httpx.Client(base_url=project.server.url, timeout=30) as client:
            headers = {"Authorization": f"Bearer {project.key}"}
            for n in range(6):
                config = {"name": f"shared-{n % 2}", "type": "numeric", "min": 0, "max": number}
                made = client.post("/api/v1/score-configs", json=config, headers=headers)
                ended = client.post(
                    f"/api/v1/sessions/ends-{n % 2}/end",
                    json={"outcome": "success"},
                    headers=headers,
                )
                answers.extend([made.status_code, ended.status_code])

    threads = [threading.Thread(target=write, args=(number + 1,)) for number in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answers) == [200] * 36 + [201] * 36, answers
    names = {c["name"] for c in project.ok("GET", "/api/v1/score-configs")["items"]}
    assert {"shared-0", "shared-1"} <= names


def test_the_idle_timeout_is_a_project_setting(project: Project) -> None:
    session_id = otlp.uid("idle")
    ten_minutes_ago = time.time_ns() - 10 * 60 * 1_000_000_000
    spans = otlp.conversation_turn(session_id, 0, start_ns=ten_minutes_ago)
    assert otlp.post(project.server.url, project.key, otlp.export(spans)).status_code == 200
    session = project.wait_session(session_id, 1)
    assert (session["status"], session["ended_at"]) == ("active", None)  # 30 minutes
    url = f"{project.server.url}/api/v1/projects/{project.name}"
    changed = httpx.patch(url, json={"session_idle_minutes": 5}, headers=admin(project.server))
    assert changed.status_code == 200 and changed.json()["session_idle_minutes"] == 5
    session = project.ok("GET", f"/api/v1/sessions/{session_id}")
    assert session["status"] == "ended"
    ended = datetime.fromisoformat(session["ended_at"])
    last_end = datetime.fromisoformat(session["end_time"])
    assert ended - last_end == timedelta(minutes=5)
    listed = project.ok("GET", "/api/v1/sessions", params={"status": "ended"})["items"]
    assert [s["session_id"] for s in listed] == [session_id]
    for bad in (0, 10081, "5", None):
        refused = httpx.patch(
            url, json={"session_idle_minutes": bad}, headers=admin(project.server)
        )
        assert refused.status_code == 400, bad
    assert httpx.patch(url, json={}, headers=admin(project.server)).status_code == 400
    by_key = httpx.patch(
        url, json={"session_idle_minutes": 5}, headers={"Authorization": f"Bearer {project.key}"}
    )
    assert by_key.status_code == 403


def test_deleting_a_session_or_score_deletes_its_scores(project: Project) -> None:
    session_id = otlp.uid("doomed")
    trace_ids = project.send(session_id, 2)
    scores = [
        {"name": "q", "value": 1, "session_id": session_id},
        {"name": "q", "value": 0, "trace_id": trace_ids[1]},
        {"name": "q", "value": 0, "trace_id": trace_ids[0], "span_id": "00000000000000aa"},
    ]
    made = project.ok("POST", "/api/v1/scores", 201, json={"scores": scores})["scores"]
    one = made[0]["score_id"]
    assert project.ok("DELETE", f"/api/v1/scores/{one}")["deleted"]["score_id"] == one
    assert project.call("DELETE", f"/api/v1/scores/{one}").status_code == 404
    assert len(project.ok("GET", "/api/v1/scores", params={"session_id": session_id})["items"]) == 2
    project.ok("DELETE", f"/api/v1/sessions/{session_id}")
    assert project.ok("GET", "/api/v1/scores")["items"] == []


def test_export_and_import_carry_the_scores(project: Project, server: LaminaServer) -> None:
    session_id = otlp.uid("moved")
    trace_ids = project.send(session_id, 2)
    scores = [
        {"name": "q", "value": 0.5, "session_id": session_id, "comment": "fine"},
        {"name": "outcome", "label": "unknown", "session_id": session_id},
        {"name": "q", "value": 1, "trace_id": trace_ids[1]},
    ]
    project.ok("POST", "/api/v1/scores", 201, json={"scores": scores})
    exported = project.call("GET", "/api/v1/export")
    assert exported.status_code == 200
    lines = exported.content.splitlines()
    assert b'"scores":3' in lines[-1]
    target = new_project(server)
    imported = target.ok(
        "POST",
        "/api/v1/import",
        content=exported.content,
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert imported["scores"] == 3 and imported["traces"] == 2

    def listed(p: Project) -> list[dict[str, Any]]:
        return sorted(p.ok("GET", "/api/v1/scores")["items"], key=lambda s: s["score_id"])

    assert listed(target) == listed(project)
    session = target.wait_session(session_id, 2)
    assert (
        session["score_summary"]
        == project.ok("GET", f"/api/v1/sessions/{session_id}")["score_summary"]
    )
    # importing again adds nothing
    target.ok("POST", "/api/v1/import", content=exported.content)
    assert len(listed(target)) == 3


def test_an_import_is_checked_as_given_scores_are_and_only_the_admin_token_imports_ui(
    project: Project, server: LaminaServer
) -> None:
    """An import's score lines are checked against the project's configs, as
    POST /api/v1/scores checks a score; a key cannot import a score that says a person
    gave it in the browser (source ui); a refused import stores none of its spans."""
    config = {"name": "rating", "type": "numeric", "min": 0, "max": 1}
    project.ok("POST", "/api/v1/score-configs", 201, json=config)
    session_id = otlp.uid("imported")
    project.send(session_id, 1)
    exported = project.call("GET", "/api/v1/export").content
    target = new_project(server)
    target.ok("POST", "/api/v1/score-configs", 201, json=config)
    ndjson = {"Content-Type": "application/x-ndjson"}

    def line(**fields: Any) -> bytes:
        given = {"kind": "score", "score_id": otlp.uid("s"), "session_id": session_id}
        return orjson.dumps({**given, "created_ns": time.time_ns(), **fields})

    for bad, why in (
        (line(name="rating", value=5), "rating must be at most 1"),
        (line(name="outcome", label="great"), "outcome has no label 'great'"),
        (line(name="rating", value=1, source="ui", author="ann@example.com"), "admin token"),
    ):
        body = exported.rstrip(b"\n") + b"\n" + bad
        refused = target.call("POST", "/api/v1/import", content=body, headers=ndjson)
        assert refused.status_code == 400 and why in refused.text, refused.text
    assert target.ok("GET", "/api/v1/scores")["items"] == []
    assert target.ok("GET", "/api/v1/traces")["items"] == []
    # the admin token imports it as given (the demo's reviewer, `lamina import`); a
    # categorical score's value is the config's for its label
    body = line(name="rating", value=1, source="ui", author="ann@example.com")
    body += b"\n" + line(name="outcome", label="partial", value=0.0, source="sdk")
    imported = httpx.post(
        server.url + "/api/v1/import",
        params={"project": target.name},
        content=body,
        headers={**admin(server), **ndjson},
        timeout=30,
    )
    assert imported.status_code == 200 and imported.json()["scores"] == 2, imported.text
    listed = {s["name"]: s for s in target.ok("GET", "/api/v1/scores")["items"]}
    assert (listed["rating"]["source"], listed["rating"]["author"]) == ("ui", "ann@example.com")
    assert (listed["outcome"]["label"], listed["outcome"]["value"]) == ("partial", 0.5)


def test_a_browsers_scores_are_its_users_with_the_source_ui(
    project: Project, server: LaminaServer
) -> None:
    if not any(line.startswith("First sign-in") for line in server.output):
        pytest.skip("this build has no web pages")
    email, password = f"{otlp.uid('judge')}@example.com", "a long enough passphrase"
    otlp.admin(server, "create_user", email=email, password=password, is_admin=True)
    session_id = otlp.uid("browsed")
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        token = _csrf(browser.get("/signin"))
        signed = browser.post("/signin", data={"email": email, "password": password, "csrf": token})
        assert signed.status_code == 303
        csrf = _csrf(browser.get("/p/default/settings"))
        body = {"name": "thumbs", "value": 1, "session_id": session_id}
        where = f"/api/v1/scores?project={project.name}"
        assert browser.post(where, json=body).status_code == 403  # no CSRF token
        made = browser.post(where, json=body, headers={"X-CSRF-Token": csrf})
        assert made.status_code == 201, made.text
        claimed = browser.post(
            where, json={**body, "source": "sdk"}, headers={"X-CSRF-Token": csrf}
        )
        assert claimed.status_code == 400
    score = made.json()["score"]
    assert (score["author"], score["source"]) == (email, "ui")
    listed = project.ok("GET", "/api/v1/scores", params={"source": "ui"})["items"]
    assert [s["score_id"] for s in listed] == [score["score_id"]]


def _csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None, "no CSRF token on the page"
    return found[1]


def test_scores_are_listed_a_page_at_a_time_and_filtered(project: Project) -> None:
    session_id = otlp.uid("paged")
    batch = [{"name": f"n{i % 2}", "value": i, "session_id": session_id} for i in range(5)]
    project.ok("POST", "/api/v1/scores", 201, json={"scores": batch})  # one created_at
    project.ok("POST", "/api/v1/scores", 201, json={**batch[0], "source": "evaluator:x"})
    whole = project.ok("GET", "/api/v1/scores", params={"limit": 500})["items"]
    assert len(whole) == 6 and whole[0]["source"] == "evaluator:x"  # newest first
    paged: list[dict[str, Any]] = []
    cursor = None
    for _ in range(10):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = project.ok("GET", "/api/v1/scores", params=params)
        paged += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == whole
    by_name = project.ok("GET", "/api/v1/scores", params={"name": "n1"})["items"]
    assert sorted(s["value"] for s in by_name) == [1.0, 3.0]
    by_source = project.ok("GET", "/api/v1/scores", params={"source": "evaluator:x"})["items"]
    assert [s["score_id"] for s in by_source] == [whole[0]["score_id"]]
    later = project.ok("GET", "/api/v1/scores", params={"since": whole[0]["created_at"]})
    assert [s["score_id"] for s in later["items"]] == [whole[0]["score_id"]]
    for bad in ({"cursor": "nonsense"}, {"limit": 0}, {"since": "yesterday"}):
        assert project.call("GET", "/api/v1/scores", params=bad).status_code == 400, bad
