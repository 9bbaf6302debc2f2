"""How the paged reads grow with the store: the same reads at each size of one store.

    python -m bench.growth [--stages 100000,1000000,5000000] [--runs 30]

Starts one server on a fresh data dir and fills it through OTLP/HTTP in stages
(the benchmark workload, 512-span gzip requests, 4 senders). After each stage
it waits for the store to settle (--settle seconds: the embedded store
checkpoints 2 s after writes pause, and rows not yet checkpointed are scanned
from memory, faster than compressed blocks), so that every stage is timed in
the same state, then times the paged reads of the benchmark (sessions list
three ways, one session, one trace, full-text search). Prints a table of p50s per stage and,
for the largest stage, the ratio to the 1M-span figure (target: at most 2x).
The workload is built before the server starts, in one process per core.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

from bench.ingest import UNJUDGED, measure_reads, send_all
from bench.server import BenchServer
from bench.workload import Batch, batches, duration_ns

CHUNK = 250_000
TARGET_RATIO = 2.0


def _chunk(size: int, seed_and_start: tuple[int, int]) -> list[Batch]:
    seed, start_ns = seed_and_start
    return batches(size, seed=seed, start_ns=start_ns)


def build(total: int) -> list[Batch]:
    """About ``total`` spans of requests; chunks built in parallel with their own seeds,
    each starting on the workload's clock where the one before it ends."""
    size = min(CHUNK, total)
    chunks = -(-total // size)
    first = time.time_ns() - duration_ns(total) - 3600 * 1_000_000_000
    starts = [(1000 + k, first + k * duration_ns(size)) for k in range(chunks)]
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        built = list(pool.map(partial(_chunk, size), starts))
    out = [batch for chunk in built for batch in chunk]
    kept, spans = [], 0
    for batch in out:
        if spans >= total:
            break
        kept.append(batch)
        spans += batch.spans
    return kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--stages", default="100000,1000000,5000000")
    parser.add_argument("--runs", type=int, default=30, help="timed runs of each read")
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument(
        "--settle", type=float, default=10.0, help="seconds to wait after each stage"
    )
    args = parser.parse_args(argv)
    stages = sorted(int(stage) for stage in args.stages.split(","))

    print(f"building {stages[-1]:,} spans...", file=sys.stderr)
    work = build(stages[-1])
    results: list[tuple[int, float, float, dict[str, tuple[float, float]]]] = []
    with tempfile.TemporaryDirectory() as tmp, BenchServer(Path(tmp)) as server:
        sent = 0
        index = 0
        for stage in stages:
            chunk: list[Batch] = []
            while index < len(work) and sent < stage:
                chunk.append(work[index])
                sent += work[index].spans
                index += 1
            print(f"sending up to {sent:,} spans...", file=sys.stderr)
            _, seconds, _ = send_all(server.url, server.key, chunk, args.senders)
            rate = sum(batch.spans for batch in chunk) / seconds
            time.sleep(args.settle)
            reads = measure_reads(server.url, server.key, args.runs)
            results.append((sent, rate, server.rss_mb(), reads))

    command = "python -m bench.growth " + " ".join(argv if argv is not None else sys.argv[1:])
    print(f"\ncommand: {command.strip()}")
    print(f"machine: {os.cpu_count()} cores; one server, DuckDB store, filled in stages\n")
    names = list(results[0][3])
    header = f"{'read (p50 ms)':<26}" + "".join(f"{f'{spans:,}':>12}" for spans, *_ in results)
    print(header)
    print("-" * len(header))
    rates = "".join(f"{rate:>12,.0f}" for _, rate, _, _ in results)
    print(f"{'ingest of the stage /s':<26}{rates}")
    print(f"{'server RSS MB':<26}" + "".join(f"{rss:>12,.0f}" for _, _, rss, _ in results))
    for name in names:
        print(f"{name:<26}" + "".join(f"{reads[name][0]:>12.1f}" for *_, reads in results))
    base = next((r for r in results if r[0] >= 1_000_000), None)
    last = results[-1]
    if base is None or base is last:
        return 0
    print(f"\n{last[0]:,} spans against {base[0]:,} (target: at most {TARGET_RATIO:g}x)")
    failed = 0
    for name in names:
        if name in UNJUDGED:
            print(f"{name:<26}{last[3][name][0] / base[3][name][0]:>8.2f}x  (no target)")
            continue
        ratio = last[3][name][0] / base[3][name][0]
        failed += ratio > TARGET_RATIO
        print(f"{name:<26}{ratio:>8.2f}x  {'pass' if ratio <= TARGET_RATIO else 'FAIL'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
