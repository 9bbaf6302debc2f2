"""The demo's dataset (#22): the demo sends a dataset made from its sessions (the whole
refund conversation, two conversations up to their second turn, a trace), each item
linked to where it came from; sending the demo again adds no item twice."""

from __future__ import annotations

from typing import Any

import httpx

from lamina import demo
from lamina.demo import datasets as demo_datasets
from lamina.demo.spans import demo_sessions
from tests.conftest import LaminaServer
from tests.support import otlp


def test_the_demo_sends_a_dataset_made_from_its_sessions(server: LaminaServer) -> None:
    _, key = otlp.new_project(server, "demo-sets")
    headers = {"Authorization": f"Bearer {key}"}
    for _ in range(2):
        demo.send(server.url, key)
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as api:
        (listed,) = api.get("/api/v1/datasets").json()["items"]
        answer = api.get(f"/api/v1/datasets/{demo_datasets.NAME}/items")
    assert listed["name"] == demo_datasets.NAME and listed["item_count"] == 4
    items: dict[str, dict[str, Any]] = {i["item_id"]: i for i in answer.json()["items"]}
    assert list(items) == [item_id for item_id, _, _ in demo_datasets.ITEMS]
    refund = next(s for s in demo_sessions() if s.story == "refund")
    whole, turn = items["refund-conversation"], items["refund-turn-2"]
    assert [m["role"] for m in whole["input"]] == ["user", "assistant"] * 4
    assert whole["source"]["session_id"] == refund.session_id and whole["source"]["turn"] is None
    assert (
        turn["input"] == whole["input"][:3]
        and turn["expected_output"] == whole["input"][3]["content"]
    )
    assert turn["source"]["trace_id"] == refund.trace_ids()[1] and turn["source"]["turn"] == 2
    assert turn["source"]["url"].endswith(f"#turn-{refund.trace_ids()[1]}")
    assert items["discount-first-trace"]["source"]["turn"] is None
    assert items["discount-first-trace"]["expected_output"] is not None
