"""What becomes of an evaluator's runs apart from being judged: queued for the targets
that went quiet, skipped, queued again after a backoff (up to MAX_ATTEMPTS) or to wait
for their budget's next day. The runner (lamina.evaluation.runner) and the evaluators'
backfill (lamina.evaluation.manage) use them."""

from __future__ import annotations

import dataclasses

from lamina.store.base import Store
from lamina.store.evaluators import Evaluator, Quiet, Run, RunStatus, run_id

MAX_ATTEMPTS = 5
BACKOFF_SECONDS = (5, 30, 120, 600)
SECOND_NS = 1_000_000_000


def queue(
    store: Store,
    project_id: str,
    evaluators: list[Evaluator],
    found: dict[str, list[Quiet]],
    now: int,
) -> int:
    """Queue a run of each evaluator for each of its targets ``found`` (by evaluator
    id), all at one time (a claim then takes a target's runs together); how many were
    new."""
    runs = [
        Run(
            project_id=project_id,
            run_id=run_id(evaluator.evaluator_id, quiet.target_id, quiet.version),
            evaluator_id=evaluator.evaluator_id,
            target=evaluator.target,
            target_id=quiet.target_id,
            version=quiet.version,
            status=RunStatus.QUEUED,
            queued_ns=now,
        )
        for evaluator in evaluators
        for quiet in found.get(evaluator.evaluator_id, [])
    ]
    return store.queue_runs(project_id, runs) if runs else 0


def skipped(run: Run, why: str) -> Run:
    return dataclasses.replace(run, status=RunStatus.SKIPPED, error=why)


def again(run: Run, why: str, now: int, at_least_s: float | None = None) -> Run:
    """The run queued again after a backoff (at least ``at_least_s``: the endpoint's
    Retry-After), or its error once MAX_ATTEMPTS were made."""
    if run.attempts >= MAX_ATTEMPTS:
        return dataclasses.replace(
            run,
            status=RunStatus.ERROR,
            error=why,
            finished_ns=now,
            failed_ns=now,
            lease_owner=None,
        )
    wait = max(BACKOFF_SECONDS[min(run.attempts, len(BACKOFF_SECONDS)) - 1], at_least_s or 0)
    return dataclasses.replace(
        run,
        status=RunStatus.QUEUED,
        error=why,
        failed_ns=now,
        not_before_ns=now + int(wait * SECOND_NS),
        lease_owner=None,
        lease_until_ns=0,
    )


def waits(run: Run, why: str, until_ns: int) -> Run:
    """The run queued again until ``until_ns`` (its budget's next day); the wait is not
    an attempt."""
    return dataclasses.replace(
        run,
        status=RunStatus.QUEUED,
        error=why,
        attempts=max(run.attempts - 1, 0),
        not_before_ns=until_ns,
        lease_owner=None,
        lease_until_ns=0,
    )


__all__ = ["BACKOFF_SECONDS", "MAX_ATTEMPTS", "again", "queue", "skipped", "waits"]
