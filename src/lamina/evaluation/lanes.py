"""The runner's lanes: the LLM judges' workers and the checks' apart (a judge's call, a
second or a minute's timeout, never holds up the checks), and how many runs each
claims at once."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

# Runs claimed at once for each worker: a claim's round trips (a ClickHouse one is
# several statements) are shared by that many runs; their leases cover the wait.
CLAIM_BATCH = 2
# Check runs claimed for each check worker, apart from the LLM judges' runs (whose
# calls must not hold them up): they are done together (lamina.evaluation.target.
# load_many: each session read once for all its checks, in one read for the batch;
# their scores given in one call, the runs saved in one). A batch's claim, save and
# reads each scan a table once whatever its size: the runner's CPU a session checked
# (three checks, 1,500 sessions) was 22 ms at 32, 13 at 128, 7.8 at 256 (loaded).
CHECK_CLAIM = 128


@dataclasses.dataclass
class Lane:
    """One kind of run's workers (LLM judges', or checks'): the runs claimed for them and
    not done (``busy``, at most ``size``); a claim waits until ``least`` places are free."""

    pool: ThreadPoolExecutor
    size: int
    least: int
    busy: int = 0

    def has_room(self) -> bool:
        return self.size - self.busy >= self.least
