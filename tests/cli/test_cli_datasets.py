"""Datasets through the CLI (#22): ``lamina datasets list|show|export|import|delete``,
through a running server (its JSON API) and on a data dir no server holds (the store
itself); an export imports back as the same items, twice as once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson

from tests.conftest import LaminaServer, run_cli
from tests.reliability.test_data_lifecycle import send_session
from tests.support import otlp


def test_lamina_datasets_through_the_server(server: LaminaServer, tmp_path: Path) -> None:
    name, key = otlp.new_project(server, "cli-datasets")
    session_id = otlp.uid("chat")
    send_session(server, key, session_id, 2)
    headers = {"Authorization": f"Bearer {key}"}
    made = otlp.client().post(
        f"{server.url}/api/v1/datasets", json={"name": "cases"}, headers=headers
    )
    assert made.status_code == 201, made.text
    for body in ({"from_session": session_id, "up_to_turn": 2}, {"input": {"q": "<i>x</i>"}}):
        answer = otlp.client().post(
            f"{server.url}/api/v1/datasets/cases/items", json=body, headers=headers
        )
        assert answer.status_code == 201, answer.text

    def cli(*args: str) -> str:
        done = server.cli("datasets", *args, "--project", name)
        assert done.returncode == 0, done.stderr
        return done.stdout

    listed = json.loads(cli("list", "--json"))["items"]
    assert [(d["name"], d["item_count"]) for d in listed] == [("cases", 2)]
    shown = cli("show", "cases")
    assert f"{session_id} turn 2" in shown and "<i>x</i>" in shown
    exported = tmp_path / "cases.jsonl"
    assert "Wrote 2 items" in cli("export", "cases", "-o", str(exported))
    lines = [orjson.loads(line) for line in exported.read_bytes().splitlines()]
    assert [line["expected_output"] for line in lines] == ["answer 1", None]
    for _ in range(2):
        assert "Imported 2 items into copy" in cli("import", "copy", str(exported))
    copied = json.loads(cli("show", "copy", "--json"))["items"]
    kept = ("item_id", "input", "expected_output", "source")
    assert [{k: item[k] for k in kept} for item in copied] == [
        {k: line[k] for k in kept} for line in lines
    ]
    assert "Deleted item" in cli("delete", "copy", "--item", lines[1]["item_id"])
    assert "and its 1 items" in cli("delete", "copy")
    missing = server.cli("datasets", "show", "copy", "--project", name)
    assert missing.returncode == 1 and 'No dataset "copy"' in missing.stderr


def test_lamina_datasets_on_a_data_dir_no_server_holds(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    empty = run_cli("datasets", "list", "--json", *data)
    assert empty.returncode == 0, empty.stderr
    assert json.loads(empty.stdout)["items"] == []
    given = tmp_path / "given.jsonl"
    given.write_text('{"input": "a", "expected_output": "b"}\n\n{"input": [1], "item_id": "two"}\n')
    done = run_cli("datasets", "import", "mine", str(given), "--description", "by hand", *data)
    assert done.returncode == 0 and "Imported 2 items" in done.stdout, done.stderr
    out = run_cli("datasets", "export", "mine", *data)  # to standard output
    assert [orjson.loads(line)["input"] for line in out.stdout.splitlines()] == ["a", [1]]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"input": 1}\n{"expected_output": 2}\n')
    refused = run_cli("datasets", "import", "mine", str(bad), *data)
    assert refused.returncode == 1 and "Item 2: an item needs an input" in refused.stderr


def test_lamina_export_and_import_carry_datasets(server: LaminaServer, tmp_path: Path) -> None:
    """A project's export holds its datasets and items (a session's export none), and
    `lamina import` makes them again in another project, twice as once."""
    name, key = otlp.new_project(server, "cli-carry")
    session_id = otlp.uid("chat")
    send_session(server, key, session_id, 2)
    headers = {"Authorization": f"Bearer {key}"}

    def call(method: str, path: str, project: str | None = None, **body: Any) -> Any:
        params = {"project": project} if project else {}
        answer = otlp.client().request(
            method,
            f"{server.url}{path}",
            json=body or None,
            params=params,
            headers=headers if project is None else {"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code in (200, 201), answer.text
        return answer.json()

    token = (server.data_dir / "admin.token").read_text().strip()
    call("POST", "/api/v1/datasets", name="cases", description="kept")
    call("POST", "/api/v1/datasets", name="empty")
    call("POST", "/api/v1/datasets/cases/items", from_session=session_id, up_to_turn=2)
    call("POST", "/api/v1/datasets/cases/items", input={"q": 1}, metadata={"m": True})
    exported = tmp_path / "project.jsonl"
    done = server.cli("export", "--project", name, "-o", str(exported))
    assert done.returncode == 0 and "with 2 datasets of 2 items" in done.stderr, done.stderr
    lines = [orjson.loads(line) for line in exported.read_bytes().splitlines()]
    assert [line["kind"] for line in lines if "dataset" in line.get("kind", "")] == [
        "dataset",
        "dataset",
        "dataset_item",
        "dataset_item",
    ]
    assert lines[-1]["datasets"] == 2 and lines[-1]["dataset_items"] == 2
    one = otlp.client().get(
        f"{server.url}/api/v1/export", params={"session_id": session_id}, headers=headers
    )
    kinds = [orjson.loads(line).get("kind") for line in one.content.splitlines()]
    assert "dataset" not in kinds and "dataset_item" not in kinds and kinds[-1] == "trailer"
    copy = otlp.uid("copy")
    for _ in range(2):
        done = server.cli("import", str(exported), "--project", copy)
        assert done.returncode == 0 and "2 datasets of 2 items" in done.stdout, done.stderr
    listed = call("GET", "/api/v1/datasets", copy)["items"]
    assert [(d["name"], d["description"], d["item_count"]) for d in listed] == [
        ("cases", "kept", 2),
        ("empty", None, 0),
    ]
    kept = ("item_id", "input", "expected_output", "metadata")
    original = call("GET", "/api/v1/datasets/cases/items")["items"]
    copied = call("GET", "/api/v1/datasets/cases/items", copy)["items"]
    assert [{k: i[k] for k in kept} for i in copied] == [{k: i[k] for k in kept} for i in original]
    assert copied[0]["source"]["turn"] == 2
    assert copied[0]["source"]["session_id"] == original[0]["source"]["session_id"]
    assert copied[0]["source"]["url"].startswith(f"/p/{copy}/sessions/")
