"""Recognising a client's retry: a request whose answer was lost is sent again, and
must not be stored twice.

Each batch carries its request's digest (lamina.spans.batch.ColumnBatch). The digests
journaled within the last hour are remembered, in memory and in the store's
``request_digests`` table (recorded in the transaction that stores their spans, so a
crash forgets none); a batch whose digest is among them is skipped.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

import duckdb
import pyarrow as pa

from lamina.spans.batch import ColumnBatch
from lamina.store.duckdb.backlog import Digest
from lamina.store.duckdb.connection import append

# How long a committed request is remembered, to recognise a client's retry.
RETRY_WINDOW_NS = 3600 * 1_000_000_000


class Retries:
    """The requests journaled within RETRY_WINDOW_NS. Not thread-safe: the storer calls
    it under its write lock."""

    def __init__(self, con: duckdb.DuckDBPyConnection, unstored: Iterable[Digest]) -> None:
        """Those recorded in the store, and ``unstored``: journaled, not stored yet."""
        horizon = time.time_ns() - RETRY_WINDOW_NS
        self._recent: dict[tuple[str, str], int] = {
            (project_id, digest): at_ns
            for project_id, digest, at_ns in con.execute(
                "SELECT project_id, digest, at_ns FROM request_digests WHERE at_ns >= ?", [horizon]
            ).fetchall()
        }
        self.remember(unstored)
        self._pruned = 0

    def remember(self, digests: Iterable[Digest]) -> None:
        self._recent.update(((project_id, digest), at) for project_id, digest, at in digests)

    def fresh(self, batches: Sequence[ColumnBatch]) -> tuple[list[ColumnBatch], list[Digest]]:
        """The batches not journaled before, and the digests to record for them."""
        now = time.time_ns()
        if now - self._pruned > RETRY_WINDOW_NS // 60:
            horizon = now - RETRY_WINDOW_NS
            self._recent = {key: at for key, at in self._recent.items() if at >= horizon}
            self._pruned = now
        fresh: list[ColumnBatch] = []
        digests: list[Digest] = []
        seen: set[tuple[str, str]] = set()
        for batch in batches:
            if batch.digest is None or batch.count == 0:
                fresh.append(batch)
                continue
            project_id = batch.spans.column("project_id")[0].as_py()
            key = (project_id, batch.digest)
            if key in self._recent or key in seen:
                continue
            seen.add(key)
            fresh.append(batch)
            digests.append((project_id, batch.digest, now))
        return fresh, digests


def record_digests(con: duckdb.DuckDBPyConnection, digests: Sequence[Digest]) -> None:
    """Record the requests of writes being stored, inside the caller's transaction."""
    if digests:
        append(
            con,
            "request_digests",
            pa.table(
                {
                    "project_id": [d[0] for d in digests],
                    "digest": [d[1] for d in digests],
                    "at_ns": pa.array([d[2] for d in digests], pa.int64()),
                }
            ),
        )


def forget_digests(con: duckdb.DuckDBPyConnection, now: int) -> None:
    """Forget the recorded requests older than the retry window."""
    con.execute("DELETE FROM request_digests WHERE at_ns < ?", [now - RETRY_WINDOW_NS])
