"""Datasets through the JSON API (#22), on a real server and both stores: make, list,
edit and delete datasets and items; items made from a trace, a whole session and a
session up to a turn (turns count from 1) keep their source and its link; JSONL export
and import give back the same items; a 400 names the field (or the line) that is wrong.

Each test makes a project of its own on the shared server.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import orjson
import pytest

from tests.conftest import LaminaServer
from tests.support import otlp
from tests.web.test_api_scores import Project, new_project

pytestmark = pytest.mark.both_stores  # tests/conftest.py
LINES = {"Content-Type": "application/x-ndjson"}


@pytest.fixture
def project(server: LaminaServer) -> Project:
    made = new_project(server)
    made.ok("POST", "/api/v1/datasets", 201, json={"name": "cases", "description": "tests"})
    return made


def _items(project: Project, name: str = "cases") -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = project.ok("GET", f"/api/v1/datasets/{name}/items", params=params)
        found += page["items"]
        if page["next_cursor"] is None:
            return found
        cursor = page["next_cursor"]


def _error(project: Project, status: int, method: str, path: str, **options: Any) -> str:
    answer = project.call(method, path, **options)
    assert answer.status_code == status, answer.text
    message: str = answer.json()["error"]["message"]
    return message


def test_datasets_and_their_items_are_made_edited_and_deleted(project: Project) -> None:
    again = project.ok("POST", "/api/v1/datasets", json={"name": "cases"})["dataset"]
    assert again["description"] == "tests" and again["item_count"] == 0  # kept: 200, not 201
    given = [
        {"input": {"question": "<b>refund?</b>"}, "expected_output": "yes", "metadata": {"k": 1}},
        {"input": "plain", "item_id": "case-2"},
        {"input": [1, 2], "expected_output": None},
    ]
    added = project.ok("POST", "/api/v1/datasets/cases/items", 201, json={"items": given})
    assert added["added"] == 3 and added["item_ids"][1] == "case-2"
    one = project.ok("POST", "/api/v1/datasets/cases/items", 201, json={"input": 4})["item"]
    assert one["input"] == 4 and one["source"] is None and one["created_at"].endswith("Z")
    items = _items(project)
    assert [item["input"] for item in items] == [{"question": "<b>refund?</b>"}, "plain", [1, 2], 4]
    assert items[0]["expected_output"] == "yes" and items[0]["metadata"] == {"k": 1}
    assert items[2]["expected_output"] is None and items[2]["metadata"] is None
    (listed,) = project.ok("GET", "/api/v1/datasets")["items"]
    assert listed["name"] == "cases" and listed["item_count"] == 4
    edited = project.ok(
        "PATCH", "/api/v1/datasets/cases/items/case-2", json={"expected_output": {"a": 1}}
    )["item"]
    assert edited["input"] == "plain" and edited["expected_output"] == {"a": 1}
    assert _items(project)[1]["expected_output"] == {"a": 1}
    deleted = project.ok("DELETE", "/api/v1/datasets/cases/items/case-2")["deleted"]
    assert deleted["item_id"] == "case-2"
    assert [item["input"] for item in _items(project)] == [
        {"question": "<b>refund?</b>"},
        [1, 2],
        4,
    ]
    assert "case-2" in _error(project, 404, "DELETE", "/api/v1/datasets/cases/items/case-2")
    project.ok("DELETE", "/api/v1/datasets/cases")
    assert project.ok("GET", "/api/v1/datasets")["items"] == []
    assert '"cases"' in _error(project, 404, "GET", "/api/v1/datasets/cases/items")


def test_items_from_a_trace_a_session_and_a_turn_keep_their_source(project: Project) -> None:
    session_id = otlp.uid("chat/42")
    traces = project.send(session_id, 3)
    items = "/api/v1/datasets/cases/items"
    from_trace = project.ok("POST", items, 201, json={"from_trace": traces[1].upper()})["item"]
    assert from_trace["input"] == "question 1" and from_trace["expected_output"] == "answer 1"
    assert from_trace["source"] == {
        "session_id": session_id,
        "trace_id": traces[1],
        "turn": None,
        "url": f"/p/{project.name}/traces/{traces[1]}",
    }
    whole = project.ok("POST", items, 201, json={"from_session": session_id})["item"]
    conversation = []
    for turn in range(3):
        conversation += [
            {"role": "user", "content": f"question {turn}"},
            {"role": "assistant", "content": f"answer {turn}"},
        ]
    assert whole["input"] == conversation and whole["expected_output"] is None
    session_page = f"/p/{project.name}/sessions/{quote(session_id, safe='')}"
    assert whole["source"] == {
        "session_id": session_id,
        "trace_id": None,
        "turn": None,
        "url": session_page,
    }
    second = project.ok(
        "POST", items, 201, json={"from_session": session_id, "up_to_turn": 2, "metadata": {"x": 1}}
    )["item"]
    assert second["input"] == conversation[:3] and second["expected_output"] == "answer 1"
    assert second["metadata"] == {"x": 1}
    assert second["source"] == {
        "session_id": session_id,
        "trace_id": traces[1],
        "turn": 2,
        "url": f"{session_page}#turn-{traces[1]}",
    }
    first = project.ok("POST", items, 201, json={"from_session": session_id, "up_to_turn": 1})
    assert first["item"]["input"] == [{"role": "user", "content": "question 0"}]
    for turn in (0, 4, -1):
        message = _error(
            project, 400, "POST", items, json={"from_session": session_id, "up_to_turn": turn}
        )
        assert "up_to_turn must be between 1 and 3" in message and "3 turns" in message
    assert "no-such" in _error(project, 404, "POST", items, json={"from_session": "no-such"})
    missing = "0" * 32
    assert missing in _error(project, 404, "POST", items, json={"from_trace": missing})
    assert len(_items(project)) == 4


def test_jsonl_export_and_import_give_back_the_same_items(project: Project) -> None:
    session_id = otlp.uid("talk")
    project.send(session_id, 2)
    items = "/api/v1/datasets/cases/items"
    project.ok("POST", items, 201, json={"from_session": session_id, "up_to_turn": 2})
    project.ok("POST", items, 201, json={"input": {"q": "\u00e9\U0001f600\n"}, "item_id": "x.1"})
    exported = project.call("GET", items, params={"format": "jsonl"})
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"] == "application/x-ndjson"
    lines = exported.content.splitlines()
    assert len(lines) == 2
    project.ok("POST", "/api/v1/datasets", 201, json={"name": "copy"})
    # the import takes an export's lines as they are (times made anew)
    body = exported.content
    added = project.ok("POST", "/api/v1/datasets/copy/items", 201, content=body, headers=LINES)
    assert added["added"] == 2
    project.ok("POST", "/api/v1/datasets/copy/items", 201, content=body, headers=LINES)
    original, copied = _items(project), _items(project, "copy")
    kept = ("item_id", "input", "expected_output", "metadata", "source")
    assert original[0]["source"]["turn"] == 2
    assert [{k: item[k] for k in kept} for item in copied] == [
        {k: item[k] for k in kept} for item in original
    ]  # imported twice: replaced, not doubled


def test_a_400_names_what_is_wrong(project: Project) -> None:
    items = "/api/v1/datasets/cases/items"
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("POST", "/api/v1/datasets", {"json": {"name": "has space"}}, "name must be"),
        ("POST", "/api/v1/datasets", {"json": {"name": "x", "z": 1}}, "Unknown field 'z'"),
        ("POST", "/api/v1/datasets", {"json": {}}, "must give name"),
        ("POST", items, {"json": {"expected_output": 1}}, "needs an input"),
        ("POST", items, {"json": {"input": 1, "metadata": [1]}}, "metadata must be a JSON object"),
        ("POST", items, {"json": {"input": 1, "other": 1}}, "unknown field 'other'"),
        ("POST", items, {"json": {"input": 1, "item_id": "a/b"}}, "item_id must be"),
        ("POST", items, {"json": {"from_trace": "ab", "from_session": "s"}}, "not both"),
        ("POST", items, {"json": {"from_trace": "ab", "up_to_turn": 1}}, "give from_session"),
        ("POST", items, {"json": {"from_session": "s", "up_to_turn": "2"}}, "up_to_turn must"),
        ("POST", items, {"json": {"items": [{"input": 1}, {"x": 2}]}}, "Item 2: unknown field"),
        ("POST", items, {"content": b'{"input": 1}\n{"input":', "headers": LINES}, "Line 2 is"),
        ("POST", items, {"content": b"[1,", "headers": {}}, "must be a JSON object"),
        ("PATCH", f"{items}/nothing", {"json": {"input": 1}}, '"nothing"'),
        ("GET", items, {"params": {"format": "csv"}}, "format must be"),
        ("GET", "/api/v1/datasets/no-such", {}, 'No dataset "no-such"'),
    ]
    for method, path, options, expected in cases:
        status = 404 if "No " in expected or expected.startswith('"') else 400
        message = _error(project, status, method, path, **options)
        assert expected in message, (method, path, options, message)
    project.ok("POST", items, 201, json={"input": 1, "item_id": "one"})
    message = _error(project, 400, "PATCH", f"{items}/one", json={"input": None})
    assert "input cannot be null" in message
    assert len(_items(project)) == 1


def test_long_values_are_read_whole_into_an_item(project: Project) -> None:
    """A turn whose input is longer than a trace shows (64 KiB) goes into an item whole,
    from the session as from the trace."""
    session_id = otlp.uid("long")
    words = "word " * 20_000  # 100,000 characters
    spans = otlp.conversation_turn(
        session_id,
        0,
        start_ns=time.time_ns(),
        extra_root={"input.value": orjson.dumps({"user_message": words}).decode()},
    )
    answer = otlp.post(project.server.url, project.key, otlp.export(spans))
    assert answer.status_code == 200, answer.text
    project.wait_session(session_id, 1)
    trace_id = next(s.trace_id.hex() for s in spans if not s.parent_span_id)
    items = "/api/v1/datasets/cases/items"
    turn = project.ok("POST", items, 201, json={"from_session": session_id, "up_to_turn": 1})
    assert turn["item"]["input"] == [{"role": "user", "content": words}]
    assert turn["item"]["expected_output"] == "answer 0"
    trace = project.ok("POST", items, 201, json={"from_trace": trace_id})
    assert trace["item"]["input"] == {"user_message": words}
