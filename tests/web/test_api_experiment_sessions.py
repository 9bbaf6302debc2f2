"""The sessions of experiment runs (#22) in the lists and to online evaluators, on both
stores: the project's experiment's session (``experiment-<id>``) and its traces are left
out of ``GET /api/v1/sessions`` and ``/api/v1/traces`` (and their counts) unless
``experiments=include`` (all) or ``only`` (them alone); a session named like one without
such an experiment stays in; naming the session shows its traces; an online evaluator's
backfill queues none of them, on sessions or on traces (docs/decisions.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import LaminaServer
from tests.support import otlp
from tests.web.test_api_scores import Project, new_project

pytestmark = pytest.mark.both_stores  # tests/conftest.py


@pytest.fixture(scope="module")
def project(server: LaminaServer) -> Project:
    made = new_project(server)
    made.ok("POST", "/api/v1/experiments", 201, json={"experiment_id": "run-1"})
    # ended a minute ago: every one is quiet before the backfill below (a session
    # still live when its evaluator is made is the runner's to queue, not the backfill's)
    made.send("experiment-run-1", 2, ago_s=60)
    made.send("experiment-not-a-run", 1, ago_s=60)  # the user's own session, named alike
    made.send(otlp.uid("chat"), 3, ago_s=60)
    return made


def _ids(project: Project, path: str, key: str, **params: Any) -> set[str]:
    found = project.ok("GET", path, params=params)
    return {row[key] for row in found["items"]}


def test_lists_leave_an_experiments_session_out_unless_asked(project: Project) -> None:
    sessions = _ids(project, "/api/v1/sessions", "session_id")
    assert "experiment-run-1" not in sessions and "experiment-not-a-run" in sessions
    assert len(sessions) == 2
    counted = project.ok("GET", "/api/v1/sessions", params={"limit": 1})
    assert counted["total"] == 2
    every = _ids(project, "/api/v1/sessions", "session_id", experiments="include")
    assert every == sessions | {"experiment-run-1"}
    only = _ids(project, "/api/v1/sessions", "session_id", experiments="only")
    assert only == {"experiment-run-1"}

    traces = project.ok("GET", "/api/v1/traces")["items"]
    assert len(traces) == 4 and all(t["session_id"] != "experiment-run-1" for t in traces)
    assert len(_ids(project, "/api/v1/traces", "trace_id", experiments="include")) == 6
    runs = _ids(project, "/api/v1/traces", "session_id", experiments="only")
    assert runs == {"experiment-run-1"}
    named = _ids(project, "/api/v1/traces", "trace_id", session_id="experiment-run-1")
    assert len(named) == 2  # naming the session shows it
    refused = project.call("GET", "/api/v1/sessions", params={"experiments": "all"})
    assert refused.status_code == 400
    assert "experiments must be one of include, exclude, only" in refused.text


@pytest.mark.parametrize("target", ["session", "trace"])
def test_online_evaluators_leave_experiment_runs_to_their_experiment(
    project: Project, target: str
) -> None:
    check = {"type": "error_in_last_turn"}
    made = project.ok(
        "POST",
        "/api/v1/evaluators",
        201,
        json={
            "name": otlp.uid(f"errors-{target}"),
            "kind": "check",
            "check": check,
            "target": target,
            "quiet_seconds": 0,
        },
    )
    path = f"/api/v1/evaluators/{made['id']}/backfill"
    queued = project.ok("POST", path, 202, json={"since": "2000-01-01T00:00:00Z"})
    assert queued == {"queued": 2 if target == "session" else 4}


def test_the_cli_lists_them_when_asked(project: Project) -> None:
    def listed(*extra: str) -> set[str]:
        done = project.server.cli("sessions", "list", "--project", project.name, "--json", *extra)
        assert done.returncode == 0, done.stderr
        return {row["session_id"] for row in json.loads(done.stdout)["items"]}

    assert "experiment-run-1" not in listed()
    assert listed("--experiments", "only") == {"experiment-run-1"}
