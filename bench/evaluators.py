"""Evaluators under load: what judging every session costs the server (issue #20).

    python -m bench.evaluators [--spans 200000] [--down-seconds 600]
                               [--rate 110] [--check-seconds 60] [--pairs 3]

Three measures, each on a fresh `lamina serve` with three checks (error in the last
turn, a tool loop, a cost over a threshold) and one LLM judge on every session; the
judge is the test suite's fake OpenAI-compatible server (``tests/fakes/llm.py``, the
real wire protocol) answering in 200 ms:

- **ingest beside evaluators**: the first fifth of ``--spans`` of the benchmark's
  workload (:mod:`bench.workload`) is sent and backfilled (every session of it queued
  for the four evaluators), then the rest is timed while the runner works through
  that queue; the same rest is timed on a server with no evaluator. The judge is
  tried on one session first (its dry run, as a user tries a judge before turning it
  on): a server's first judge call loads the ``openai`` library, half a second of CPU
  holding the GIL once a process, which fell inside the timed seconds of some pairs and
  not others (69-79% against 92-108%: session 19). The target: the
  rate with them within 10% of the rate without. The two are timed PAIRS times in
  turn and the median ratio is the figure (each pair's rates are printed): one timing
  lasts 3-5 s, and on this 2-core machine the rate without evaluators alone moved
  between 29,000 and 49,000 spans a second from one to the next (session 18), one
  pair's ratio between 62% and 114% within one run (session 19).
- **checks keep up**: the workload's sessions (about 100 spans each) end ``--rate``
  a second (110 by default: a little over the target, so keeping up shows as a rate
  over it) for ``--check-seconds`` (by default ``--spans`` / 2,000 between 2 and 60):
  each is sent whole, as far from the one before as their ends, already quiet (the
  evaluators' quiet_seconds is 1), for the runner's polls (every 200 ms) to find;
  every half second, how many went quiet against how many
  the three checks scored (the sessions list's ``has_score`` totals). Printed: the
  sessions ending and checked a second at steady state (the last three quarters of
  the time), the largest backlog (quiet, not yet checked) and how long the last ones
  took. The targets: 100 sessions checked a second, a backlog of at most 5 seconds of
  sessions ending. The judge is on every session too (it keeps up with 10 a second:
  its runs wait in the queue).
- **judge down**: the judge's endpoint refuses connections while every session waits
  for it (retried with backoff) for ``--down-seconds``; the server's resident memory
  at the start and the end. The target: it grows by at most 50 MB.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.ingest import send_all
from bench.server import BenchServer
from bench.workload import Batch, Ending, batches, sessions_ending

JUDGE_DELAY_S = 0.2
PAIRS = 5  # ingest timed without and beside the evaluators, in turn
SENDERS = 4
QUIET_S = 1  # the evaluators' quiet_seconds while sessions end
SAMPLE_S = 0.5  # how often the checks' progress is read
DRAIN_S = 60  # the most the last sessions' checks are waited for
CHECKS: dict[str, dict[str, Any]] = {
    "last-turn-error": {"type": "error_in_last_turn"},
    "tool-loop": {"type": "tool_loop", "params": {"times": 3}},
    "too-costly": {"type": "max_cost", "params": {"max": 0.5}},
}
PROMPT = "Rate how helpful the assistant was, 0 to 1.\n\n{{transcript}}"


def _flags() -> tuple[str, ...]:
    return ("--evaluator-allowed-hosts", "127.0.0.1", "--evaluator-poll-ms", "200")


class Project:
    """The server's default project, through its API key."""

    def __init__(self, server: BenchServer) -> None:
        self.client = httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {server.key}"}, timeout=120
        )

    def add_evaluators(self, judge_url: str, quiet_seconds: int = 0) -> list[str]:
        """The three checks and the judge, each on every session; their ids."""
        made = []
        on = {"target": "session", "quiet_seconds": quiet_seconds}
        for name, check in CHECKS.items():
            made.append(self._add({"name": name, "kind": "check", "check": check, **on}))
        llm = {
            "base_url": judge_url,
            "model": "gpt-4o-mini",
            "api_key": "bench-not-a-secret",
            "prompt": PROMPT,
            "score": {"name": "helpfulness", "type": "numeric", "min": 0, "max": 1},
        }
        budget = {"calls_per_day": 10**6, "tokens_per_day": 10**9}
        judge = {"name": "judge", "kind": "llm_judge", "llm": llm, "budget": budget}
        made.append(self._add(judge | on))
        return made

    def _add(self, definition: dict[str, Any]) -> str:
        response = self.client.post("/api/v1/evaluators", json=definition)
        if response.status_code != 201:
            raise RuntimeError(f"could not add {definition['name']}: {response.text}")
        return str(response.json()["id"])

    def try_judge(self, evaluator_id: str, session_id: str) -> None:
        """The evaluator's dry run on one session (its page's "Try on a session")."""
        response = self.client.post(
            f"/api/v1/evaluators/{evaluator_id}/test", json={"session_id": session_id}
        )
        response.raise_for_status()

    def backfill(self, evaluator_ids: list[str]) -> int:
        queued = 0
        for evaluator_id in evaluator_ids:
            response = self.client.post(
                f"/api/v1/evaluators/{evaluator_id}/backfill", json={"since": "2000-01-01"}
            )
            response.raise_for_status()
            queued += int(response.json()["queued"])
        return queued

    def sessions(self, **params: str) -> int:
        response = self.client.get("/api/v1/sessions", params={"limit": "1", **params})
        response.raise_for_status()
        return int(response.json()["total"])


def rss_mb(server: BenchServer) -> float:
    return _status_kb(server, "VmRSS:") / 1024


def _status_kb(server: BenchServer, field: str) -> int:
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def ingest_beside(work: list[Batch], judge_url: str | None) -> float:
    """Spans a second of the last four fifths of ``work``, sent after the first fifth
    was backfilled to the four evaluators (none when ``judge_url`` is None)."""
    head, rest = work[: len(work) // 5], work[len(work) // 5 :]
    with tempfile.TemporaryDirectory() as tmp, BenchServer(Path(tmp), *_flags()) as server:
        send_all(server.url, server.key, head, SENDERS)
        if judge_url is not None:
            project = Project(server)
            made = project.add_evaluators(judge_url)
            stored = next((session for batch in head for session, _ in batch.traces), None)
            if stored is not None:  # a quick run's head may be empty
                project.try_judge(made[-1], stored)
            project.backfill(made)
        acked, seconds, _ = send_all(server.url, server.key, rest, SENDERS)
    return acked / seconds


def cpu_seconds(server: BenchServer) -> float:
    """The server process's CPU time so far (user and system, all its threads)."""
    fields = Path(f"/proc/{server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class KeepingUp:
    """The checks against sessions ending at a steady rate."""

    ended: float  # sessions ending a second at steady state
    checked: float  # sessions checked (by each of the three checks) a second meanwhile
    backlog: int  # the most sessions quiet and not yet checked at once
    sessions: int
    drained_s: float  # after the last ended, until every one was checked (inf: never)
    cores: float  # the server's CPU meanwhile (its ingest too), in cores


def keeping_up(judge_url: str, rate: float, seconds: float) -> KeepingUp:
    """Sessions ending ``rate`` a second for ``seconds`` on a server with the four
    evaluators; every half second, how many were stored and quiet against how many
    the three checks scored. The steady state: the last three quarters of the time."""
    with tempfile.TemporaryDirectory() as tmp, BenchServer(Path(tmp), *_flags()) as server:
        project = Project(server)
        project.add_evaluators(judge_url, quiet_seconds=QUIET_S)
        work = sessions_ending(rate, seconds, time.time_ns())
        sent = Sender(server, work)
        samples: list[tuple[float, int, int, float]] = []  # (time, quiet, checked, cpu)
        while True:
            at = time.time_ns()
            checked = min(project.sessions(has_score=name) for name in CHECKS)
            quiet = sent.quiet(at - QUIET_S * 10**9)
            samples.append((at / 1e9, quiet, checked, cpu_seconds(server)))
            if sent.done.is_set() and (
                checked >= len(sent.ends) or at / 1e9 > sent.last_s + DRAIN_S
            ):
                break
            time.sleep(SAMPLE_S)
        sent.join()
    # the last three quarters of the sending (all of it, when too short for samples)
    begin = sent.first_s + (sent.last_s - sent.first_s) / 4
    steady = [s for s in samples if begin <= s[0] <= sent.last_s + SAMPLE_S] or samples
    first, last = (steady[0], steady[-1]) if len(steady) > 1 else (samples[0], samples[-1])
    took = max(last[0] - first[0], 1e-9)
    drained = next((s[0] - sent.last_s for s in samples if s[2] >= len(sent.ends)), math.inf)
    return KeepingUp(
        ended=(last[1] - first[1]) / took,
        checked=(last[2] - first[2]) / took,
        backlog=max(quiet - checked for _, quiet, checked, _ in steady),
        sessions=len(sent.ends),
        drained_s=max(drained, 0.0),
        cores=(last[3] - first[3]) / took,
    )


class Sender:
    """Sends ``work``'s requests (SENDERS at once, in a thread) as far apart as their
    last sessions' ends, starting once the first ended QUIET_S ago: each session is
    stored quiet, so it ends for the runner when it arrives (the work was built
    beforehand, its times in the past by then). Which sessions were stored, by their
    ends."""

    def __init__(self, server: BenchServer, work: list[Ending]) -> None:
        self.ends: list[int] = []  # of the sessions stored, in the order stored
        first = work[0].ends_ns[0] / 1e9
        self._shift = max(time.time(), first + QUIET_S + 0.5) - first
        self.first_s = work[0].ends_ns[-1] / 1e9 + self._shift  # when the first is sent
        self.last_s = work[-1].ends_ns[-1] / 1e9 + self._shift  # when the last is sent
        self.done = threading.Event()
        self.failed: BaseException | None = None
        self._lock = threading.Lock()
        self._server = server
        self._thread = threading.Thread(target=self._send, args=(work,), daemon=True)
        self._thread.start()

    def _send(self, work: list[Ending]) -> None:
        headers = {
            "Content-Type": "application/x-protobuf",
            "Content-Encoding": "gzip",
            "Authorization": f"Bearer {self._server.key}",
        }
        url = f"{self._server.url}/v1/traces"

        def post(request: Ending) -> None:
            response = client.post(url, content=request.batch.body, headers=headers)
            response.raise_for_status()
            with self._lock:
                self.ends.extend(request.ends_ns)

        try:
            with httpx.Client(timeout=120) as client, ThreadPoolExecutor(SENDERS) as pool:
                posted = []
                for request in work:
                    time.sleep(max(0.0, request.ends_ns[-1] / 1e9 + self._shift - time.time()))
                    posted.append(pool.submit(post, request))
                for future in posted:
                    if future.exception() is not None:
                        self.failed = future.exception()
        finally:
            self.done.set()

    def quiet(self, until_ns: int) -> int:
        """The sessions stored that ended by ``until_ns``."""
        with self._lock:
            return sum(end <= until_ns for end in self.ends)

    def join(self) -> None:
        self._thread.join()
        if self.failed is not None:
            raise RuntimeError(f"a request of sessions failed: {self.failed}")


def judge_down(work: list[Batch], seconds: float) -> tuple[float, float, int]:
    """Resident MB at the start and at the end of ``seconds`` with every session
    waiting for a judge whose endpoint is down; the sessions."""
    with tempfile.TemporaryDirectory() as tmp, BenchServer(Path(tmp), *_flags()) as server:
        send_all(server.url, server.key, work, SENDERS)
        project = Project(server)
        down = "http://127.0.0.1:9/v1"  # the discard port: nothing listens there
        project.backfill(project.add_evaluators(down))
        time.sleep(2)  # the first attempts under way
        before = rss_mb(server)
        time.sleep(seconds)
        return before, rss_mb(server), project.sessions()


# name -> (target, unit, higher is better), as bench.__main__ judges them
TARGETS: dict[str, tuple[float, str, bool]] = {
    "ingest beside evaluators": (90, "% of rate without", True),
    "sessions checked": (100, "sessions/s", True),
    "checks: largest backlog": (5, "s of sessions ending", False),
    "judge down: RSS growth": (50, "MB", False),
}
RATE = 110  # sessions ending a second while the checks are timed


def measure(
    spans: int,
    down_seconds: float,
    rate: float = RATE,
    check_seconds: float | None = None,
    pairs: int = PAIRS,
) -> dict[str, float]:
    """The figures of :data:`TARGETS` (details on stderr)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.fakes.llm import FakeLLM, Reply, judgement

    work = batches(spans)
    if check_seconds is None:
        check_seconds = min(max(spans / 2_000, 2.0), 60.0)
    with FakeLLM() as fake:
        fake.always = Reply(content=judgement(score=0.8, turn=1).content, delay_s=JUDGE_DELAY_S)
        ratios: list[tuple[float, float, float]] = []  # (ratio, without, beside)
        for n in range(pairs):
            print(
                f"evaluators: ingest with none, then beside them ({n + 1} of {pairs})...",
                file=sys.stderr,
            )
            without = ingest_beside(work, None)
            beside = ingest_beside(work, fake.openai_base_url)
            ratios.append((beside / without, without, beside))
        ratio, without, beside = sorted(ratios)[len(ratios) // 2]
        each = ", ".join(f"{r * 100:.1f}% ({b:,.0f} / {w:,.0f})" for r, w, b in ratios)
        print(f"evaluators: ingest beside them / without, each pair: {each}", file=sys.stderr)
        print(
            f"evaluators: checks, {rate:g} sessions ending a second for {check_seconds:g} s...",
            file=sys.stderr,
        )
        kept = keeping_up(fake.openai_base_url, rate, check_seconds)
    print(f"evaluators: the judge down for {down_seconds:.0f} s...", file=sys.stderr)
    before, after, _ = judge_down(work, down_seconds)
    print(
        f"evaluators: {spans:,} spans; ingest {without:,.0f} spans/s without, "
        f"{beside:,.0f} beside them; RSS {before:.0f} -> {after:.0f} MB with the judge down "
        f"{down_seconds:.0f} s; checks: {kept.sessions:,} sessions, {kept.ended:,.1f} ending "
        f"and {kept.checked:,.1f} checked a second at steady state, a backlog of "
        f"{kept.backlog:,} at most, the last checked {kept.drained_s:.1f} s after they went "
        f"quiet; the server used {kept.cores:.2f} cores meanwhile (its ingest too)",
        file=sys.stderr,
    )
    return {
        "ingest beside evaluators": ratio * 100,
        "sessions checked": kept.checked,
        "checks: largest backlog": kept.backlog / max(kept.ended, 1e-9),
        "judge down: RSS growth": after - before,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--spans", type=int, default=200_000, help="the workload of the ingest measures"
    )
    parser.add_argument(
        "--down-seconds", type=float, default=600, help="how long the judge is down"
    )
    parser.add_argument(
        "--rate", type=float, default=RATE, help="sessions ending a second for the checks"
    )
    parser.add_argument(
        "--check-seconds",
        type=float,
        default=None,
        help="how long sessions end (default: spans / 2,000, from 2 to 60)",
    )
    parser.add_argument(
        "--pairs",
        type=int,
        default=PAIRS,
        help="how many times ingest is timed without and beside the evaluators (the median)",
    )
    args = parser.parse_args(argv)
    figures = measure(args.spans, args.down_seconds, args.rate, args.check_seconds, args.pairs)
    failed = 0
    for name, (target, unit, higher) in TARGETS.items():
        value = figures[name]
        ok = value >= target if higher else value <= target
        failed += not ok
        print(f"{name:<28}{value:>10,.1f}  {f'{target:,g} {unit}':<24}{'pass' if ok else 'FAIL'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
