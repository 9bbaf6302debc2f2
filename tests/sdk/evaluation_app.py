"""An application and its evaluators, run by ``lamina.evaluate`` in a process of its own
(tests/sdk/test_evaluate.py, tests/cli/test_cli_eval.py). Given by environment:
EVAL_DATA (a dataset's name), EVAL_RUN (``good``: a sync executor; ``worse``: an async
one that answers question 1 wrongly; ``raises``: one that raises on question 2;
``bad_evaluator``: an evaluator that raises), EVAL_OUT (where to write what it computed).
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from lamina import Laminar, evaluate, observe

Laminar.initialize(instrument_modules=[])  # from the environment


def _question(given: Any) -> str:
    if isinstance(given, list):  # a conversation: its last user message
        given = [m["content"] for m in given if m["role"] == "user"][-1]
    return str(given)


@observe()
def lookup(question: str) -> str:
    return "answer " + question.split()[-1]


def good(given: Any) -> str:
    return lookup(_question(given))


async def worse(given: Any) -> str:
    await asyncio.sleep(0.001)
    question = _question(given)
    return "answer 7" if question == "question 1" else lookup(question)


def raises(given: Any) -> str:
    if _question(given) == "question 2":
        raise ValueError("no answer for question 2")
    return good(given)


def exact(output: Any, expected: Any, item: dict[str, Any]) -> bool:
    return bool(output == expected)


def length(output: Any, expected: Any, item: dict[str, Any]) -> int:
    return len(output)


async def style(output: Any, expected: Any, item: dict[str, Any]) -> dict[str, float]:
    return {"polite": 1.0 if "please" in output else 0.0, "short": float(len(output) < 9)}


def broken(output: Any, expected: Any, item: dict[str, Any]) -> float:
    raise RuntimeError("the judge is down")


run = os.environ.get("EVAL_RUN", "good")
executors = {"good": good, "worse": worse, "raises": raises, "bad_evaluator": good}
evaluators: dict[str, Any] = {"exact": exact, "length": length, "style": style}
if run == "bad_evaluator":
    evaluators["broken"] = broken
result = evaluate(
    os.environ["EVAL_DATA"],
    executors[run],
    evaluators,
    name=f"{run} run",
    group="support",
    concurrency=2,
)
if "EVAL_OUT" in os.environ:
    with open(os.environ["EVAL_OUT"], "w") as out:
        json.dump(
            {
                "experiment_id": result.experiment_id,
                "url": result.url,
                "averages": result.averages,
                "items": [
                    {
                        "index": item.index,
                        "output": item.output,
                        "scores": item.scores,
                        "trace_id": item.trace_id,
                        "error": item.error,
                    }
                    for item in result.items
                ],
            },
            out,
        )
