"""Analytics at the benchmark's scale (issue #21): the Dashboard's chart API and the SQL
console, and what console queries cost ingest.

    python -m bench.analytics [--spans 200000] [--runs 30]

- **charts**: the p50 of ``GET /api/v1/metrics`` for a few of the Dashboard's charts
  (its default range, the last 7 days) and of ``GET /api/v1/metrics/distribution``,
  and of the issue's console query (``SELECT date_trunc('day', start_time), count(*)
  FROM sessions GROUP BY 1``) through ``POST /api/v1/sql``. :func:`chart_reads` is
  called with the other reads of :mod:`bench.ingest` (so at 1M spans in ``python -m
  bench``) and of :mod:`bench.growth`.
- **ingest beside SQL**: the first fifth of the spans is sent, then the rest is timed
  while a client runs console queries one after another (:data:`BESIDE`: a scan and
  grouping of every span, a join of traces and sessions, the sessions by day); the
  same rest is timed on a server where none runs. The target: the rate with them at
  least 80% of the rate without (a query running lowers it by at most 20%).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from pathlib import Path

import httpx

from bench.server import BenchServer
from bench.workload import Batch, batches

SENDERS = 4
SESSIONS_BY_DAY = "SELECT date_trunc('day', start_time), count(*) FROM sessions GROUP BY 1"
# name -> (path, parameters): charts of the Dashboard, as it asks for them
CHARTS: dict[str, tuple[str, dict[str, str]]] = {
    "chart: sessions": ("/api/v1/metrics", {"metric": "sessions"}),
    "chart: cost by model": ("/api/v1/metrics", {"metric": "cost", "group_by": "model"}),
    "chart: trace latency p95": ("/api/v1/metrics", {"metric": "latency_p95"}),
    "chart: turns a session": ("/api/v1/metrics", {"metric": "turns"}),
    "chart: cost histogram": ("/api/v1/metrics/distribution", {"metric": "session_cost"}),
}
# What the client beside ingest runs, in turn, for as long as ingest goes on.
BESIDE = (
    "SELECT model, count(*), sum(cost), avg(duration_ms) FROM spans GROUP BY model",
    "SELECT s.user_id, count(*), sum(t.cost) FROM traces t "
    "JOIN sessions s ON s.session_id = t.session_id GROUP BY 1 ORDER BY 3 DESC LIMIT 20",
    SESSIONS_BY_DAY,
)

# name -> (target, unit, higher is better), as bench.__main__ judges them
TARGETS: dict[str, tuple[float, str, bool]] = {
    **{name: (100, "ms p50", False) for name in CHARTS},
    "Dashboard page": (500, "ms server", False),
    "SQL: sessions by day": (100, "ms p50", False),
    "ingest beside SQL queries": (80, "% of rate without", True),
}


def chart_reads(client: httpx.Client, runs: int) -> dict[str, tuple[float, float]]:
    """p50 and p95 (ms) of each of CHARTS and of the sessions-by-day console query;
    ``client`` has the project's key."""
    from bench.ingest import latency, timed

    found = {name: latency(client, path, runs, **params) for name, (path, params) in CHARTS.items()}
    found["SQL: sessions by day"] = timed(
        lambda: client.post("/api/v1/sql", json={"query": SESSIONS_BY_DAY}), runs
    )
    return found


def ingest_beside(work: list[Batch], queries: bool) -> tuple[float, int]:
    """Spans a second of the last four fifths of ``work`` (the first fifth sent
    before), with a client running BESIDE meanwhile or not; the queries it ran."""
    from bench.ingest import send_all

    head, rest = work[: len(work) // 5], work[len(work) // 5 :]
    with tempfile.TemporaryDirectory() as tmp, BenchServer(Path(tmp)) as server:
        send_all(server.url, server.key, head, SENDERS)
        done = threading.Event()
        ran: list[int] = []
        headers = {"Authorization": f"Bearer {server.key}"}

        def run_queries() -> None:
            with httpx.Client(base_url=server.url, headers=headers, timeout=120) as client:
                n = 0
                while not done.is_set():
                    answer = client.post("/api/v1/sql", json={"query": BESIDE[n % len(BESIDE)]})
                    if answer.status_code != 200:
                        raise RuntimeError(f"{answer.status_code}: {answer.text[:300]}")
                    n += 1
                ran.append(n)

        runner = threading.Thread(target=run_queries, daemon=True)
        if queries:
            runner.start()
        try:
            acked, seconds, _ = send_all(server.url, server.key, rest, SENDERS)
        finally:
            done.set()
            if queries:
                runner.join(120)
    return acked / seconds, sum(ran)


def measure_beside(spans: int) -> dict[str, float]:
    """The "ingest beside SQL queries" figure (details on stderr)."""
    work = batches(spans)
    print("analytics: ingest without console queries, then beside them...", file=sys.stderr)
    without, _ = ingest_beside(work, queries=False)
    beside, ran = ingest_beside(work, queries=True)
    print(
        f"analytics: {spans:,} spans; ingest {without:,.0f} spans/s without console queries, "
        f"{beside:,.0f} beside {ran:,} of them",
        file=sys.stderr,
    )
    return {"ingest beside SQL queries": beside / without * 100}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=30, help="timed runs of each read")
    args = parser.parse_args(argv)
    work = batches(args.spans)
    with tempfile.TemporaryDirectory() as tmp, BenchServer(Path(tmp)) as server:
        from bench.ingest import page_times, send_all

        send_all(server.url, server.key, work, SENDERS)
        headers = {"Authorization": f"Bearer {server.key}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=120) as client:
            figures = {name: p50 for name, (p50, _) in chart_reads(client, args.runs).items()}
        pages = page_times(server.url, args.runs)
        figures["Dashboard page"] = pages["Dashboard page"][0]
    figures |= measure_beside(args.spans)
    failed = 0
    for name, (target, unit, higher) in TARGETS.items():
        value = figures[name]
        ok = value >= target if higher else value <= target
        failed += not ok
        print(f"{name:<36}{value:>10,.1f}  {f'{target:,g} {unit}':<22}{'pass' if ok else 'FAIL'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
