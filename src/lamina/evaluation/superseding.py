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
from lamina.store.evaluators import Run


def supersede(store: Store, finished: Run) -> Run:
    """``finished`` (saved, ok) among its evaluator's ok runs of its target, and
    ``finished`` as it is now."""
    return supersede_all(store, [finished])[finished.run_id]


def supersede_all(store: Store, finished: Sequence[Run]) -> dict[str, Run]:
    """:func:`supersede` for many saved ok runs, one read a project of the targets
    judged again among them (:meth:`Store.judged_again`); each run by its id as it is
    now."""
    out = {run.run_id: run for run in finished}
    by_project: dict[str, set[tuple[str, str]]] = {}
    for run in finished:
        by_project.setdefault(run.project_id, set()).add((run.evaluator_id, run.target_id))
    for project_id, pairs in by_project.items():
        evaluators = sorted({evaluator_id for evaluator_id, _ in pairs})
        targets = sorted({target_id for _, target_id in pairs})
        again: dict[tuple[str, str], list[Run]] = {}
        for run in store.judged_again(project_id, evaluators, targets):
            if (run.evaluator_id, run.target_id) in pairs:
                again.setdefault((run.evaluator_id, run.target_id), []).append(run)
        for runs in again.values():
            for run in _marked(store, runs):
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
