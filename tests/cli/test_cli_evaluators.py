"""`lamina evaluators list|add|test` (#20), through a running server (the admin token)
and on a data dir no server holds: the same answers."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.conftest import LaminaServer, run_cli
from tests.reliability.test_data_lifecycle import send_session
from tests.support import otlp

CHECK = {"name": "slow", "kind": "check", "check": {"type": "max_duration", "params": {}}}


def _ok(result: object) -> str:
    assert result.returncode == 0, (result.stdout, result.stderr)  # type: ignore[attr-defined]
    return str(result.stdout)  # type: ignore[attr-defined]


def test_evaluators_through_the_server(server: LaminaServer, tmp_path: Path) -> None:
    name, key = otlp.new_project(server, "cli-evaluators")
    project = ("--project", name)
    session_id = otlp.uid("cli-eval")
    traces = send_session(server, key, session_id, 3)  # turns 1 s apart, 0.5 s each
    deadline = time.monotonic() + 10
    while server.get(f"/api/v1/sessions/{session_id}", key=key).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    refused = server.cli("evaluators", "add", json.dumps(CHECK), *project)
    assert refused.returncode == 1 and "max_duration needs check.params.seconds" in refused.stderr
    definition = tmp_path / "slow.json"
    definition.write_text(
        json.dumps({**CHECK, "check": {"type": "max_duration", "params": {"seconds": 2}}})
    )
    made = json.loads(_ok(server.cli("evaluators", "add", f"@{definition}", *project, "--json")))
    assert made["name"] == "slow" and made["id"].startswith("evl_")
    listed = _ok(server.cli("evaluators", "list", *project))
    assert "slow" in listed and "max_duration" in listed
    assert "idle" in listed  # its state: nothing judged yet (the session is not quiet)
    tried = json.loads(
        _ok(server.cli("evaluators", "test", "slow", "--session", session_id, *project, "--json"))
    )
    assert tried["score"]["value"] == 1.0 and tried["score"]["trace_id"] == traces[2]
    shown = _ok(server.cli("evaluators", "test", made["id"], "--session", session_id, *project))
    assert "slow = 1" in shown and "took 2.5 s" in shown
    # the key's project sees it too; nothing was stored by the dry runs
    items = otlp.api(server, "/api/v1/evaluators", key=key)["items"]
    assert [item["id"] for item in items] == [made["id"]]
    assert otlp.api(server, "/api/v1/scores", key=key)["items"] == []


def test_evaluators_on_a_data_dir_without_a_server(tmp_path: Path) -> None:
    data = ("--data-dir", str(tmp_path / "data"))
    given = {**CHECK, "check": {"type": "json_output"}}
    made = json.loads(_ok(run_cli("evaluators", "add", json.dumps(given), *data, "--json")))
    assert made["check"] == {"type": "json_output", "params": {}}
    listed = json.loads(_ok(run_cli("evaluators", "list", *data, "--json")))
    assert [item["name"] for item in listed["items"]] == ["slow"]
    assert listed["items"][0]["state"] == "idle" and listed["items"][0]["last_error"] is None
    again = run_cli("evaluators", "add", json.dumps(given), *data)
    assert again.returncode == 1 and 'evaluator named "slow" already' in again.stderr
    missing = run_cli("evaluators", "test", "slow", "--session", "nope", *data)
    assert missing.returncode == 1 and 'No session "nope"' in missing.stderr


def test_a_judge_that_gives_no_score_is_an_error_saying_why(server: LaminaServer) -> None:
    name, key = otlp.new_project(server, "cli-judge")
    session_id = otlp.uid("cli-judge")
    send_session(server, key, session_id, 1)
    deadline = time.monotonic() + 10
    while server.get(f"/api/v1/sessions/{session_id}", key=key).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    llm = {
        "base_url": "http://127.0.0.1:9/v1",  # the shared server allows no private address
        "model": "m",
        "prompt": "{{transcript}}",
        "score": {"name": "helpfulness"},
    }
    judge = {"name": "judge", "kind": "llm_judge", "enabled": False, "llm": llm}
    _ok(server.cli("evaluators", "add", json.dumps(judge), "--project", name))
    tried = server.cli("evaluators", "test", "judge", "--session", session_id, "--project", name)
    assert tried.returncode == 1, tried.stdout
    assert "The judge gave no score" in tried.stderr and "allowed-hosts" in tried.stderr
