"""What this machine allows, measured in the same run as the benchmarks.

- decode: OTLP protobuf parsed, normalised and turned into column batches, on one
  core (the work of one decode worker);
- append: column batches written to a fresh DuckDB store and stored in its file (the
  journal, then large transactions: the writer's and the storing thread's work);
so each end-to-end figure can be read as a fraction of these.
"""

from __future__ import annotations

import gzip
import tempfile
import time
from pathlib import Path

from bench.workload import batches
from lamina.otlp.body import PROTOBUF, decode_body
from lamina.pricing import PriceTable
from lamina.store.duckdb.store import DuckDBStore


def measure(spans: int = 50_000) -> dict[str, float]:
    work = batches(spans)
    bodies = [gzip.decompress(batch.body) for batch in work]
    price = PriceTable.load(None).cost
    started = time.perf_counter()
    decoded = [decode_body(body, PROTOBUF, "bench", price) for body in bodies]
    decode_rate = spans / (time.perf_counter() - started)
    columns = [batch for batch in decoded if batch.count]
    with tempfile.TemporaryDirectory() as tmp:
        store = DuckDBStore(Path(tmp))
        started = time.perf_counter()
        for index in range(0, len(columns), 2):  # 1,024 spans a write, as under load
            store.write_columns(columns[index : index + 2])
        store.count_spans()  # a read: everything journaled is stored first
        append_rate = spans / (time.perf_counter() - started)
        store.close()
    return {"decode": decode_rate, "append": append_rate}
