"""``lamina.evaluate``: run an application over test cases, score what it answers, and
keep the run on the server as an experiment (#22; docs/sdk.md).

Each test case's executor call is a trace of its own (a root span of type EXECUTOR
holding the input and output, with whatever the executor traces inside it) in the
experiment's own session, ``experiment-<id>``. The evaluators run after it, each a
child span of type EVALUATOR; what they return becomes the item's scores, which the
server also keeps as scores of source ``experiment`` on that trace. A progress bar goes
to standard error and a summary table, with the link to the experiment's page, to
standard output.

An executor or evaluator that raises does not stop the run: the item keeps the error,
and the result's ``failed`` is true (``lamina eval`` then exits non-zero).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.context import Context, attach, detach
from opentelemetry.trace import Status, StatusCode, format_trace_id

from lamina.sdk.experiment_api import Client, ExperimentError
from lamina.sdk.laminar import Laminar
from lamina.sdk.progress import Progress, summary
from lamina.sdk.runtime import STATE
from lamina.sdk.serialize import to_json

Executor = Callable[[Any], Any]
Evaluator = Callable[[Any, Any, dict[str, Any]], Any]
# An input, expected output or output sent with the results, in characters: the server
# takes at most 1 MiB of JSON each (a character may take 4 bytes); the trace holds it too.
MAX_VALUE_CHARS = 200_000
SESSION_PREFIX = "experiment-"  # as the server names an experiment's session

_collected: list[EvaluationResult] | None = None


@dataclass(frozen=True, slots=True)
class ItemResult:
    index: int
    input: Any
    expected_output: Any
    output: Any
    scores: dict[str, float | None]
    error: str | None
    trace_id: str | None
    duration_ms: float
    item_id: str | None = None


@dataclass(frozen=True, slots=True)
class EvaluationResult:
    experiment_id: str
    name: str
    group: str
    url: str
    items: list[ItemResult] = field(default_factory=list)

    @property
    def averages(self) -> dict[str, float]:
        """Each score's average over the items that have a number for it."""
        values: dict[str, list[float]] = {}
        for item in self.items:
            for name, value in item.scores.items():
                if value is not None:
                    values.setdefault(name, []).append(value)
        return {name: sum(v) / len(v) for name, v in sorted(values.items())}

    @property
    def errors(self) -> list[ItemResult]:
        return [item for item in self.items if item.error is not None]

    @property
    def failed(self) -> bool:
        """Whether an executor or an evaluator raised."""
        return bool(self.errors)


@contextlib.contextmanager
def collecting() -> Iterator[list[EvaluationResult]]:
    """The results of every evaluate() called inside (what ``lamina eval`` reads)."""
    global _collected
    previous, _collected = _collected, []
    try:
        yield _collected
    finally:
        _collected = previous


def evaluate(
    data: str | Sequence[Mapping[str, Any]],
    executor: Executor,
    evaluators: Mapping[str, Evaluator],
    *,
    name: str | None = None,
    group: str | None = None,
    concurrency: int = 4,
) -> EvaluationResult:
    """Run ``executor`` over ``data`` (a dataset's name, or a list of items each with
    ``input``, and ``expected_output`` and ``metadata`` when there are), score each
    output with ``evaluators`` (``{name: function(output, expected_output, item)}``
    returning a number, a bool or a dict of numbers), and keep the run on the server.
    Initialises the SDK from the environment when ``Laminar.initialize`` has not run.
    Raises :class:`ExperimentError` when the server cannot be reached or refuses."""
    if concurrency < 1:
        raise ValueError("concurrency must be 1 or more")
    if not callable(executor):
        raise TypeError("executor must be a function (sync or async) taking the input")
    for key, function in evaluators.items():
        if not callable(function):
            raise TypeError(f"evaluator {key!r} must be a function")
    if not Laminar.is_initialized():
        Laminar.initialize()
    runtime = STATE.runtime
    assert runtime is not None
    client = Client(runtime.settings.base_url, runtime.settings.project_api_key)
    dataset = data if isinstance(data, str) else None
    items = client.dataset_items(data) if isinstance(data, str) else [dict(one) for one in data]
    for n, item in enumerate(items):
        if not isinstance(item, dict) or "input" not in item:
            raise ValueError(f"item {n} must be a dict with an 'input'")
    experiment_id = uuid.uuid4().hex
    made = client.create(
        {
            "experiment_id": experiment_id,
            "name": name or f"{dataset or 'run'} {time.strftime('%Y-%m-%d %H:%M:%S')}",
            "group": group or dataset or None,
            "dataset": dataset,
        }
    )
    results = _run_all(items, executor, evaluators, experiment_id, concurrency)
    Laminar.flush()  # the traces before the scores that name them
    client.add_items(experiment_id, [_sent(one) for one in results])
    result = EvaluationResult(
        experiment_id, made["name"], made["group"], client.base_url + made["url"], results
    )
    print(summary(result.name, result.averages, len(results), len(result.errors), result.url))
    if _collected is not None:
        _collected.append(result)
    return result


def _run_all(
    items: list[dict[str, Any]],
    executor: Executor,
    evaluators: Mapping[str, Evaluator],
    experiment_id: str,
    concurrency: int,
) -> list[ItemResult]:
    async def run() -> list[ItemResult]:
        gate = asyncio.Semaphore(concurrency)
        progress = Progress(len(items), sys.stderr)

        async def one(index: int, item: dict[str, Any]) -> ItemResult:
            async with gate:
                done = await _one(index, item, executor, evaluators, experiment_id)
            progress.advance()
            return done

        try:
            return list(await asyncio.gather(*(one(n, i) for n, i in enumerate(items))))
        finally:
            progress.close()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run())
    # called from async code (a notebook): run on a thread of its own
    box: list[list[ItemResult]] = []
    worker = threading.Thread(target=lambda: box.append(asyncio.run(run())))
    worker.start()
    worker.join()
    if not box:
        raise ExperimentError("the experiment's run stopped before it finished")
    return box[0]


async def _call(function: Callable[..., Any], *args: Any) -> Any:
    if inspect.iscoroutinefunction(function):
        return await function(*args)
    answer = await asyncio.to_thread(function, *args)
    if inspect.isawaitable(answer):
        return await answer
    return answer


async def _one(
    index: int,
    item: dict[str, Any],
    executor: Executor,
    evaluators: Mapping[str, Evaluator],
    experiment_id: str,
) -> ItemResult:
    token = attach(Context())  # each call a trace of its own
    try:
        with Laminar.with_session(SESSION_PREFIX + experiment_id):
            span_name = getattr(executor, "__name__", "executor")
            given, expected = item.get("input"), item.get("expected_output")
            with Laminar.start_as_current_span(span_name, given, "EXECUTOR") as span:
                context = span.get_span_context()
                trace_id = format_trace_id(context.trace_id) if context.is_valid else None
                started = time.perf_counter()
                output, error = None, None
                try:
                    output = await _call(executor, given)
                    Laminar.set_span_output(output)
                except Exception as exc:
                    error = f"the executor raised {type(exc).__name__}: {exc}"
                    span.record_exception(exc)
                    span.set_status(Status(StatusCode.ERROR, error))
                duration_ms = (time.perf_counter() - started) * 1000
                scores: dict[str, float | None] = {}
                if error is None:
                    error = await _evaluate_all(evaluators, output, expected, item, scores)
    finally:
        detach(token)
    return ItemResult(
        index, given, expected, output, scores, error, trace_id, duration_ms, item.get("item_id")
    )


async def _evaluate_all(
    evaluators: Mapping[str, Evaluator],
    output: Any,
    expected: Any,
    item: dict[str, Any],
    scores: dict[str, float | None],
) -> str | None:
    """Add the evaluators' scores, in their order; the first thing one raised (or
    returned wrongly), if any. The sync ones run on one thread, one after the other
    (a thread for each would cost more than most evaluators take)."""
    sync = {k: e for k, e in evaluators.items() if not inspect.iscoroutinefunction(e)}

    def run_sync() -> dict[str, tuple[Any, str | None]]:
        return {
            key: _judged(key, evaluator, output, expected, item) for key, evaluator in sync.items()
        }

    answers = await asyncio.to_thread(run_sync) if sync else {}
    first: str | None = None
    for key, evaluator in evaluators.items():
        if key in answers:
            answer, problem = answers[key]
            if problem is None and inspect.isawaitable(answer):
                answer = await answer
        else:
            answer, problem = await _judged_async(key, evaluator, output, expected, item)
        problem = problem or _scored(key, answer, scores)
        first = first or problem
    return first


def _judged(
    key: str, evaluator: Evaluator, output: Any, expected: Any, item: dict[str, Any]
) -> tuple[Any, str | None]:
    """What a sync evaluator answered (in its EVALUATOR span), or what it raised."""
    with Laminar.start_as_current_span(key, {"output": output}, "EVALUATOR"):
        try:
            answer = evaluator(output, expected, item)
        except Exception as exc:
            return None, f"the evaluator {key!r} raised {type(exc).__name__}: {exc}"
        Laminar.set_span_output(answer)
    return answer, None


async def _judged_async(
    key: str, evaluator: Evaluator, output: Any, expected: Any, item: dict[str, Any]
) -> tuple[Any, str | None]:
    with Laminar.start_as_current_span(key, {"output": output}, "EVALUATOR"):
        try:
            answer = await evaluator(output, expected, item)
        except Exception as exc:
            return None, f"the evaluator {key!r} raised {type(exc).__name__}: {exc}"
        Laminar.set_span_output(answer)
    return answer, None


def _scored(key: str, answer: Any, scores: dict[str, float | None]) -> str | None:
    """Add the evaluator's answer as scores; what is wrong with it, if anything."""
    named = answer if isinstance(answer, Mapping) else {key: answer}
    for name, value in named.items():
        if isinstance(value, bool) or value is None:
            scores[str(name)] = None if value is None else float(value)
        elif isinstance(value, int | float):
            scores[str(name)] = float(value)
        else:
            return (
                f"the evaluator {key!r} returned {type(value).__name__} for {name!r}: an "
                "evaluator returns a number, a bool or a dict of numbers"
            )
    return None


def _value(value: Any) -> Any:
    text = to_json(value, MAX_VALUE_CHARS)
    try:
        return json.loads(text)
    except ValueError:
        return text


def _sent(item: ItemResult) -> dict[str, Any]:
    return {
        "index": item.index,
        "item_id": item.item_id,
        "input": _value(item.input),
        "expected_output": _value(item.expected_output),
        "output": _value(item.output),
        "error": item.error,
        "trace_id": item.trace_id,
        "duration_ms": item.duration_ms,
        "scores": item.scores,
    }
