"""Scores given after the ingest, and the reads of the sessions list they change.

Once the spans are stored, ``count`` scores (the suite gives one for every ten spans:
100,000 at 1M) are spread over the sessions and traces the workload made: customers'
``thumbs`` on traces (source ``sdk``), an evaluator's ``helpfulness`` on traces, a
reviewer's ``helpfulness`` and an ``outcome`` on sessions, with the configs of
``helpfulness`` (numeric, 0 to 1) and ``thumbs`` (boolean) made first so every score
is checked against one. They go to ``POST /api/v1/scores`` from ``clients``
concurrent clients, each request counted once the server answered 201:

- the first :data:`SINGLE_SHARE` of them one score a request (a client without the
  SDK's queue: a thumbs-up handler), judged against the same target as batches;
- the rest in batches of :data:`BATCH`: the SDK sends what gathered in its 50 ms
  linger, up to 1,000 a request, so a process giving a few thousand scores a second
  sends about a hundred a request.

Then the sessions list (50 a page) is timed with the scores, filtered by a score
(``helpfulness<0.3``: the few bad sessions) and sorted by one (:data:`READS`); the
score summary's cost is the plain list's p50 with the scores minus its p50 timed
just before they were given (warm, as it is after them).
"""

from __future__ import annotations

import http.client
import multiprocessing
import random
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier

import httpx
import orjson

from bench.workload import Batch

BATCH = 100
TARGET_RATE = 2_000  # scores/s from 4 clients, one a request or in batches (issue #19)
SINGLE_SHARE = 0.02
MAX_SINGLES = 2_000
OUTCOMES = ("success", "success", "partial", "failure", "abandoned", "unknown")
# The sessions list's reads timed once the scores are given (50 a page; by
# bench.ingest): name -> its parameters.
READS: dict[str, dict[str, str]] = {
    "sessions list with scores": {},
    "sessions list filtered by a score": {"score": "helpfulness<0.3"},
    "sessions list sorted by a score": {"sort": "score:helpfulness"},
}
CONFIGS = (
    {"name": "helpfulness", "type": "numeric", "min": 0, "max": 1},
    {"name": "thumbs", "type": "boolean"},
)


@dataclass
class ScoreResult:
    given: int
    batch_rate: float  # scores/s in batches of BATCH
    single_rate: float  # scores/s one a request
    reads: dict[str, tuple[float, float]]  # READS' name -> (p50 ms, p95 ms)


def make_scores(work: Sequence[Batch], count: int, seed: int = 2) -> list[dict[str, object]]:
    """``count`` scores over the traces and sessions of ``work``, each with its id."""
    rng = random.Random(seed)
    traces = [trace for batch in work for trace in batch.traces]
    sessions = sorted({session for session, _ in traces})
    scores: list[dict[str, object]] = []
    for n in range(count):
        pick = rng.random()
        item: dict[str, object]
        if pick < 0.5:
            _, trace = rng.choice(traces)
            item = {"name": "thumbs", "value": rng.random() < 0.8, "trace_id": trace}
            item["source"] = "sdk"
        elif pick < 0.8:
            _, trace = rng.choice(traces)
            item = {"name": "helpfulness", "value": round(rng.random(), 2), "trace_id": trace}
            item["source"] = "evaluator:judge"
        elif pick < 0.9:
            session = rng.choice(sessions)
            item = {"name": "helpfulness", "value": round(rng.random(), 2), "session_id": session}
        else:
            item = {"name": "outcome", "label": rng.choice(OUTCOMES)}
            item["session_id"] = rng.choice(sessions)
        item["score_id"] = f"bench-{n:08d}"
        scores.append(item)
    return scores


def post_all(url: str, key: str, bodies: list[tuple[bytes, int]], clients: int) -> float:
    """POST every body (of so many scores) to /api/v1/scores from ``clients`` client
    processes (each its own keep-alive connection, as separate application servers
    would be; threads of one process would measure this process's GIL instead);
    returns the seconds from the moment all are connected until the last answered 201."""
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(clients + 1)
    shares = [[body for body, _ in bodies[at::clients]] for at in range(clients)]
    workers = [
        context.Process(target=_client, args=(url, key, share, ready), daemon=True)
        for share in shares
    ]
    for worker in workers:
        worker.start()
    ready.wait(60)
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - started
    failed = [worker.exitcode for worker in workers if worker.exitcode != 0]
    if failed:
        raise RuntimeError(f"{len(failed)} score clients failed (exit codes {failed})")
    return seconds


def _client(url: str, key: str, bodies: list[bytes], ready: Barrier) -> None:
    """One client process: connect, wait for the others, then POST each body in turn."""
    address = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=120)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    connection.connect()
    ready.wait(60)
    for body in bodies:
        while True:
            connection.request("POST", "/api/v1/scores", body=body, headers=headers)
            response = connection.getresponse()
            text = response.read()
            if response.status == 201:
                break
            if response.status in (429, 503):
                time.sleep(float(response.getheader("Retry-After", "1")) / 10)
                continue
            raise RuntimeError(f"{response.status}: {text[:200]!r}")
    connection.close()


def give(url: str, key: str, work: Sequence[Batch], count: int, clients: int = 4) -> ScoreResult:
    """Give ``count`` scores over ``work``'s traces (see the module's text); the rates
    only (the caller times :data:`READS`)."""
    headers = {"Authorization": f"Bearer {key}"}
    for config in CONFIGS:
        httpx.post(f"{url}/api/v1/score-configs", json=config, headers=headers).raise_for_status()
    scores = make_scores(work, count)
    singles = min(MAX_SINGLES, max(clients, int(count * SINGLE_SHARE)))
    one_each = [(orjson.dumps(item), 1) for item in scores[:singles]]
    rest = scores[singles:]
    batched = [
        (orjson.dumps({"scores": rest[at : at + BATCH]}), len(rest[at : at + BATCH]))
        for at in range(0, len(rest), BATCH)
    ]
    single_seconds = post_all(url, key, one_each, clients)
    batch_seconds = post_all(url, key, batched, clients)
    return ScoreResult(
        given=len(scores),
        batch_rate=len(rest) / batch_seconds,
        single_rate=singles / single_seconds,
        reads={},
    )
