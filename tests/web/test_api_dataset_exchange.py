"""A dataset as Parquet, and datasets and experiments carried by ``POST /api/v1/import``
(#22), on a real server and both stores: ``GET /api/v1/datasets/{name}/items?format=
parquet`` is one Parquet file holding every item (more than one page of them) as the
JSONL export does, values as JSON text; a project's JSONL export posted to another
project's import makes its datasets, its experiment runs and their items there
(importing it twice adds each item and score once), with its spans; a wrong dataset or
run item is a 400 naming it, and nothing of the request is stored."""

from __future__ import annotations

import io
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest

from tests.conftest import LaminaServer
from tests.support import otlp
from tests.web.test_api_scores import Project, new_project

pytestmark = pytest.mark.both_stores  # tests/conftest.py
LINES = {"Content-Type": "application/x-ndjson"}
MANY = 1_005  # more than one page of items (1,000)


@pytest.fixture(scope="module")
def source(server: LaminaServer) -> Project:
    made = new_project(server)
    session_id = otlp.uid("chat")
    made.send(session_id, 2)
    made.ok("POST", "/api/v1/datasets", 201, json={"name": "cases", "description": "tests"})
    made.ok("POST", "/api/v1/datasets", 201, json={"name": "empty"})
    items: list[dict[str, Any]] = [
        {"input": {"question": f"q{n}", "text": "\u00e9\U0001f600"}, "expected_output": f"a{n}"}
        for n in range(MANY)
    ]
    items[1] |= {"metadata": {"k": [1, 2]}, "expected_output": None, "item_id": "case-1"}
    made.ok("POST", "/api/v1/datasets/cases/items", 201, json={"items": items})
    path = "/api/v1/datasets/cases/items"
    made.ok("POST", path, 201, json={"from_session": session_id, "up_to_turn": 1})
    # an experiment run whose two items' traces are in its session, with their scores
    made.ok("POST", "/api/v1/experiments", 201, json={"experiment_id": "run-1", "group": "g"})
    traces = made.send("experiment-run-1", 2)
    runs = [
        {"index": n, "input": f"q{n}", "output": f"a{n}", "trace_id": t, "scores": {"ok": n}}
        for n, t in enumerate(traces)
    ]
    made.ok("POST", "/api/v1/experiments/run-1/items", 201, json={"items": runs})
    return made


def _jsonl(project: Project, name: str) -> list[dict[str, Any]]:
    answer = project.call("GET", f"/api/v1/datasets/{name}/items", params={"format": "jsonl"})
    assert answer.status_code == 200, answer.text
    return [orjson.loads(line) for line in answer.content.splitlines()]


def test_a_dataset_as_parquet_holds_every_item_as_the_jsonl_does(source: Project) -> None:
    answer = source.call("GET", "/api/v1/datasets/cases/items", params={"format": "parquet"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/vnd.apache.parquet"
    assert 'filename="dataset-cases.parquet"' in answer.headers["content-disposition"]
    rows = pq.read_table(io.BytesIO(answer.content)).to_pylist()
    lines = _jsonl(source, "cases")
    assert len(rows) == len(lines) == MANY + 1
    for row, line in zip(rows, lines, strict=True):
        assert row["dataset"] == "cases" and row["item_id"] == line["item_id"]
        for field in ("input", "expected_output", "metadata"):
            shown = None if row[field] is None else orjson.loads(row[field])
            assert shown == line[field], field
        assert row["created_ns"] > 0 and row["created_at"] is not None
    assert orjson.loads(rows[1]["metadata"]) == {"k": [1, 2]} and rows[1]["expected_output"] is None
    made = orjson.loads(rows[-1]["source"])  # the item made from a session keeps its source
    assert made["turn"] == 1 and made["session_id"]
    empty = source.call("GET", "/api/v1/datasets/empty/items", params={"format": "parquet"})
    assert pq.read_table(io.BytesIO(empty.content)).num_rows == 0
    missing = source.call("GET", "/api/v1/datasets/none/items", params={"format": "parquet"})
    assert missing.status_code == 404
    wrong = source.call("GET", "/api/v1/datasets/cases/items", params={"format": "csv"})
    assert wrong.status_code == 400 and "parquet" in wrong.json()["error"]["message"]


def _items(project: Project, name: str) -> list[tuple[Any, ...]]:
    return sorted(
        (line["item_id"], orjson.dumps(line["input"]), line["expected_output"], line["metadata"])
        for line in _jsonl(project, name)
    )


def test_the_import_makes_an_exports_datasets_and_items_once(
    source: Project, server: LaminaServer
) -> None:
    exported = source.call("GET", "/api/v1/export").content
    target = new_project(server)
    body = exported
    answer = target.ok("POST", "/api/v1/import", content=body, headers=LINES)
    assert answer["datasets"] == 2 and answer["dataset_items"] == MANY + 1
    assert answer["experiments"] == 1 and answer["experiment_items"] == 2
    assert answer["spans"] > 0
    again = target.ok("POST", "/api/v1/import", content=body, headers=LINES)
    assert again["dataset_items"] == MANY + 1
    listed = target.ok("GET", "/api/v1/datasets")["items"]
    assert {(d["name"], d["description"], d["item_count"]) for d in listed} == {
        ("cases", "tests", MANY + 1),
        ("empty", None, 0),
    }
    assert _items(target, "cases") == _items(source, "cases")
    assert again["experiments"] == 1 and again["experiment_items"] == 2
    (run,) = target.ok("GET", "/api/v1/experiments")["items"]
    assert (run["experiment_id"], run["group"], run["item_count"]) == ("run-1", "g", 2)
    shown = target.ok("GET", "/api/v1/experiments/run-1")["experiment"]["items"]
    kept = source.ok("GET", "/api/v1/experiments/run-1")["experiment"]["items"]
    fields = ("index", "input", "output", "trace_id", "scores")
    assert [{k: i[k] for k in fields} for i in shown] == [{k: i[k] for k in fields} for i in kept]
    for item in shown:  # the scores on the traces, once
        found = target.ok("GET", "/api/v1/scores", params={"trace_id": item["trace_id"]})
        assert [(s["name"], s["value"]) for s in found["items"]] == [("ok", item["index"])]


def test_a_wrong_dataset_item_refuses_the_whole_request(
    source: Project, server: LaminaServer
) -> None:
    target = new_project(server)
    span = next(
        line
        for line in source.call("GET", "/api/v1/export").content.splitlines()
        if b'"kind":"span"' in line
    )
    lines = [
        span,
        orjson.dumps({"kind": "dataset", "name": "cases", "description": None}),
        orjson.dumps({"kind": "dataset_item", "dataset": "cases", "input": "fine"}),
        orjson.dumps({"kind": "dataset_item", "dataset": "cases", "input": None}),
    ]
    refused = target.call("POST", "/api/v1/import", content=b"\n".join(lines), headers=LINES)
    assert refused.status_code == 400, refused.text
    message = refused.json()["error"]["message"]
    assert message.startswith('Dataset "cases", item 2: an item needs an input'), message
    assert target.ok("GET", "/api/v1/datasets")["items"] == []
    bad_run = [
        span,
        orjson.dumps({"kind": "experiment", "experiment_id": "run-2"}),
        orjson.dumps({"kind": "experiment_item", "experiment_id": "run-2", "index": -1}),
    ]
    refused = target.call("POST", "/api/v1/import", content=b"\n".join(bad_run), headers=LINES)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["message"].startswith('Experiment "run-2", item 1: ')
    assert target.ok("GET", "/api/v1/experiments")["items"] == []
    assert target.ok("GET", "/api/v1/traces", params={"experiments": "include"})["items"] == []
