"""A target judged again: of an evaluator's ``ok`` runs of one target, the newest
version's keeps its score; the older ones' scores are deleted (the session's summary
counts the newest judgement only) and those runs marked ``superseded_ns``, keeping
their value, label and comment (the history the session page shows struck through).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

from lamina.store.base import Store
from lamina.store.evaluators import Run, RunQuery, RunStatus

# The ok runs of one target read back (every version judged; older ones marked).
RUNS_A_TARGET = 500


def supersede(store: Store, finished: Run) -> Run:
    """``finished`` (saved, ok) among its evaluator's ok runs of its target, and
    ``finished`` as it is now."""
    return supersede_all(store, [finished])[finished.run_id]


def supersede_all(store: Store, finished: Sequence[Run]) -> dict[str, Run]:
    """:func:`supersede` for many saved ok runs, one read of the older runs for each
    evaluator among them; each run by its id as it is now."""
    out = {run.run_id: run for run in finished}
    groups: dict[tuple[str, str], list[Run]] = {}
    for run in finished:
        groups.setdefault((run.project_id, run.evaluator_id), []).append(run)
    for (project_id, evaluator_id), runs in groups.items():
        targets = tuple(dict.fromkeys(run.target_id for run in runs))
        query = RunQuery(
            limit=RUNS_A_TARGET * len(targets), target_ids=targets, status=RunStatus.OK
        )
        mine = {run.run_id for run in runs}
        earlier = [
            r for r in store.list_runs(project_id, evaluator_id, query) if r.run_id not in mine
        ]
        for target_id in targets:
            of_target = [r for r in runs if r.target_id == target_id]
            kept = [r for r in earlier if r.target_id == target_id]
            for run in _marked(store, kept + of_target):
                if run.run_id in out:
                    out[run.run_id] = run
    return out


def _marked(store: Store, runs: list[Run]) -> list[Run]:
    """Of one target's ok runs, all but the newest marked superseded (their scores
    deleted) unless they already were; the runs marked now."""
    newest = max(runs, key=lambda run: (run.queued_ns, run.run_id))
    now = time.time_ns()
    marked = []
    for run in runs:
        if run is newest or run.superseded_ns is not None:
            continue
        if run.score_id is not None:
            store.delete_score(run.project_id, run.score_id)
        run = dataclasses.replace(run, superseded_ns=now)
        store.save_run(run)
        marked.append(run)
    return marked
