"""The evaluators' part of the Store protocol (lamina.store.base.Store): evaluators,
their runs' queue, and what the runner reads of their targets (lamina.evaluation)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from lamina.store.evaluators import Evaluator, Progress, Quiet, Run, RunQuery

Row = dict[str, Any]  # as lamina.store.base.Row


class EvaluatorStore(Protocol):
    def reading_stored(self) -> AbstractContextManager[None]:
        """Within it, this thread's reads may see only what the store has stored, not
        writes acknowledged and not stored yet (the DuckDB store's journal), and never
        store them first: for a background reader that must not slow ingest."""

    def put_evaluator(self, project_id: str, evaluator: Evaluator) -> Evaluator:
        """Create the evaluator, or replace the project's one of its id (Conflict when
        another of the project's evaluators has its name)."""

    def list_evaluators(self, project_id: str) -> list[Evaluator]:
        """The project's evaluators, by name."""

    def delete_evaluator(self, project_id: str, evaluator_id: str) -> Evaluator | None:
        """The evaluator and its runs (their scores stay)."""

    def quiet_targets(
        self, project_id: str, target: str, windows: Mapping[str, tuple[int, int]], limit: int
    ) -> dict[str, list[Quiet]]:
        """For each evaluator of ``windows`` (its id: since_ns, until_ns), the project's
        sessions (``target`` "session") or traces ("trace") whose last span ended in
        [since_ns, until_ns] and that have no run of the evaluator at their current
        version (a version changes when spans are added), the first ``limit`` oldest
        first; in one read for all of them (the runner's poll). A run of a version is
        taken to be queued after the version ended (as the runner and a backfill queue
        them). The sessions of the project's experiments and their traces are not among
        them (an experiment names its own judges: lamina.judge)."""

    def queue_runs(self, project_id: str, runs: Sequence[Run]) -> int:
        """Store the runs whose run_id the project has not; how many were new."""

    def claim_runs(
        self,
        owner: str,
        now_ns: int,
        lease_ns: int,
        limit: int,
        of: Sequence[str] | None = None,
        not_of: Sequence[str] = (),
    ) -> list[Run]:
        """Hold up to ``limit`` runs of any project for ``owner`` until now + lease:
        queued ones due by now, and running ones whose lease ran out (their server
        stopped), the oldest queued first and, of those queued at one time, a target's
        runs together (a poll queues every evaluator's at one time: a batch of checks
        then reads a session once for all of them); only runs of the evaluators ``of``
        (None: any) and of none ``not_of`` (the runner claims checks apart from LLM
        judges, which must not hold them up). Two servers never both hold one run. The
        runs come back running, ``attempts`` counted; :meth:`save_run` then writes each
        one's end."""

    def save_run(self, run: Run) -> None:
        """Write the run's new state (its evaluator's project keeps it)."""

    def save_runs(self, runs: Sequence[Run]) -> None:
        """:meth:`save_run` for many runs (of any projects) at once."""

    def check_traces(
        self,
        project_id: str,
        trace_ids: Sequence[str],
        payloads: Sequence[str] = ("input", "output"),
        spans_of: Collection[str] | None = None,
    ) -> list[Row]:
        """:meth:`get_traces` as a check reads them (lamina.evaluation.checks): each
        trace's fields and its spans' ``lamina.store.rows.CHECK_SPAN_FIELDS`` (input and
        output cut as get_traces cuts them, named in ``truncated``), without scores,
        comments or the spans' attributes, events, resource and metadata; of input and
        output only those in ``payloads`` (the others None); only the spans of the
        ``lamina.store.rows.CHECK_SPAN_KINDS`` in ``spans_of`` (None: every span; none:
        no span, each trace's ``spans`` empty). A trace's row has no previews (no check
        reads them)."""

    def check_sessions(
        self,
        project_id: str,
        session_ids: Sequence[str],
        payloads: Sequence[str] = ("input", "output"),
        spans_of: Collection[str] | None = None,
        most_turns: int = 200,
    ) -> dict[str, list[Row]]:
        """Each of ``session_ids`` the project has (absent: a session it has not): its
        traces in time order (start, then id), as :meth:`check_traces` reads them; a
        session of more than ``most_turns`` traces: its first and last halves of that
        many. A batch of checks' sessions, read together."""

    def list_runs(self, project_id: str, evaluator_id: str, query: RunQuery) -> list[Run]:
        """The evaluator's runs, newest queued first (those of another project: none)."""

    def judged_again(
        self, project_id: str, evaluator_ids: Sequence[str], target_ids: Sequence[str]
    ) -> list[Run]:
        """The project's ``ok`` runs not marked superseded of the evaluators
        ``evaluator_ids`` on the targets ``target_ids``, of each evaluator and target
        that has two or more of them (a target judged again), in no order: one read for
        a batch of runs done (lamina.evaluation.superseding)."""

    def run_progress(self, project_id: str, evaluator_id: str) -> Progress:
        """How many of the evaluator's runs queued since the oldest one not done yet
        are in each status (another project's: none)."""
