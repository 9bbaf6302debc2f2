"""Judging one target (a session or a trace) for one run: the evaluator's filter and
sample first (a target they leave out is skipped, at no cost), then its check or its
LLM judge; what it gives is an :class:`Outcome`, the score to write and the run's
fields. The runner (lamina.evaluation.runner) does this for each run it claims, and
the dry run (lamina.evaluation.manage) for the target a person names, storing nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from typing import Any

from lamina.evaluation import checks, llm
from lamina.evaluation.clients import Clients
from lamina.evaluation.secrets import KeyBox
from lamina.evaluation.target import Target, metadata
from lamina.judging import Verdict
from lamina.store.base import Store
from lamina.store.evaluators import Evaluator, Run
from lamina.store.scores import Score


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    """What judging a target gave: the score it writes (None: skipped), the run's
    fields beside it, and an LLM judge's verdict (its prompt and raw answer)."""

    score: Score | None
    fields: dict[str, Any]
    verdict: Verdict | None = None


def score_id(run: Run) -> str:
    return "evs_" + run.run_id.removeprefix("run_")


def sampled(evaluator_id: str, target_id: str, rate: float) -> bool:
    digest = hashlib.sha256(f"{evaluator_id}\0{target_id}".encode()).digest()
    return int.from_bytes(digest[:8]) / 2**64 < rate


def matches(spec: dict[str, Any], target: Target) -> bool:
    """Whether one of the target's traces has the filter's name, tag and metadata."""
    wanted = spec.get("filter") or {}
    if not wanted:
        return True
    for trace in target.traces:
        if "name" in wanted and trace.get("name") != wanted["name"]:
            continue
        if "tag" in wanted and wanted["tag"] not in (trace.get("tags") or []):
            continue
        found = metadata(trace)
        if all(str(found.get(k)) == str(v) for k, v in (wanted.get("metadata") or {}).items()):
            return True
    return False


def judge_target(
    store: Store,
    evaluator: Evaluator,
    spec: dict[str, Any],
    target: Target,
    run: Run,
    keys: KeyBox | None,
    allowed: frozenset[str] = frozenset(),
    screened: bool = True,
    clients: Clients | None = None,
) -> Outcome:
    """The target judged as ``spec`` says (filter and sample first, unless not
    ``screened``); an LLM judge's failure is its JudgeError. An LLM judge's client is
    one of ``clients`` (None: made for the call)."""
    if screened and not matches(spec, target):
        return Outcome(
            None, {"error": "Filtered out: no turn has the filter's name, tag and metadata."}
        )
    rate = spec.get("sample_rate", 1.0)
    if screened and not sampled(evaluator.evaluator_id, target.target_id, rate):
        return Outcome(None, {"error": "Sampled out (sample_rate)."})
    if spec["kind"] == "llm_judge":
        found = llm.verdict(evaluator, spec, target, keys, allowed, clients)
        judged = llm.score_of(
            store,
            run.project_id,
            evaluator,
            spec,
            found,
            target.kind,
            target.target_id,
            score_id(run),
        )
        fields = {"value": judged.value, "label": judged.label, "comment": judged.comment}
        fields |= {"trace_id": found.trace_id, **llm.run_fields(found)}
        return Outcome(judged, fields, found)
    finding = checks.run(spec["check"], target)
    score = Score(
        score_id=score_id(run),
        name=evaluator.name,
        value=1.0 if finding.found else 0.0,
        label=None,
        source=f"evaluator:{evaluator.name}",
        author=None,
        session_id=target.target_id if target.kind == "session" else None,
        trace_id=finding.trace_id if target.kind == "session" else target.target_id,
        span_id=None,
        comment=finding.comment,
        created_ns=time.time_ns(),
    )
    return Outcome(
        score, {"value": score.value, "comment": score.comment, "trace_id": finding.trace_id}
    )


def judged_here(evaluator: Evaluator, spec: dict[str, Any], target: Target) -> bool:
    """Whether the target passes the filter and the sample (else it is skipped, at no
    cost to the budget)."""
    rate = spec.get("sample_rate", 1.0)
    return matches(spec, target) and sampled(evaluator.evaluator_id, target.target_id, rate)
