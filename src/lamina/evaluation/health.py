"""An evaluator's state, read from its recent runs, as the API and its pages show it.

``disabled``  switched off (its last error is still shown);
``failing``   its newest failure (a run whose attempt failed, queued again after a
              backoff or ended in an error) is newer than its newest ``ok`` run: its
              endpoint keeps failing, or its judge's answers cannot be read;
``idle``      nothing judged and nothing failed yet (no target went quiet, or every
              one was filtered or sampled out);
``ok``        its newest run that ended ended ``ok``.

A failing evaluator holds up nothing else: its runs wait in the store's queue with
their backoff, ingest never waits for a run, and the other evaluators' runs are
claimed beside them (lamina.evaluation.runner).

Its progress is its runs in hand (:class:`~lamina.store.evaluators.Progress`): those
queued since the oldest not done yet, a backfill's among them, as queued, running,
done (ok or skipped) and failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lamina.query.present import moment
from lamina.store.base import Store
from lamina.store.evaluators import Evaluator, Progress, Run, RunQuery, RunStatus

RECENT_RUNS = 200  # the newest runs (by when queued) the state is read from
STATES = ("ok", "failing", "idle", "disabled")


@dataclass(frozen=True, slots=True)
class Health:
    state: str  # one of STATES
    last_error: str | None  # the newest failure's message, in the server's words
    last_error_ns: int | None
    last_ok_ns: int | None

    def present(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "last_error": self.last_error,
            "last_error_at": moment(self.last_error_ns),
            "last_ok_at": moment(self.last_ok_ns),
        }


def of(evaluator: Evaluator, runs: list[Run]) -> Health:
    """The state ``runs`` (the evaluator's newest) show."""
    last_ok = max(
        (run.finished_ns or 0 for run in runs if run.status == RunStatus.OK), default=None
    )
    failed = max(
        (run for run in runs if run.failed_ns is not None),
        key=lambda run: run.failed_ns or 0,
        default=None,
    )
    failed_ns = failed.failed_ns if failed is not None else None
    if not evaluator.enabled:
        state = "disabled"
    elif failed_ns is not None and failed_ns > (last_ok or 0):
        state = "failing"
    elif last_ok is None:
        state = "idle"
    else:
        state = "ok"
    error = failed.error if failed is not None else None
    return Health(state, error, failed_ns, last_ok)


def read(store: Store, project_id: str, evaluator: Evaluator) -> Health:
    runs = store.list_runs(project_id, evaluator.evaluator_id, RunQuery(limit=RECENT_RUNS))
    return of(evaluator, runs)


def present_progress(progress: Progress) -> dict[str, Any] | None:
    """The runs in hand (a backfill's among them), or None when every run is done."""
    if progress.since_ns is None:
        return None
    return {
        "since": moment(progress.since_ns),
        "total": progress.total,
        "queued": progress.count(RunStatus.QUEUED),
        "running": progress.count(RunStatus.RUNNING),
        "done": progress.count(RunStatus.OK, RunStatus.SKIPPED),
        "failed": progress.count(RunStatus.ERROR),
    }
