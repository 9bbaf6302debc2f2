"""``lamina.evaluate`` (#22) in a process of its own against a real server: a dataset
built from a session (whole, and up to its second turn) and an item given whole, run
with a sync and then an async executor and three evaluators (a bool, a number, a dict
of two). The API shows exactly the outputs and scores the process computed, each call
is a trace in the experiment's session holding its scores, and the second run compared
to the first lists the item that got worse first. On both stores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LaminaServer
from tests.support import otlp
from tests.web.test_api_scores import Project, new_project

APP = Path(__file__).with_name("evaluation_app.py")
pytestmark = pytest.mark.both_stores  # tests/conftest.py


@pytest.fixture(scope="module")
def project(server: LaminaServer) -> Project:
    made = new_project(server)
    session_id = otlp.uid("chat")
    made.send(session_id, 3)
    made.ok("POST", "/api/v1/datasets", 201, json={"name": "cases"})
    items = "/api/v1/datasets/cases/items"
    made.ok("POST", items, 201, json={"from_session": session_id})
    made.ok("POST", items, 201, json={"from_session": session_id, "up_to_turn": 2})
    made.ok("POST", items, 201, json={"input": "question 2", "expected_output": "answer 2"})
    return made


def run_app(
    project: Project, run: str, out: Path, *command: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "LAMINA_PROJECT_API_KEY": project.key,
        "LAMINA_BASE_URL": project.server.url,
        "EVAL_DATA": "cases",
        "EVAL_RUN": run,
        "EVAL_OUT": str(out),
    }
    return subprocess.run(
        [*(command or (sys.executable,)), str(APP)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def runs(project: Project, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The good run, then the worse one."""
    folder = tmp_path_factory.mktemp("runs")
    return {run: computed(project, run, folder) for run in ("good", "worse")}


def computed(project: Project, run: str, folder: Path) -> dict[str, Any]:
    out = folder / f"{run}.json"
    done = run_app(project, run, out)
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(out.read_text())
    assert f"See it at {found['url']}" in done.stdout
    assert "3/3 items done" in done.stderr
    return found


def test_an_experiment_keeps_exactly_what_the_run_computed(
    project: Project, runs: dict[str, Any]
) -> None:
    first = runs["good"]
    assert [item["output"] for item in first["items"]] == ["answer 2", "answer 1", "answer 2"]
    assert first["items"][1]["scores"] == {"exact": 1.0, "length": 8.0, "polite": 0.0, "short": 1.0}
    assert first["items"][0]["scores"]["exact"] == 0.0  # the whole conversation expects nothing
    shown = project.ok("GET", f"/api/v1/experiments/{first['experiment_id']}")["experiment"]
    assert shown["url"] == f"/p/{project.name}/experiments/{first['experiment_id']}"
    assert first["url"] == project.server.url + shown["url"]
    assert shown["group"] == "support" and shown["dataset"] == "cases"
    assert shown["item_count"] == 3 and shown["errors"] == 0
    assert shown["averages"] == pytest.approx(first["averages"])
    assert [
        {key: item[key] for key in ("index", "output", "scores", "trace_id", "error")}
        for item in shown["items"]
    ] == first["items"]
    assert shown["items"][1]["expected_output"] == "answer 1"
    assert shown["items"][1]["input"][-1] == {"role": "user", "content": "question 1"}
    assert all(item["duration_ms"] > 0 for item in shown["items"])
    # each call is a trace in the experiment's session, with the lookup inside and its scores
    session = project.server.wait_for(
        f"/api/v1/sessions/{shown['session_id']}",
        lambda found: len(found.get("traces", [])) == 3,
        key=project.key,
    )
    assert {t["trace_id"] for t in session["traces"]} == {i["trace_id"] for i in first["items"]}
    trace_id = first["items"][1]["trace_id"]
    detail = project.ok("GET", f"/api/v1/traces/{trace_id}")
    names = {span["name"]: span for span in detail["spans"]}
    assert names["good"]["span_type"] == "EXECUTOR" and "lookup" in names
    assert names["exact"]["span_type"] == "EVALUATOR"
    scores = project.ok("GET", "/api/v1/scores", params={"trace_id": trace_id})["items"]
    assert {(s["name"], s["value"], s["source"]) for s in scores} == {
        ("exact", 1.0, "experiment"),
        ("length", 8.0, "experiment"),
        ("polite", 0.0, "experiment"),
        ("short", 1.0, "experiment"),
    }


def test_a_second_run_compared_to_the_first_lists_the_regressed_item_first(
    project: Project, runs: dict[str, Any]
) -> None:
    first, second = runs["good"], runs["worse"]
    assert [item["output"] for item in second["items"]] == ["answer 2", "answer 7", "answer 2"]
    listed = project.ok("GET", "/api/v1/experiments", params={"group": "support"})["items"]
    assert [run["experiment_id"] for run in listed] == [
        second["experiment_id"],
        first["experiment_id"],
    ]
    assert listed[0]["averages"] == pytest.approx(second["averages"])
    assert listed[0]["averages"]["exact"] < listed[1]["averages"]["exact"]
    assert project.ok("GET", "/api/v1/experiments", params={"group": "other"})["items"] == []
    compared = project.ok(
        "GET",
        f"/api/v1/experiments/{second['experiment_id']}",
        params={"compare": first["experiment_id"]},
    )["comparison"]
    assert compared["compared_to"] == first["experiment_id"]
    worst = compared["items"][0]
    assert worst["regressed"] and worst["after"]["output"] == "answer 7"
    assert worst["before"]["output"] == "answer 1"
    assert worst["deltas"]["exact"] == -1.0
    assert [item["regressed"] for item in compared["items"]] == [True, False, False]
