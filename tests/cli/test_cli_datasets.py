"""Datasets through the CLI (#22): ``lamina datasets list|show|export|import|delete``,
through a running server (its JSON API) and on a data dir no server holds (the store
itself); an export imports back as the same items, twice as once."""

from __future__ import annotations

import json
from pathlib import Path

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
