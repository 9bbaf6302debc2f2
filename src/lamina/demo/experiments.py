"""The demo's experiments (#22): two runs of the support bot over the dataset
``support-regressions`` (lamina.demo.datasets), in the group ``support-bot``, sent as
``lamina.evaluate`` sends them: each item's call a trace in the run's session (an
EXECUTOR root with the input and output, the bot's LLM call, an EVALUATOR child per
score), then the run
and its items through the JSON API. The second run ("prompt v2") answers the refund
question worse and the shipping one better, so comparing it with the first shows an item
that got worse first. Fixed ids (and trace ids from a fixed seed): sending the demo
again changes nothing."""

from __future__ import annotations

import gzip
import random
import time
from typing import Any

import httpx
import orjson

from lamina.demo.builder import MS, TraceBuilder, llm_span
from lamina.demo.datasets import NAME as DATASET
from lamina.demo.spans import export_request

GROUP = "support-bot"
RUNS = [("support-bot-v1", "prompt v1"), ("support-bot-v2", "prompt v2")]
# what the second run answers instead of the expected reply, by dataset item id
WORSE = {"refund-turn-2": "Please contact our billing team about refunds."}
BETTER = {"discount-first-trace"}  # the first run's reply to it is cut short
SCORES = ("exact", "concise", "polite")
SPANS_PER_ITEM = 2 + len(SCORES)  # the call, its LLM call, an evaluator span per score


def _reply(run: int, item: dict[str, Any]) -> str:
    expected = item.get("expected_output")
    item_id = item["item_id"]
    if not isinstance(expected, str):
        return "Thanks for your patience! Is there anything else I can help with?"
    if run == 1 and item_id in WORSE:
        return WORSE[item_id]
    if run == 0 and item_id in BETTER:
        return expected.split(".")[0] + "."
    return expected


def _scores(output: str, expected: Any) -> dict[str, float | None]:
    return {
        "exact": None if expected is None else float(output == expected),
        "concise": float(len(output) <= 240),
        "polite": float(any(word in output.lower() for word in ("please", "thanks", "happy"))),
    }


def _trace(
    rng: random.Random, session: str, item: dict[str, Any], output: str, start_ns: int
) -> tuple[TraceBuilder, float]:
    builder = TraceBuilder(rng, start_ns)
    duration = 300 + rng.random() * 900
    root = builder.span(
        "support_bot",
        start_ns,
        duration + 2,
        {
            "session.id": session,
            "lamina.span.type": "EXECUTOR",
            "input.value": orjson.dumps(item["input"]).decode(),
            "output.value": orjson.dumps(output).decode(),
        },
    )
    given = item["input"]
    if isinstance(given, list):
        messages = [{"role": str(m["role"]), "content": str(m["content"])} for m in given]
    else:
        messages = [{"role": "user", "content": orjson.dumps(given).decode()}]
    words = sum(len(m["content"].split()) for m in messages)
    llm_span(
        builder,
        root,
        start_ns + MS,
        "gpt-4o-mini",
        "openai",
        messages,
        output,
        60 + 2 * words,
        len(output.split()) * 2,
        duration - 5,
    )
    for n, name in enumerate(SCORES):
        builder.span(
            name,
            start_ns + int((duration + n * 0.5) * MS),
            0.4,
            {"lamina.span.type": "EVALUATOR", "input.value": orjson.dumps(output).decode()},
            parent=root,
        )
    return builder, duration


def send_experiments(client: httpx.Client) -> int:
    """Both runs over the demo dataset's items, through ``client``; how many items."""
    answer = client.get(f"/api/v1/datasets/{DATASET}/items", params={"limit": 100})
    _check(answer)
    items = answer.json()["items"]
    rng = random.Random(22)
    start = time.time_ns() - 2 * 3600 * 1_000_000_000
    runs = []
    for run, (run_id, name) in enumerate(RUNS):
        session = f"experiment-{run_id}"
        sent, traces = [], []
        for index, item in enumerate(items):
            output = _reply(run, item)
            at = start + (run * 3600 + index * 2) * 1_000_000_000
            builder, duration = _trace(rng, session, item, output, at)
            traces.append(builder.spans)
            sent.append(
                {
                    "index": index,
                    "item_id": item["item_id"],
                    "input": item["input"],
                    "expected_output": item["expected_output"],
                    "output": output,
                    "trace_id": builder.trace_id.hex(),
                    "duration_ms": round(duration, 1),
                    "scores": _scores(output, item["expected_output"]),
                }
            )
        runs.append((run_id, name, sent, traces))
    spans = [trace for *_, traces in runs for trace in traces]
    _check(
        client.post(
            "/v1/traces",
            content=gzip.compress(export_request(spans, "support-bot").SerializeToString()),
            headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
        )
    )
    for run_id, name, sent, _ in runs:
        body = {"experiment_id": run_id, "name": name, "group": GROUP, "dataset": DATASET}
        _check(client.post("/api/v1/experiments", json=body))
        _check(client.post(f"/api/v1/experiments/{run_id}/items", json={"items": sent}))
    return sum(len(sent) for _, _, sent, _ in runs)


def _check(response: httpx.Response) -> None:
    if response.status_code not in (200, 201):
        raise RuntimeError(
            f"The server refused the demo's experiments ({response.request.url.path}): "
            f"{response.status_code} {response.text[:200]}"
        )
