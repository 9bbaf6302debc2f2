"""What the API does with evaluators: save a definition (its key sealed), a dry run on
one session or trace, a backfill of the targets of a time range, and runs as shown."""

from __future__ import annotations

import time
from typing import Any

import orjson

from lamina.errors import BadRequest, NotFound
from lamina.evaluation import definition, health
from lamina.evaluation.judgement import judge_target, score_id
from lamina.evaluation.runs import SECOND_NS, queue
from lamina.evaluation.secrets import KeyBox
from lamina.evaluation.target import Target, load
from lamina.judging import JudgeError
from lamina.query import present
from lamina.store.base import Store
from lamina.store.evaluators import Evaluator, Run, RunStatus, run_id
from lamina.store.rows import new_id

MAX_BACKFILL = 100_000
# a dry run's answer: the score (or why skipped, or the error) and an LLM judge's call
TRIED = (
    "skipped",
    "score",
    "error",
    "prompt",
    "raw",
    "turn",
    "input_tokens",
    "output_tokens",
    "cost",
    "latency_ms",
)
GIVEN = ("input", "output", "metadata", "trace_id")  # what judge_given takes


def find(store: Store, project_id: str, evaluator_id: str) -> Evaluator:
    for evaluator in store.list_evaluators(project_id):
        if evaluator.evaluator_id == evaluator_id:
            return evaluator
    raise NotFound(f'No evaluator "{evaluator_id[:100]}" in this project.')


def find_named(store: Store, project_id: str, wanted: str) -> Evaluator:
    """The evaluator whose id, else whose name, is ``wanted`` (an experiment names its
    judges: ``lamina.judge("helpfulness")``)."""
    found = store.list_evaluators(project_id)
    for evaluator in found:
        if evaluator.evaluator_id == wanted:
            return evaluator
    for evaluator in found:
        if evaluator.name == wanted:
            return evaluator
    raise NotFound(
        f'No evaluator named "{wanted[:100]}" in this project (GET /api/v1/evaluators '
        "lists them; an evaluator is defined there or on the Evaluators page)."
    )


def save(
    store: Store, keys: KeyBox, project_id: str, given: Any, evaluator_id: str | None = None
) -> Evaluator:
    """Create an evaluator (``evaluator_id`` None) or change one."""
    stored = find(store, project_id, evaluator_id) if evaluator_id is not None else None
    checked, api_key = definition.parse(given, stored)
    if api_key is definition.UNSET:
        secret = stored.secret if stored is not None else None
    else:
        secret = keys.seal(api_key) if api_key is not None else None
    if checked.spec.get("kind") != "llm_judge":
        secret = None
    now = time.time_ns()
    evaluator = Evaluator(
        evaluator_id=stored.evaluator_id if stored is not None else new_id("evl"),
        name=checked.name,
        target=checked.target,
        enabled=checked.enabled,
        definition=definition.dumps(checked.spec),
        secret=secret,
        created_ns=stored.created_ns if stored is not None else now,
        updated_ns=now,
    )
    return store.put_evaluator(project_id, evaluator)


def dry_run(
    store: Store,
    keys: KeyBox,
    project_id: str,
    evaluator: Evaluator,
    given: Any,
    allowed: frozenset[str] = frozenset(),
) -> Any:
    """What the evaluator would give the session or trace ``given`` names, unsaved: the
    score, and an LLM judge's filled prompt and raw answer (its error, with the prompt
    and answer it got to, when the judge failed). The daily budget does not apply: a
    person asked for this call."""
    if not isinstance(given, dict) or set(given) - {"session_id", "trace_id"}:
        raise BadRequest("Give the session_id or the trace_id to try the evaluator on.")
    field = "session_id" if evaluator.target == "session" else "trace_id"
    target_id = given.get(field)
    if not isinstance(target_id, str) or not target_id:
        raise BadRequest(f"This evaluator judges a {evaluator.target}: give its {field}.")
    spec = definition.spec_of(evaluator)
    target = load(store, project_id, evaluator.target, target_id)
    if target is None:
        raise NotFound(f'No {evaluator.target} "{target_id[:100]}" in this project.')
    return _tried(store, keys, project_id, evaluator, spec, target, allowed, screened=True)


def judge_given(
    store: Store,
    keys: KeyBox,
    project_id: str,
    evaluator: Evaluator,
    given: Any,
    allowed: frozenset[str] = frozenset(),
) -> Any:
    """What the evaluator gives an output it is handed (an experiment's, #22) rather than
    a stored trace: ``{"input", "output", "metadata"?, "trace_id"?}`` read as one turn,
    judged by the same prompt and model as online, with the dry run's answer. The filter
    and the sample are not applied (the caller named this evaluator for these outputs),
    and nothing is stored: the experiment keeps the score (docs/decisions.md)."""
    if not isinstance(given, dict) or "output" not in given or set(given) - set(GIVEN):
        raise BadRequest(
            'Give the output to judge: {"input": ..., "output": ..., "metadata"?: '
            '{...}, "trace_id"?: "..."}.'
        )
    trace_id = given.get("trace_id") or new_id("given")
    extra = given.get("metadata")
    if not isinstance(trace_id, str) or len(trace_id) > 100:
        raise BadRequest("trace_id is the id of the trace the output is from (text).")
    if extra is not None and not isinstance(extra, dict):
        raise BadRequest("metadata is an object (or null).")
    now = time.time_ns()
    root = {
        "span_id": "given",
        "parent_span_id": None,
        "name": "given",
        "span_type": "DEFAULT",
        "status": "ok",
        "status_message": None,
        "start_ns": now,
        "end_ns": now,
        "events": None,
        "input": orjson.dumps(given.get("input"), default=str).decode(),
        "output": orjson.dumps(given["output"], default=str).decode(),
    }
    trace = {
        "trace_id": trace_id,
        "start_ns": now,
        "end_ns": now,
        "error_count": 0,
        "cost": None,
        "metadata": extra,
        "spans": [root],
    }
    target = Target(evaluator.target, trace_id, None, [trace])
    spec = definition.spec_of(evaluator)
    return _tried(store, keys, project_id, evaluator, spec, target, allowed, screened=False)


def _tried(
    store: Store,
    keys: KeyBox,
    project_id: str,
    evaluator: Evaluator,
    spec: dict[str, Any],
    target: Target,
    allowed: frozenset[str],
    *,
    screened: bool,
) -> Any:
    run = Run(
        project_id=project_id,
        run_id=run_id(evaluator.evaluator_id, target.target_id, "test"),
        evaluator_id=evaluator.evaluator_id,
        target=evaluator.target,
        target_id=target.target_id,
        version="test",
        status=RunStatus.RUNNING,
        queued_ns=time.time_ns(),
    )
    answer: dict[str, Any] = dict.fromkeys(TRIED)
    try:
        outcome = judge_target(store, evaluator, spec, target, run, keys, allowed, screened)
    except JudgeError as exc:
        return answer | {"error": exc.message, "prompt": exc.prompt, "raw": exc.raw}
    if outcome.verdict is not None:
        found = outcome.verdict
        answer |= {"prompt": found.prompt, "raw": found.raw, "turn": found.turn}
        answer |= {"input_tokens": found.input_tokens, "output_tokens": found.output_tokens}
        answer |= {"cost": present.cost(found.cost), "latency_ms": found.latency_ms}
    if outcome.score is None:
        return answer | {"skipped": outcome.fields.get("error")}
    shown = present.score(outcome.score)
    shown["score_id"] = None  # nothing is stored
    return answer | {"score": shown}


def backfill(
    store: Store, project_id: str, evaluator: Evaluator, since_ns: int, until_ns: int
) -> int:
    """Queue the targets whose last span ended between the two times (and that went
    quiet): how many runs were queued."""
    spec = definition.spec_of(evaluator)
    now = time.time_ns()
    until_ns = min(until_ns, now - spec.get("quiet_seconds", 0) * SECOND_NS)
    queued = 0
    while queued < MAX_BACKFILL:
        windows = {evaluator.evaluator_id: (since_ns, until_ns)}
        found = store.quiet_targets(project_id, evaluator.target, windows, 1000)
        if not found[evaluator.evaluator_id]:
            break
        added = queue(store, project_id, [evaluator], found, now)
        queued += added
        if not added:
            break
    return queued


def shown(store: Store, project_id: str, evaluator: Evaluator) -> dict[str, Any]:
    """The evaluator as a GET answers it (the API and the CLI): its definition and its
    state (lamina.evaluation.health)."""
    return definition.present(evaluator) | health.read(store, project_id, evaluator).present()


def present_run(run: Run) -> dict[str, Any]:
    return {
        "id": run.run_id,
        "target": run.target,
        "target_id": run.target_id,
        "version": run.version,
        "status": str(run.status),
        "attempts": run.attempts,
        "queued_at": present.moment(run.queued_ns),
        "finished_at": present.moment(run.finished_ns),
        "score_id": run.score_id,
        "value": run.value,
        "label": run.label,
        "comment": run.comment,
        "trace_id": run.trace_id,
        "latency_ms": run.latency_ms,
        "input_tokens": run.input_tokens,
        "output_tokens": run.output_tokens,
        "cost": present.cost(run.cost),
        "error": run.error,
        "superseded": run.superseded_ns is not None,
        "superseded_at": present.moment(run.superseded_ns),
        "failed_at": present.moment(run.failed_ns),
    }


__all__ = [
    "backfill",
    "dry_run",
    "find",
    "find_named",
    "judge_given",
    "present_run",
    "save",
    "score_id",
    "shown",
]
