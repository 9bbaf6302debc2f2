"""Durable ingest rate and read latencies of one `lamina serve` process.

    python -m bench.ingest [--spans N] [--senders 4] [--batch 512] [--store duckdb|chdb|URL]
                           [--scores N]

Starts a server on a fresh data dir, sends N spans through OTLP/HTTP protobuf
(gzip, ``--batch`` spans a request, ``--senders`` concurrent senders; a request
counts only once the server answered 200, which it does after the commit),
then times the sessions list, one session, one trace, the users list and the
Dashboard's charts (:mod:`bench.analytics`) over HTTP. Prints a
table and the command line that produced it. ``--store chdb`` runs the server
on the ClickHouse store (ClickHouse's engine in the server's process); a
``clickhouse://...`` URL on a ClickHouse server. With ``--scores N``, N scores are
then given (``--senders`` clients) and the sessions list timed with them
(:mod:`bench.scores`). After the server stops, the store's bytes on disk are
measured (ClickHouse tables after a final merge).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench import analytics
from bench import scores as given_scores
from bench.server import EMAIL, PASSWORD, BenchServer
from bench.workload import Batch, batches


def send_all(url: str, key: str, work: list[Batch], senders: int) -> tuple[int, float, int]:
    """Send every batch; returns (spans acknowledged, seconds, retries after 429/503)."""
    lock = threading.Lock()
    queue = list(reversed(work))
    retries = 0

    def sender() -> int:
        nonlocal retries
        done = 0
        headers = {
            "Content-Type": "application/x-protobuf",
            "Content-Encoding": "gzip",
            "Authorization": f"Bearer {key}",
        }
        with httpx.Client(timeout=120) as client:
            while True:
                with lock:
                    if not queue:
                        return done
                    batch = queue.pop()
                while True:
                    response = client.post(f"{url}/v1/traces", content=batch.body, headers=headers)
                    if response.status_code == 200:
                        done += batch.spans
                        break
                    if response.status_code in (429, 503):
                        with lock:
                            retries += 1
                        time.sleep(float(response.headers.get("Retry-After", "1")) / 10)
                        continue
                    raise RuntimeError(f"{response.status_code}: {response.text[:200]}")

    started = time.perf_counter()
    with ThreadPoolExecutor(senders) as pool:
        acked = sum(pool.map(lambda _: sender(), range(senders)))
    return acked, time.perf_counter() - started, retries


def latency(client: httpx.Client, path: str, runs: int, **params: str) -> tuple[float, float]:
    return timed(lambda: client.get(path, params=params), runs)


def timed(request: Callable[[], httpx.Response], runs: int) -> tuple[float, float]:
    """p50 and p95 (ms) of ``runs`` of a request that must succeed."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = request()
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


# Reads whose growth with the store has no target (bench.growth): a word in no span is
# the worst case of the newest-first search (every span is scanned); the console's
# sessions by day reads every session (its target is its time at 1M spans).
UNJUDGED = frozenset({"search, a word in no span", "SQL: sessions by day"})


def measure_reads(url: str, key: str, runs: int) -> dict[str, tuple[float, float]]:
    """p50 and p95 (ms) of the benchmark's paged reads, over HTTP."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        sessions = client.get("/api/v1/sessions", params={"limit": "50"}).json()["items"]
        middle = sessions[len(sessions) // 2]
        detail = client.get(f"/api/v1/sessions/{middle['session_id']}").json()
        one_trace = detail["traces"][0]["trace_id"]
        user = middle["user_ids"][0]
        few = max(3, runs // 10)
        return {
            "sessions list": latency(client, "/api/v1/sessions", runs, limit="50"),
            "sessions list by cost": latency(
                client, "/api/v1/sessions", runs, limit="50", sort="cost"
            ),
            "sessions list of a user": latency(
                client, "/api/v1/sessions", runs, limit="50", user_id=user
            ),
            "one session": latency(client, f"/api/v1/sessions/{middle['session_id']}", runs),
            "one trace": latency(client, f"/api/v1/traces/{one_trace}", runs),
            "full-text search": latency(client, "/api/v1/sessions", few, q="warehouse refund"),
            "search, a word in no span": _tolerant(
                lambda: latency(client, "/api/v1/sessions", few, q="zebra")
            ),
            "users list": latency(client, "/api/v1/users", runs, limit="50"),
            "users list by cost": latency(client, "/api/v1/users", runs, limit="50", sort="cost"),
            **analytics.chart_reads(client, runs),
            **page_times(url, runs),
        }


def _tolerant(read: Callable[[], tuple[float, float]]) -> tuple[float, float]:
    """A read without a target: an error answer is reported, not the end of the run."""
    try:
        return read()
    except httpx.HTTPStatusError as exc:
        print(
            f"{exc.request.url}: {exc.response.status_code} {exc.response.text[:300]}",
            file=sys.stderr,
        )
        return float("nan"), float("nan")


# Pages timed by their server time: name -> (address, parameters).
PAGES = {
    "Sessions tab page": ("/p/default/traces", {"tab": "sessions"}),
    "Users page": ("/p/default/users", {}),
    "Dashboard page": ("/p/default/dashboard", {}),
}


def page_times(
    url: str, runs: int, pages: dict[str, tuple[str, dict[str, str]]] | None = None
) -> dict[str, tuple[float, float]]:
    """p50 and p95 server time (ms, from the Server-Timing header) of each of ``pages``
    (PAGES unless given), signed in as the benchmark's user; nothing when the server
    has no such user."""
    with httpx.Client(base_url=url, timeout=60) as client:
        form = client.get("/signin").text
        token = re.search(r'name="csrf" value="([^"]+)"', form)
        signed_in = token is not None and client.post(
            "/signin", data={"email": EMAIL, "password": PASSWORD, "csrf": token[1]}
        ).status_code in (200, 303)
        if not signed_in or client.get("/p/default/traces").url.path == "/signin":
            return {}
        found: dict[str, tuple[float, float]] = {}
        for name, (path, params) in (PAGES if pages is None else pages).items():
            times = []
            for _ in range(runs):
                response = client.get(path, params=params)
                response.raise_for_status()
                timing = re.search(r"dur=([\d.]+)", response.headers["server-timing"])
                assert timing is not None, "the page sent no Server-Timing header"
                times.append(float(timing[1]))
            times.sort()
            found[name] = (statistics.median(times), times[int(len(times) * 0.95) - 1])
    return found


@dataclass
class IngestResult:
    spans: int
    requests: int
    acked: int
    seconds: float
    retries: int
    rss_mb: float
    # The first read after the last answer: it waits for every journaled span to be
    # stored in the store's tables (the embedded store answers once spans are journaled).
    first_read_seconds: float
    reads: dict[str, tuple[float, float]]  # name -> (p50 ms, p95 ms)
    disk: dict[str, tuple[int, int]] = field(default_factory=dict)  # table -> (disk, raw) bytes
    stored: int | None = None  # spans in the DuckDB file once the server stopped
    scores: given_scores.ScoreResult | None = None  # scores given after the reads

    @property
    def rate(self) -> float:
        return self.acked / self.seconds

    @property
    def stored_rate(self) -> float:
        """Spans a second counting until the first read after the ingest answered."""
        return self.acked / (self.seconds + self.first_read_seconds)


def store_flags(store: str, data_dir: Path) -> tuple[str, ...]:
    if store == "duckdb":
        return ()
    if store == "chdb":
        return ("--store", f"chdb://{data_dir}/chdb")
    return ("--store", store)


def disk_usage(store: str, data_dir: Path) -> dict[str, tuple[int, int]]:
    """Bytes on disk (and uncompressed, where known) per table, the server stopped."""
    if store == "duckdb":
        size = (data_dir / "lamina.duckdb").stat().st_size
        return {"lamina.duckdb (file)": (size, 0)}
    from lamina.store.clickhouse.client import connect, parse_store

    address = parse_store(f"chdb://{data_dir}/chdb" if store == "chdb" else store)
    client = connect(address)
    try:
        client.use(address.database)
        for table in ("spans", "traces", "session_traces", "sessions"):
            client.execute(f"OPTIMIZE TABLE {table} FINAL")
        rows = client.query(
            "SELECT table, sum(bytes_on_disk) AS disk, sum(data_uncompressed_bytes) AS raw "
            "FROM system.parts WHERE active AND database = {db:String} "
            "GROUP BY table ORDER BY disk DESC",
            {"db": address.database},
        ).to_pylist()
    finally:
        client.close()
    return {row["table"]: (int(row["disk"]), int(row["raw"])) for row in rows}


def run(
    spans: int,
    senders: int = 4,
    batch: int = 512,
    runs: int = 50,
    extra: tuple[str, ...] = (),
    store: str = "duckdb",
    scores: int = 0,
) -> IngestResult:
    print(f"building {spans:,} spans in batches of {batch}...", file=sys.stderr)
    work = batches(spans, batch)
    total = sum(b.spans for b in work)
    print(f"sending them with {senders} senders to the {store} store...", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        flags = (*extra, *store_flags(store, Path(tmp)))
        result = _run(Path(tmp), work, total, senders, runs, flags, scores)
        result.disk = disk_usage(store, Path(tmp))
        result.stored = stored_spans(store, Path(tmp))
    return result


def stored_spans(store: str, data_dir: Path) -> int | None:
    """Spans in the embedded store's file, the server stopped (None for other stores)."""
    if store != "duckdb":
        return None
    import duckdb

    with duckdb.connect(str(data_dir / "lamina.duckdb"), read_only=True) as con:
        row = con.execute("SELECT count(*) FROM spans").fetchone()
    return int(row[0]) if row else 0


def _run(
    data_dir: Path,
    work: list[Batch],
    total: int,
    senders: int,
    runs: int,
    extra: tuple[str, ...],
    scores: int = 0,
) -> IngestResult:
    with BenchServer(data_dir, *extra) as server:
        acked, seconds, retries = send_all(server.url, server.key, work, senders)
        first_read = first_read_seconds(server.url, server.key)
        rss = server.rss_mb()
        reads = measure_reads(server.url, server.key, runs)
        result = IngestResult(total, len(work), acked, seconds, retries, rss, first_read, reads)
        if scores:
            result.scores = _give_scores(server, work, scores, senders, runs)
    return result


def _give_scores(
    server: BenchServer, work: list[Batch], scores: int, senders: int, runs: int
) -> given_scores.ScoreResult:
    """Give the scores and time the sessions list's reads with them, and the plain list
    just before (warm, as it is after them) to tell what the score summary costs."""
    headers = {"Authorization": f"Bearer {server.key}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
        before = latency(client, "/api/v1/sessions", runs, limit="50")
        print(f"giving {scores:,} scores...", file=sys.stderr)
        result = given_scores.give(server.url, server.key, work, scores, senders)
        result.reads = {"sessions list before scores": before}
        for name, params in given_scores.READS.items():
            result.reads[name] = latency(client, "/api/v1/sessions", runs, limit="50", **params)
    return result


def first_read_seconds(url: str, key: str) -> float:
    """How long the first read after an ingest takes: it sees every acknowledged span."""
    started = time.perf_counter()
    response = httpx.get(
        f"{url}/api/v1/sessions",
        params={"limit": "1"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=120,
    )
    response.raise_for_status()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--spans", type=int, default=200_000)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--runs", type=int, default=50, help="timed runs of each read")
    parser.add_argument(
        "--scores", type=int, default=0, help="scores to give after the ingest (bench.scores)"
    )
    parser.add_argument(
        "--store",
        default="duckdb",
        help="duckdb (the default file), chdb (the ClickHouse store on chDB) or clickhouse://...",
    )
    args = parser.parse_args(argv)
    result = run(
        args.spans, args.senders, args.batch, args.runs, store=args.store, scores=args.scores
    )
    print()
    print(f"command: python -m bench.ingest {' '.join(argv if argv is not None else sys.argv[1:])}")
    print(
        f"machine: {os.cpu_count()} cores; spans: {result.spans:,} in {result.requests} "
        f"requests of {args.batch}, {args.senders} senders; store: {args.store}"
    )
    print()
    print(f"{'measure':<40} {'value':>14}")
    print("-" * 55)
    print(f"{'durable ingest (acked after commit)':<40} {result.rate:>10,.0f} /s")
    print(f"{'ingest wall time':<40} {result.seconds:>12.1f} s")
    print(f"{'first read after it (all spans stored)':<40} {result.first_read_seconds:>12.2f} s")
    print(f"{'ingest until that read answered':<40} {result.stored_rate:>10,.0f} /s")
    print(f"{'429/503 answers retried':<40} {result.retries:>14,}")
    print(f"{'server peak RSS':<40} {result.rss_mb:>11,.0f} MB")
    for name, (p50, p95) in result.reads.items():
        print(f"{name:<40} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms")
    if result.scores is not None:
        given = result.scores
        batches_of = f"scores given, batches of {given_scores.BATCH}"
        print(
            f"{batches_of:<40} {given.batch_rate:>10,.0f} /s"
            f"  (target {given_scores.TARGET_RATE:,} /s)"
        )
        print(
            f"{'scores given, one a request':<40} {given.single_rate:>10,.0f} /s"
            f"  (target {given_scores.TARGET_RATE:,} /s, as batches)"
        )
        for name, (p50, p95) in given.reads.items():
            print(f"{name:<40} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms")
    disk = sum(size for size, _ in result.disk.values())
    print(f"{'bytes on disk per span (all tables)':<40} {disk / result.acked:>12,.0f} B")
    for table, (size, raw) in result.disk.items():
        ratio = f" ({raw / size:.1f}x from {raw / result.acked:,.0f} B raw)" if raw else ""
        print(f"{'  ' + table:<40} {size / result.acked:>12,.0f} B{ratio}")
    if result.acked != result.spans:
        raise SystemExit(f"only {result.acked} of {result.spans} spans were acknowledged")
    if result.stored is not None and result.stored != result.acked:
        raise SystemExit(f"{result.acked} spans were acknowledged but {result.stored} stored")


if __name__ == "__main__":
    main()
