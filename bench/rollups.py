"""Trace charts kept by hour (lamina.store.rollups) against the scan, at growing sizes.

    python -m bench.rollups [--stages 200000,1000000] [--runs 7] [--store duckdb|chdb]

One store in this process (DuckDB, or ClickHouse's engine on chDB), filled in stages
with the workload's shape (5 spans a trace, one of them an LLM call of one of 3 models,
50 spans a second on the clock, ending an hour ago), written through
``Store.write_columns``. At each stage, over a 7-day range (by day, the API's cut): the
scan (what every read cost before), the kept read with nothing changed, and the kept
read after one trace is written into the current hour and stored (ingest going on:
its bucket, the current day, is scanned again). Prints p50 milliseconds per stage; the
kept reads with nothing changed should stay flat while the scan grows.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lamina.query.metrics import parse_metric_query
from lamina.spans.batch import from_rows
from lamina.store.base import Store
from lamina.store.clickhouse import metrics as clickhouse_metrics
from lamina.store.clickhouse.client import parse_store
from lamina.store.clickhouse.store import ClickHouseStore
from lamina.store.duckdb import metrics
from lamina.store.duckdb.store import DuckDBStore
from lamina.store.metrics import METRICS, MetricQuery

SECOND = 1_000_000_000
PROJECT = "prj_bench"
_ids = itertools.count(1)


def _span(trace: str, at: int, ms: int, **fields: Any) -> dict[str, Any]:
    return {
        "project_id": PROJECT,
        "trace_id": trace,
        "span_id": f"{next(_ids):016x}",
        "parent_span_id": fields.pop("parent", None),
        "name": fields.pop("name", "step"),
        "span_type": fields.pop("span_type", "DEFAULT"),
        "start_ns": at,
        "end_ns": at + ms * 1_000_000,
        "status": "ok",
        **fields,
    }


def _trace(rng: random.Random, at: int, session: str, user: str) -> list[dict[str, Any]]:
    trace = f"{rng.getrandbits(128):032x}"
    root = _span(trace, at, rng.randrange(100, 4000), name="chat", session_id=session)
    root["user_id"] = user
    llm = {"span_type": "LLM", "model": rng.choice("abc"), "cost": 0.001, "input_tokens": 10}
    steps = [
        _span(trace, at + k * 1_000_000, 20, parent=root["span_id"], **(llm if k == 0 else {}))
        for k in range(4)
    ]
    return [root, *steps]


def _p50(read: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        read()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def _charts(now: int) -> dict[str, MetricQuery]:
    cost = parse_metric_query({"metric": "cost", "group_by": "model"}, now_ns=now)
    latency = parse_metric_query({"metric": "latency_p95"}, now_ns=now)
    latency = dataclasses.replace(latency, also=(METRICS["latency_p50"],))
    return {"cost by model": cost, "latency p50+p95": latency}


def _open(kind: str, directory: Path) -> Store:
    if kind == "chdb":
        return ClickHouseStore(parse_store(f"chdb://{directory}/chdb?database=bench"))
    return DuckDBStore(directory / "data")


def _scan(store: Store, query: MetricQuery) -> object:
    """The scan, as every read was before the rollups."""
    if isinstance(store, ClickHouseStore):
        return clickhouse_metrics.scan(store.connection, PROJECT, query)
    assert isinstance(store, DuckDBStore)
    return metrics.scan(store._connection, PROJECT, query)


def _time(
    store: Store, query: MetricQuery, runs: int, rng: random.Random, now: int
) -> tuple[float, float, float]:
    """The chart's p50s: the scan, the kept read, the kept read after a write."""
    scan = _p50(lambda: _scan(store, query), runs)
    store.metric_series(PROJECT, query)
    kept = _p50(lambda: store.metric_series(PROJECT, query), runs)
    after = []
    for _ in range(runs):
        store.write_columns([from_rows(_trace(rng, now, "live", "u1"))])
        store.get_session(PROJECT, "live")  # stored first: not the chart's time
        after.append(_p50(lambda: store.metric_series(PROJECT, query), 1))
    return scan, kept, statistics.median(after)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--stages", default="200000,1000000")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--store", choices=("duckdb", "chdb"), default="duckdb")
    args = parser.parse_args(argv)
    stages = sorted(int(stage) for stage in args.stages.split(","))
    rng = random.Random(1)
    now = time.time_ns()
    at = now - 3600 * SECOND - stages[-1] // 50 * SECOND
    print(f"{'spans':>10}  {'chart':16} {'scan':>8} {'kept':>8} {'after a write':>14}")
    with tempfile.TemporaryDirectory() as tmp:
        store = _open(args.store, Path(tmp))
        written = 0
        try:
            for stage in stages:
                rows: list[dict[str, Any]] = []
                while written < stage:
                    rows += _trace(rng, at, f"s{written // 50}", f"u{rng.randrange(100)}")
                    at, written = at + SECOND // 10, written + 5
                    if len(rows) >= 5000 or written >= stage:
                        store.write_columns([from_rows(rows)])
                        rows = []
                store.close()  # opened again: nothing kept, everything checkpointed
                store = _open(args.store, Path(tmp))
                for title, query in _charts(now + 60 * SECOND).items():
                    scan, kept, live = _time(store, query, args.runs, rng, now)
                    print(f"{stage:>10,}  {title:16} {scan:8.1f} {kept:8.2f} {live:14.1f}")
        finally:
            store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
