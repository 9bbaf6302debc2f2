"""Experiments in exports (#22): a project's JSONL export holds its runs and their items
(a session's export none), and `lamina import` makes them again in another project
through the experiments API, twice as once, with the same items and scores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from tests.conftest import LaminaServer
from tests.reliability.test_data_lifecycle import send_session
from tests.support import otlp

KEPT = ("index", "item_id", "input", "expected_output", "output", "error", "duration_ms")


def test_lamina_export_and_import_carry_experiments(server: LaminaServer, tmp_path: Path) -> None:
    name, key = otlp.new_project(server, "cli-runs")
    token = (server.data_dir / "admin.token").read_text().strip()

    def call(method: str, path: str, project: str | None = None, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {token if project else key}"}
        answer = otlp.client().request(
            method,
            f"{server.url}{path}",
            json=body,
            params={"project": project} if project else {},
            headers=headers,
        )
        assert answer.status_code in (200, 201), answer.text
        return answer.json()

    session_id = otlp.uid("chat")
    send_session(server, key, session_id, 1)
    call("POST", "/api/v1/experiments", body={"experiment_id": "v1", "group": "bot"})
    call("POST", "/api/v1/experiments", body={"experiment_id": "v2", "name": "second"})
    items = [
        {
            "index": n,
            "item_id": f"case-{n}" if n else None,
            "input": {"q": f"<b>{n}</b>"},
            "expected_output": "yes" if n else None,
            "output": None if n == 2 else f"answer {n}",
            "error": "the executor raised KeyError: 'x'" if n == 2 else None,
            "duration_ms": 10.5 * n,
            "scores": {"exact": n % 2, "length": None},
        }
        for n in range(3)
    ]
    call("POST", "/api/v1/experiments/v1/items", body={"items": items})
    exported = tmp_path / "project.jsonl"
    done = server.cli("export", "--project", name, "-o", str(exported))
    assert done.returncode == 0 and "2 experiments of 3 items" in done.stderr, done.stderr
    lines = [orjson.loads(line) for line in exported.read_bytes().splitlines()]
    kinds = [line.get("kind") for line in lines]
    assert kinds[-6:] == ["experiment"] * 2 + ["experiment_item"] * 3 + ["trailer"]
    assert lines[-1]["experiments"] == 2 and lines[-1]["experiment_items"] == 3
    one = otlp.client().get(
        f"{server.url}/api/v1/export",
        params={"session_id": session_id},
        headers={"Authorization": f"Bearer {key}"},
    )
    kinds = [orjson.loads(line).get("kind") for line in one.content.splitlines()]
    assert "experiment" not in kinds and "experiment_item" not in kinds and kinds[-1] == "trailer"
    copy = otlp.uid("copy")
    for _ in range(2):
        done = server.cli("import", str(exported), "--project", copy)
        assert done.returncode == 0 and "2 experiments of 3 items" in done.stdout, done.stderr
    listed = call("GET", "/api/v1/experiments", copy)["items"]
    assert sorted((r["experiment_id"], r["name"], r["group"], r["item_count"]) for r in listed) == [
        ("v1", "v1", "bot", 3),
        ("v2", "second", "default", 0),
    ]
    original = call("GET", "/api/v1/experiments/v1")["experiment"]["items"]
    copied = call("GET", "/api/v1/experiments/v1", copy)["experiment"]["items"]
    assert [{k: i[k] for k in KEPT} for i in copied] == [{k: i[k] for k in KEPT} for i in original]
    assert [i["scores"] for i in copied] == [i["scores"] for i in original]
