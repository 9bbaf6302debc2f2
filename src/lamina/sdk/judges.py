"""``lamina.judge``: an evaluator of the project, run by the server, as an experiment's
evaluator (#22): ``evaluate(data, app, {"helpful": lamina.judge("helpfulness")})``.

The server judges each output with the evaluator's own prompt, model and key
(``POST /api/v1/evaluators/{name}/judge``), so an LLM judge gives the same judgement
offline as online and its API key never leaves the server (docs/decisions.md). The
output is judged as one turn: the item's input, then the output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from opentelemetry import trace
from opentelemetry.trace import format_trace_id

from lamina.sdk.experiment_api import Client, ExperimentError
from lamina.sdk.runtime import STATE


@dataclass(frozen=True, slots=True)
class Judge:
    """Called as an evaluator ``(output, expected_output, item)``: the score the
    project's evaluator ``evaluator`` (its name or id) gives the output; raises
    :class:`ExperimentError` when the judge failed, saying why."""

    evaluator: str

    def __call__(self, output: Any, expected_output: Any, item: dict[str, Any]) -> float | None:
        runtime = STATE.runtime
        if runtime is None:
            raise ExperimentError("lamina.judge runs inside lamina.evaluate, after initialize.")
        client = Client(runtime.settings.base_url, runtime.settings.project_api_key)
        body: dict[str, Any] = {"input": item.get("input"), "output": output}
        if isinstance(item.get("metadata"), dict):
            body["metadata"] = item["metadata"]
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            body["trace_id"] = format_trace_id(context.trace_id)
        path = f"/api/v1/evaluators/{quote(self.evaluator, safe='')}/judge"
        answer = client.call("POST", path, body)
        if answer.get("error"):
            raise ExperimentError(f"the judge {self.evaluator!r} failed: {answer['error']}")
        score = answer.get("score") or {}
        value = score.get("value")
        return None if value is None else float(value)


def judge(evaluator: str) -> Judge:
    """An experiment evaluator that asks the server to judge each output with the
    project's evaluator named ``evaluator`` (defined on the Evaluators page or through
    /api/v1/evaluators): ``evaluators={"helpful": lamina.judge("helpfulness")}``."""
    if not isinstance(evaluator, str) or not evaluator:
        raise ValueError("judge takes the name of one of the project's evaluators")
    return Judge(evaluator)
