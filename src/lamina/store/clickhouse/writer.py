"""Ingest writes: an ingest batch becomes five statements, none of which reads before
it writes except the last two.

The spans (Arrow), the batch's per-trace deltas (Arrow; see
:mod:`lamina.store.clickhouse.fold`), the session index, the stamps of the hours the
batch changed (:mod:`lamina.store.clickhouse.stamps`), one ``INSERT ... SELECT``
that recomputes the sessions the batch touched, and one that gives the scores on the
batch's traces their trace's session (:data:`lamina.store.clickhouse.score_sql.RESOLVE`;
nothing when none is scored). A request retried within the hour is
stored once, whichever server committed it first (``request_digests``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import pyarrow as pa

from lamina.errors import StoreUnavailable
from lamina.spans.batch import ColumnBatch, combine
from lamina.store.clickhouse import score_sql, stamps
from lamina.store.clickhouse.client import ClientError
from lamina.store.clickhouse.connection import Connection
from lamina.store.clickhouse.fold import REFRESH_AFTER_WRITE, session_links, trace_rows

RETRY_WINDOW_NS = 3600 * 1_000_000_000  # as long as the DuckDB store remembers a request


def write_columns(db: Connection, batches: Sequence[ColumnBatch]) -> None:
    """Spans, trace deltas, the session index, then the touched sessions' summaries.

    Each is one insert; a batch whose later insert fails is reported (the sender
    retries) and may leave its spans counted twice: at least once, never lost.
    """
    with db.write_lock:
        batches, digests = _new_requests(db, batches)
        count = sum(batch.count for batch in batches)
        if not count:
            return
        batch = combine(batches, db.tick(count))
        traces = trace_rows(batch.traces, batch.spans)
        links = session_links(batch.traces)
        keys = sorted(
            set(
                zip(
                    batch.traces.column("project_id").to_pylist(),
                    batch.traces.column("trace_id").to_pylist(),
                    strict=True,
                )
            )
        )
        db.insert("spans", batch.spans)
        db.insert("traces", traces)
        if links.num_rows:
            db.insert("session_traces", links)
        stamps.after_write(db, keys)  # before the digests: a retry stamps
        if digests.num_rows:
            db.insert("request_digests", digests)
        try:
            db.client.execute(REFRESH_AFTER_WRITE, {"keys": keys})
            db.client.execute(score_sql.RESOLVE, {"keys": keys})
        except ClientError as exc:
            raise StoreUnavailable(
                f"The ClickHouse store could not update sessions ({exc}); senders should retry."
            ) from exc


def _new_requests(
    db: Connection, batches: Sequence[ColumnBatch]
) -> tuple[list[ColumnBatch], pa.Table]:
    """The batches whose request was not committed in the last hour (by any
    server), and the digests to record for them."""
    keyed = {
        (batch.spans.column("project_id")[0].as_py(), batch.digest): batch
        for batch in batches
        if batch.digest is not None and batch.count
    }
    known: set[tuple[str, str]] = set()
    if keyed:
        rows = db.query(
            "SELECT project_id, digest FROM request_digests "
            "WHERE (project_id, digest) IN {keys:Array(Tuple(String, String))} "
            "AND at_ns >= {horizon:Int64}",
            {"keys": list(keyed), "horizon": time.time_ns() - RETRY_WINDOW_NS},
        )
        known = {(row["project_id"], row["digest"]) for row in rows}
    fresh: list[ColumnBatch] = []
    seen: set[tuple[str, str]] = set()
    for batch in batches:
        if batch.digest is None or not batch.count:
            fresh.append(batch)
            continue
        key = (batch.spans.column("project_id")[0].as_py(), batch.digest)
        if key not in known and key not in seen:
            seen.add(key)
            fresh.append(batch)
    now = time.time_ns()
    digests = pa.table(
        {
            "project_id": [key[0] for key in seen],
            "digest": [key[1] for key in seen],
            "at_ns": pa.array([now] * len(seen), pa.int64()),
        }
    )
    return fresh, digests
