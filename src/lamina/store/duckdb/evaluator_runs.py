"""The Store protocol's evaluator methods (lamina.store.evaluator_store), for the DuckDB
store's class (the rows: lamina.store.duckdb.evaluators; what checks read:
lamina.store.duckdb.check_reads)."""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Mapping, Sequence

from lamina.store.base import Row
from lamina.store.duckdb import check_reads
from lamina.store.duckdb import evaluators as rows
from lamina.store.duckdb.connection import Connection
from lamina.store.duckdb.settled import reading_stored, settled
from lamina.store.evaluators import Evaluator, Progress, Quiet, Run, RunQuery


class EvaluatorRuns:
    """Evaluators and their runs (queue and record)."""

    _connection: Connection
    _whole_before: int  # spans below this seq may hold long values whole (see the store)
    _leases_released = False  # its evaluator runs' leases, at its first claim

    def reading_stored(self) -> contextlib.AbstractContextManager[None]:
        return reading_stored()

    def put_evaluator(self, project_id: str, evaluator: Evaluator) -> Evaluator:
        return rows.put_evaluator(self._connection, project_id, evaluator)

    def list_evaluators(self, project_id: str) -> list[Evaluator]:
        return rows.list_evaluators(self._connection, project_id)

    def delete_evaluator(self, project_id: str, evaluator_id: str) -> Evaluator | None:
        return rows.delete_evaluator(self._connection, project_id, evaluator_id)

    @settled
    def quiet_targets(
        self, project_id: str, target: str, windows: Mapping[str, tuple[int, int]], limit: int
    ) -> dict[str, list[Quiet]]:
        return rows.quiet_targets(self._connection, project_id, target, windows, limit)

    def queue_runs(self, project_id: str, runs: Sequence[Run]) -> int:
        return rows.queue_runs(self._connection, project_id, runs)

    def claim_runs(
        self,
        owner: str,
        now_ns: int,
        lease_ns: int,
        limit: int,
        of: Sequence[str] | None = None,
        not_of: Sequence[str] = (),
    ) -> list[Run]:
        if not self._leases_released:  # no other process can hold one (see the module)
            rows.release_leases(self._connection)
            self._leases_released = True
        return rows.claim_runs(self._connection, owner, now_ns, lease_ns, limit, of, not_of)

    def save_run(self, run: Run) -> None:
        rows.save_run(self._connection, run)

    def save_runs(self, runs: Sequence[Run]) -> None:
        rows.save_runs(self._connection, runs)

    @settled
    def check_traces(
        self,
        project_id: str,
        trace_ids: Sequence[str],
        payloads: Sequence[str] = ("input", "output"),
        spans_of: Collection[str] | None = None,
    ) -> list[Row]:
        return check_reads.check_traces(
            self._connection, project_id, trace_ids, self._whole_before, payloads, spans_of
        )

    @settled
    def check_sessions(
        self,
        project_id: str,
        session_ids: Sequence[str],
        payloads: Sequence[str] = ("input", "output"),
        spans_of: Collection[str] | None = None,
        most_turns: int = 200,
    ) -> dict[str, list[Row]]:
        return check_reads.check_sessions(
            self._connection,
            project_id,
            session_ids,
            self._whole_before,
            payloads,
            spans_of,
            most_turns,
        )

    def list_runs(self, project_id: str, evaluator_id: str, query: RunQuery) -> list[Run]:
        return rows.list_runs(self._connection, project_id, evaluator_id, query)

    def judged_again(
        self, project_id: str, evaluator_ids: Sequence[str], target_ids: Sequence[str]
    ) -> list[Run]:
        return rows.judged_again(self._connection, project_id, evaluator_ids, target_ids)

    def run_progress(self, project_id: str, evaluator_id: str) -> Progress:
        return rows.run_progress(self._connection, project_id, evaluator_id)
