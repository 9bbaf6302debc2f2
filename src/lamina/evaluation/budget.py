"""An LLM judge's daily budget: judge calls and tokens a UTC day, per evaluator.

``budget: {"calls_per_day": N, "tokens_per_day": M}`` in the definition (defaults
below). A call is one judgement (its retries and its repair included), counted as a
run that reached the judge; tokens are its input and output tokens. The count is read
from the evaluator's runs finished since midnight UTC (at most every REFRESH_NS, so
servers sharing a store see each other's spending within that) plus what this server
spent since; a restart reads it again, so nothing is forgotten. A run over the budget
is not lost: it waits, queued, until the next UTC day, its error saying so.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from lamina.store.base import Store
from lamina.store.evaluators import Run, RunQuery, RunStatus

DEFAULT_CALLS_PER_DAY = 1_000
DEFAULT_TOKENS_PER_DAY = 5_000_000
DAY_NS = 86_400 * 1_000_000_000
REFRESH_NS = 30 * 1_000_000_000
# the runs read to count a day: the newest queued this many beyond the call budget
READ_SLACK = 500


def limits(spec: dict[str, Any]) -> tuple[int, int]:
    budget = spec.get("budget") or {}
    return (
        budget.get("calls_per_day", DEFAULT_CALLS_PER_DAY),
        budget.get("tokens_per_day", DEFAULT_TOKENS_PER_DAY),
    )


def next_day(now: int) -> int:
    return now - now % DAY_NS + DAY_NS


@dataclass(slots=True)
class _Spent:
    day: int
    read_ns: int
    calls: int
    tokens: int


class Budgets:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._spent: dict[str, _Spent] = {}
        self._lock = threading.Lock()

    def over(self, run: Run, spec: dict[str, Any], now: int) -> str | None:
        """Why the run must wait for the next day, or None when the budget has room."""
        calls, tokens = limits(spec)
        spent = self._read(run, calls, now)
        if spent.calls >= calls:
            return (
                f"The evaluator made its {calls} judge calls of today (its budget's "
                "calls_per_day); this run waits for 00:00 UTC."
            )
        if spent.tokens >= tokens:
            return (
                f"The evaluator used its {tokens:,} tokens of today (its budget's "
                "tokens_per_day); this run waits for 00:00 UTC."
            )
        return None

    def spend(self, evaluator_id: str, tokens: int, now: int) -> None:
        with self._lock:
            spent = self._spent.get(evaluator_id)
            if spent is not None and spent.day == now - now % DAY_NS:
                spent.calls += 1
                spent.tokens += tokens

    def _read(self, run: Run, calls: int, now: int) -> _Spent:
        day = now - now % DAY_NS
        with self._lock:
            spent = self._spent.get(run.evaluator_id)
            if spent is not None and spent.day == day and now - spent.read_ns < REFRESH_NS:
                return _Spent(spent.day, spent.read_ns, spent.calls, spent.tokens)
        counted = _Spent(day, now, 0, 0)
        for status in (RunStatus.OK, RunStatus.ERROR):
            query = RunQuery(limit=calls + READ_SLACK, status=status)
            for done in self.store.list_runs(run.project_id, run.evaluator_id, query):
                if (done.finished_ns or 0) >= day and done.input_tokens is not None:
                    counted.calls += 1
                    counted.tokens += done.input_tokens + (done.output_tokens or 0)
        with self._lock:
            self._spent[run.evaluator_id] = counted
        return _Spent(day, now, counted.calls, counted.tokens)
