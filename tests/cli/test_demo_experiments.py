"""The demo's experiments (#22): two runs of the support bot over the demo dataset, in
one group; comparing the second with the first lists the item that got worse first;
each item's trace is in its run's session with its scores; sending the demo again
changes nothing."""

from __future__ import annotations

import httpx

from lamina import demo
from lamina.demo import experiments as demo_experiments
from tests.conftest import LaminaServer
from tests.support import otlp


def test_the_demo_sends_two_runs_to_compare(server: LaminaServer) -> None:
    _, key = otlp.new_project(server, "demo-runs")
    headers = {"Authorization": f"Bearer {key}"}
    for _ in range(2):
        demo.send(server.url, key)
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as api:
        listed = api.get("/api/v1/experiments", params={"group": "support-bot"}).json()["items"]
        assert [run["experiment_id"] for run in listed] == ["support-bot-v2", "support-bot-v1"]
        assert [run["item_count"] for run in listed] == [4, 4]
        assert set(listed[0]["averages"]) == {"exact", "concise", "polite"}
        answer = api.get(
            "/api/v1/experiments/support-bot-v2", params={"compare": "support-bot-v1"}
        ).json()
        worst = answer["comparison"]["items"][0]
        assert worst["regressed"] and worst["after"]["item_id"] == "refund-turn-2"
        assert worst["after"]["output"] == demo_experiments.WORSE["refund-turn-2"]
        assert [i["regressed"] for i in answer["comparison"]["items"]].count(True) == 1
        item = answer["experiment"]["items"][1]
        trace = api.get(f"/api/v1/traces/{item['trace_id']}").json()
        assert trace["session_id"] == "experiment-support-bot-v2"
        scores = api.get("/api/v1/scores", params={"trace_id": item["trace_id"]}).json()
        assert {s["name"] for s in scores["items"]} == {"exact", "concise", "polite"}
