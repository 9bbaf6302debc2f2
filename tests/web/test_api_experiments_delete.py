"""Deleting an experiment through the JSON API (#22), on both stores: the run, its items,
its session's traces and the scores on them go; another run of the project and its
traces stay; items sent to the deleted run afterwards are a 404; deleting it again is
a 404."""

from __future__ import annotations

import pytest

from tests.conftest import LaminaServer
from tests.web.test_api_scores import Project, new_project

pytestmark = pytest.mark.both_stores  # tests/conftest.py


def _run(project: Project, run_id: str) -> list[str]:
    """A run of two items whose traces are in its session; the traces' ids."""
    project.ok("POST", "/api/v1/experiments", 201, json={"experiment_id": run_id})
    traces = project.send(f"experiment-{run_id}", 2)
    items = [
        {"index": n, "input": f"q{n}", "output": f"a{n}", "trace_id": trace_id, "scores": {"ok": 1}}
        for n, trace_id in enumerate(traces)
    ]
    project.ok("POST", f"/api/v1/experiments/{run_id}/items", 201, json={"items": items})
    return traces


def test_deleting_a_run_deletes_its_items_traces_and_scores_only(server: LaminaServer) -> None:
    project = new_project(server)
    gone, kept = _run(project, "run-gone"), _run(project, "run-kept")
    deleted = project.ok("DELETE", "/api/v1/experiments/run-gone")
    assert deleted["deleted"]["experiment_id"] == "run-gone"
    assert deleted["deleted"]["item_count"] == 2
    assert deleted["traces"] == 2 and deleted["spans"] > 2
    assert project.call("GET", "/api/v1/experiments/run-gone").status_code == 404
    assert project.call("GET", "/api/v1/sessions/experiment-run-gone").status_code == 404
    for trace_id in gone:
        assert project.call("GET", f"/api/v1/traces/{trace_id}").status_code == 404
        assert project.ok("GET", "/api/v1/scores", params={"trace_id": trace_id})["items"] == []
    listed = project.ok("GET", "/api/v1/experiments")["items"]
    assert [run["experiment_id"] for run in listed] == ["run-kept"]
    assert project.ok("GET", "/api/v1/experiments/run-kept")["experiment"]["item_count"] == 2
    for trace_id in kept:
        assert len(project.ok("GET", "/api/v1/scores", params={"trace_id": trace_id})["items"]) == 1
    late = {"items": [{"index": 5, "input": "q", "output": "a"}]}
    assert project.call("POST", "/api/v1/experiments/run-gone/items", json=late).status_code == 404
    again = project.call("DELETE", "/api/v1/experiments/run-gone")
    assert again.status_code == 404
    assert again.json()["error"]["message"] == 'No experiment "run-gone" in this project.'
