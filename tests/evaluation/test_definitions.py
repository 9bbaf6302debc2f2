"""Evaluator definitions through the JSON API (#20), on a real server, both stores: what
a definition may be (each mistake a 400 naming the field), defaults, a change that
gives only some fields, the write-only key kept or removed, filter and sample rate."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.conftest import LaminaServer
from tests.evaluation.test_checks import MS, Project, turn

pytestmark = pytest.mark.both_stores  # tests/conftest.py
CHECK = {"name": "errors", "kind": "check", "check": {"type": "error_in_last_turn"}}
LLM = {
    "base_url": "http://127.0.0.1:9/v1",
    "model": "gpt-4o-mini",
    "prompt": "Rate it: {{transcript}}",
    "score": {"name": "helpfulness", "min": 0, "max": 1},
}


@pytest.fixture
def project(server: LaminaServer) -> Project:
    return Project(server)


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ([], "must be a JSON object"),
        ({**CHECK, "colour": "red"}, "Unknown field 'colour'"),
        ({**CHECK, "name": ""}, "name is required"),
        ({**CHECK, "name": "a b"}, "name is required"),
        ({**CHECK, "target": "span"}, 'target must be "session" or "trace"'),
        ({**CHECK, "enabled": "yes"}, "enabled must be true or false"),
        ({**CHECK, "sample_rate": 1.5}, "sample_rate must be a number from 0 to 1"),
        ({**CHECK, "quiet_seconds": -1}, "quiet_seconds must be a whole number"),
        ({**CHECK, "kind": "vibes"}, 'kind is required: "llm_judge" or "check"'),
        ({**CHECK, "check": {"type": "psychic"}}, "check.type: one of error_in_last_turn"),
        ({**CHECK, "check": {"type": "max_cost"}}, "max_cost needs check.params.max"),
        (
            {**CHECK, "check": {"type": "regex", "params": {"pattern": "("}}},
            "check.params.pattern is not a regular expression",
        ),
        (
            {**CHECK, "check": {"type": "tool_loop", "params": {"times": 1}}},
            "check.params.times must be 2 or more",
        ),
        ({**CHECK, "filter": {"colour": "red"}}, "filter is an object with name, tag"),
        ({"name": "judge", "kind": "llm_judge"}, "An llm_judge evaluator needs llm"),
        (
            {"name": "judge", "kind": "llm_judge", "llm": {**LLM, "base_url": "ftp://x"}},
            "llm.base_url must be an http(s) URL",
        ),
        (
            {"name": "judge", "kind": "llm_judge", "llm": {**LLM, "score": {"type": "numeric"}}},
            "llm.score must name the score",
        ),
        (
            {"name": "judge", "kind": "llm_judge", "llm": {**LLM, "prompt": "Rate {{transcrpt}}"}},
            "llm.prompt: The prompt uses {{transcrpt}}, which is not a variable",
        ),
        (
            {"name": "judge", "kind": "llm_judge", "llm": {**LLM, "prompt": "Rate it."}},
            "llm.prompt: The prompt never shows the judge the conversation",
        ),
        (
            {"name": "judge", "kind": "llm_judge", "llm": {**LLM, "api_key_env": "NOT A NAME"}},
            "llm.api_key_env must name an environment variable",
        ),
        (
            {"name": "judge", "kind": "llm_judge", "llm": LLM, "budget": {"calls_per_day": -1}},
            "budget.calls_per_day must be a whole number",
        ),
        (
            {"name": "judge", "kind": "llm_judge", "llm": LLM, "budget": {"calls": 5}},
            "budget is an object with calls_per_day and tokens_per_day",
        ),
        ({**CHECK, "description": "x" * 1001}, "description must be text of at most 1000"),
    ],
)
def test_a_definition_the_server_cannot_use_is_a_400_naming_the_field(
    project: Project, given: Any, says: str
) -> None:
    answer = project.call("POST", "/api/v1/evaluators", json=given)
    assert answer.status_code == 400, answer.text
    assert says in answer.json()["error"]["message"]


def test_defaults_changes_and_the_write_only_key(project: Project) -> None:
    made = project.ok("POST", "/api/v1/evaluators", 201, json=CHECK)
    assert made["target"] == "session" and made["enabled"] is True
    assert made["sample_rate"] == 1.0 and made["quiet_seconds"] == 600
    assert made["check"] == {"type": "error_in_last_turn", "params": {}} and made["llm"] is None
    path = f"/api/v1/evaluators/{made['id']}"
    changed = project.ok("PUT", path, json={"enabled": False, "quiet_seconds": 60})
    assert changed["enabled"] is False and changed["quiet_seconds"] == 60
    assert changed["name"] == "errors" and changed["created_at"] == made["created_at"]
    # a GET answers the same, and the state and progress of its runs beside it
    state = {"state": "disabled", "last_error": None, "last_error_at": None, "last_ok_at": None}
    assert project.ok("GET", path) == changed | state | {"progress": None}
    taken = project.call("POST", "/api/v1/evaluators", json=CHECK)
    assert taken.status_code == 409 and "already" in taken.json()["error"]["message"]

    judge = {"name": "judge", "kind": "llm_judge", "llm": {**LLM, "api_key": "sk-1"}}
    made = project.ok("POST", "/api/v1/evaluators", 201, json=judge)
    assert made["llm"]["api_key_set"] is True and "api_key" not in made["llm"]
    path = f"/api/v1/evaluators/{made['id']}"
    kept = project.ok("PUT", path, json={"llm": {"model": "gpt-4o"}})
    assert kept["llm"]["api_key_set"] is True and kept["llm"]["model"] == "gpt-4o"
    assert kept["llm"]["prompt"] == LLM["prompt"]
    removed = project.ok("PUT", path, json={"llm": {"api_key": None}})
    assert removed["llm"]["api_key_set"] is False
    project.ok("DELETE", path)
    assert project.call("GET", path).status_code == 404
    assert [e["name"] for e in project.ok("GET", "/api/v1/evaluators")["items"]] == ["errors"]


def test_filter_and_sample_rate_leave_targets_out(project: Project) -> None:
    start = time.time_ns() - 3_600 * 1000 * MS
    web, app = f"s-web-{uuid.uuid4().hex[:6]}", f"s-app-{uuid.uuid4().hex[:6]}"
    project.send(turn(web, 0, start, meta={"channel": "web"}), web, 1)
    project.send(turn(app, 0, start, meta={"channel": "app"}), app, 1)
    filtered = project.ok(
        "POST",
        "/api/v1/evaluators",
        201,
        json={**CHECK, "enabled": False, "filter": {"metadata": {"channel": "web"}}},
    )
    tried = f"/api/v1/evaluators/{filtered['id']}/test"
    assert project.ok("POST", tried, json={"session_id": web})["score"]["value"] == 0.0
    left_out = project.ok("POST", tried, json={"session_id": app})
    assert left_out["score"] is None and "Filtered out" in left_out["skipped"]
    named = project.ok(
        "POST",
        "/api/v1/evaluators",
        201,
        json={**CHECK, "name": "named", "enabled": False, "filter": {"name": "other"}},
    )
    tried = f"/api/v1/evaluators/{named['id']}/test"
    assert project.ok("POST", tried, json={"session_id": web})["score"] is None
    never = project.ok(
        "POST",
        "/api/v1/evaluators",
        201,
        json={**CHECK, "name": "never", "enabled": False, "sample_rate": 0},
    )
    tried = f"/api/v1/evaluators/{never['id']}/test"
    assert "Sampled out" in project.ok("POST", tried, json={"session_id": web})["skipped"]
    wrong = project.call("POST", tried, json={"trace_id": "0" * 32})
    assert wrong.status_code == 400 and "give its session_id" in wrong.json()["error"]["message"]
