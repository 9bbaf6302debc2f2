"""The ingest batcher's group commit, on a real DuckDB store and its writer thread."""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path

from bench.workload import batches

from lamina.ingest.batcher import IngestBatcher
from lamina.otlp.body import PROTOBUF, decode_body
from lamina.pricing import PriceTable
from lamina.spans.batch import ColumnBatch
from lamina.store.duckdb.store import DuckDBStore


def _requests(count: int) -> list[ColumnBatch]:
    price = PriceTable.load(None).cost
    decoded = [
        decode_body(gzip.decompress(batch.body), PROTOBUF, "p", price)
        for batch in batches(count * 100, batch_size=100)
    ]
    return [columns for columns in decoded if columns.count][:count]


def test_requests_decoded_together_are_committed_together(tmp_path: Path) -> None:
    """A request queued while another is still being decoded waits for it: both land in
    one transaction, and both are acknowledged only once it has committed."""
    first, second = _requests(2)
    store = DuckDBStore(tmp_path)
    batcher = IngestBatcher(store, max_queue_spans=10_000, max_batch_spans=10_000)
    batcher.start()

    async def two_requests() -> None:
        with batcher.arriving():  # the second request, still decoding
            committed = batcher.enqueue(first)
            await asyncio.sleep(0.005)
            also = batcher.enqueue(second)
        await asyncio.wait_for(asyncio.gather(committed, also), 10)

    try:
        asyncio.run(two_requests())
        assert batcher.stats.batches_written == 1
        assert store.count_spans() == first.count + second.count
    finally:
        batcher.stop()
        store.close()


def test_a_request_that_never_arrives_does_not_hold_up_the_others(tmp_path: Path) -> None:
    """A request whose decoding fails leaves the writer waiting no longer: what is
    queued is committed and acknowledged."""
    (only,) = _requests(1)
    store = DuckDBStore(tmp_path)
    batcher = IngestBatcher(store, max_queue_spans=10_000, max_batch_spans=10_000)
    batcher.start()

    async def one_request_one_failure() -> None:
        committed = None
        try:
            with batcher.arriving():
                committed = batcher.enqueue(only)
                raise ValueError("this request's body could not be decoded")
        except ValueError:
            pass
        assert committed is not None
        await asyncio.wait_for(committed, 10)

    try:
        asyncio.run(one_request_one_failure())
        assert store.count_spans() == only.count
    finally:
        batcher.stop()
        store.close()
