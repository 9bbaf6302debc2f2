"""`lamina scores`, `lamina sessions end` and `lamina projects idle-timeout`, through a
running server (the admin token) and on a data dir no server holds: the same answers."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import LaminaServer, run_cli
from tests.reliability.test_data_lifecycle import send_session
from tests.support import otlp


def _ok(result: object) -> str:
    assert result.returncode == 0, (result.stdout, result.stderr)  # type: ignore[attr-defined]
    return str(result.stdout)  # type: ignore[attr-defined]


def test_scores_and_ending_a_session_through_the_server(server: LaminaServer) -> None:
    name, key = otlp.new_project(server, "cli-scores")
    session_id = otlp.uid("cli-session")
    (trace_id,) = send_session(server, key, session_id, 1)
    project = ("--project", name)
    given = json.loads(
        _ok(
            server.cli(
                "scores", "add", "quality", "0.8", "--session", session_id, *project, "--json"
            )
        )
    )
    assert given["value"] == 0.8 and given["author"] == "admin" and given["source"] == "api"
    _ok(
        server.cli(
            "scores", "add", "outcome", "partial", "--trace", trace_id, "--comment", "meh", *project
        )
    )
    refused = server.cli("scores", "add", "outcome", "great", "--session", session_id, *project)
    assert refused.returncode == 1 and "success" in refused.stderr
    nowhere = server.cli("scores", "add", "quality", "1", *project)
    assert nowhere.returncode == 1 and "session_id" in nowhere.stderr

    ended = json.loads(
        _ok(server.cli("sessions", "end", session_id, "--outcome", "success", *project, "--json"))
    )
    assert ended["outcome"]["label"] == "success"
    session = otlp.api(server, f"/api/v1/sessions/{session_id}", key=key)
    assert session["status"] == "ended"
    assert session["score_summary"] == {
        "quality": {"avg": 0.8, "count": 1},
        "outcome": {"avg": 0.75, "count": 2, "labels": ["partial", "success"]},
    }
    shown = " ".join(_ok(server.cli("sessions", "show", session_id, *project)).split())
    assert "ended " in shown and "scores: outcome 0.75 (2), quality 0.8 (1)" in shown
    listed = _ok(server.cli("scores", "list", "--session", session_id, *project))
    assert "quality" in listed and "partial" in listed and "meh" in listed
    page = json.loads(_ok(server.cli("scores", "list", "--name", "quality", *project, "--json")))
    assert [s["score_id"] for s in page["items"]] == [given["score_id"]]
    _ok(server.cli("scores", "delete", given["score_id"], *project))
    missing = server.cli("scores", "delete", given["score_id"], *project)
    assert missing.returncode == 1 and given["score_id"] in missing.stderr
    assert "5 minutes" in _ok(server.cli("projects", "idle-timeout", name, "5"))
    assert otlp.admin(server, "get_project", project=name)["session_idle_minutes"] == 5


def test_scores_on_a_data_dir_no_server_holds(tmp_path: Path) -> None:
    def cli(*args: str) -> str:
        return _ok(run_cli(*args, "--data-dir", str(tmp_path / "data")))

    given = json.loads(cli("scores", "add", "thumbs", "1", "--session", "s-1", "--json"))
    assert given["author"] == "admin" and given["session_id"] == "s-1"
    ended = json.loads(cli("sessions", "end", "s-1", "--outcome", "abandoned", "--json"))
    assert ended["outcome"]["value"] == 0.0
    page = json.loads(cli("scores", "list", "--session", "s-1", "--json"))
    assert {s["name"] for s in page["items"]} == {"thumbs", "outcome"}
    assert "5 minutes" in cli("projects", "idle-timeout", "default", "5")


def test_lamina_export_and_import_carry_scores_in_every_format(
    server: LaminaServer, tmp_path: Path
) -> None:
    name, key = otlp.new_project(server, "cli-moved")
    session_id = otlp.uid("moved")
    (trace_id,) = send_session(server, key, session_id, 1)
    given = [
        {"name": "q", "value": 0.25, "session_id": session_id, "comment": "ok"},
        {"name": "outcome", "label": "unknown", "session_id": session_id},
        {"name": "q", "value": 1, "trace_id": trace_id, "span_id": "00000000000000ab"},
    ]
    answer = otlp.client().post(
        f"{server.url}/api/v1/scores",
        json={"scores": given},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert answer.status_code == 201, answer.text

    def scores(project: str) -> list[dict[str, object]]:
        items = otlp.admin(server, "list_scores", project=project, params={})["items"]
        return sorted(items, key=lambda s: str(s["score_id"]))

    zipped = tmp_path / "x.parquet.zip"  # the session page's download
    download = otlp.client().get(
        f"{server.url}/api/v1/export",
        params={"format": "parquet"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert download.status_code == 200
    zipped.write_bytes(download.content)
    for file_format, target in (
        ("jsonl", tmp_path / "x.jsonl"),
        ("parquet", tmp_path / "x"),
        ("zip", zipped),
    ):
        if file_format != "zip":
            done = server.cli(
                "export", "--project", name, "--format", file_format, "-o", str(target)
            )
            assert done.returncode == 0 and "with 3 scores" in done.stderr, done.stderr
        copy = otlp.uid(f"copy-{file_format}")
        done = server.cli("import", str(target), "--project", copy)
        assert done.returncode == 0 and "with 3 scores" in done.stdout, done.stderr
        assert scores(copy) == scores(name)
