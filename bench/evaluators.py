"""Evaluators under load: what judging every session costs the server (issue #20).

    python -m bench.evaluators [--spans 200000] [--down-seconds 600]

Three measures, each on a fresh `lamina serve` and the benchmark's workload
(:mod:`bench.workload`), with three checks (error in the last turn, a tool loop, a
cost over a threshold) and one LLM judge on every session; the judge is the test
suite's fake OpenAI-compatible server (``tests/fakes/llm.py``, the real wire
protocol) answering in 200 ms:

- **ingest beside evaluators**: the first fifth of the spans is sent and backfilled
  (every session of it queued for the four evaluators), then the rest is timed while
  the runner works through that queue; the same rest is timed on a server with no
  evaluator. The target: the rate with them within 10% of the rate without.
- **checks**: every session backfilled at once; sessions checked a second (each by
  the three checks) until all are, read from the sessions list's ``has_score`` total.
  The target: 100 sessions ending a second.
- **judge down**: the judge's endpoint refuses connections while every session waits
  for it (retried with backoff) for ``--down-seconds``; the server's resident memory
  at the start and the end. The target: it grows by at most 50 MB.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.ingest import send_all
from bench.server import BenchServer
from bench.workload import Batch, batches

JUDGE_DELAY_S = 0.2
SENDERS = 4
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

    def add_evaluators(self, judge_url: str) -> list[str]:
        """The three checks and the judge, each on every session; their ids."""
        made = []
        for name, check in CHECKS.items():
            made.append(self._add({"name": name, "kind": "check", "check": check}))
        llm = {
            "base_url": judge_url,
            "model": "gpt-4o-mini",
            "api_key": "bench-not-a-secret",
            "prompt": PROMPT,
            "score": {"name": "helpfulness", "type": "numeric", "min": 0, "max": 1},
        }
        budget = {"calls_per_day": 10**6, "tokens_per_day": 10**9}
        made.append(self._add({"name": "judge", "kind": "llm_judge", "llm": llm, "budget": budget}))
        return made

    def _add(self, definition: dict[str, Any]) -> str:
        body = {"target": "session", "quiet_seconds": 0, **definition}
        response = self.client.post("/api/v1/evaluators", json=body)
        if response.status_code != 201:
            raise RuntimeError(f"could not add {definition['name']}: {response.text}")
        return str(response.json()["id"])

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
            project.backfill(project.add_evaluators(judge_url))
        acked, seconds, _ = send_all(server.url, server.key, rest, SENDERS)
    return acked / seconds


def cpu_seconds(server: BenchServer) -> float:
    """The server process's CPU time so far (user and system, all its threads)."""
    fields = Path(f"/proc/{server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def checks_rate(work: list[Batch], judge_url: str) -> tuple[float, int, float]:
    """Sessions checked a second by the three checks, how many sessions, and the
    server's CPU milliseconds a session meanwhile (less swayed by a busy machine)."""
    with tempfile.TemporaryDirectory() as tmp, BenchServer(Path(tmp), *_flags()) as server:
        send_all(server.url, server.key, work, SENDERS)
        project = Project(server)
        sessions = project.sessions()
        ids = project.add_evaluators(judge_url)
        started, cpu = time.perf_counter(), cpu_seconds(server)
        project.backfill(ids[: len(CHECKS)])
        while True:
            checked = min(project.sessions(has_score=name) for name in CHECKS)
            if checked >= sessions:
                break
            time.sleep(0.2)
        took, cpu = time.perf_counter() - started, cpu_seconds(server) - cpu
        return sessions / took, sessions, cpu / sessions * 1000


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
    "judge down: RSS growth": (50, "MB", False),
}


def measure(spans: int, down_seconds: float) -> dict[str, float]:
    """The three figures of :data:`TARGETS` (details on stderr)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.fakes.llm import FakeLLM, Reply, judgement

    work = batches(spans)
    with FakeLLM() as fake:
        fake.always = Reply(content=judgement(score=0.8, turn=1).content, delay_s=JUDGE_DELAY_S)
        print("evaluators: ingest with none, then beside them...", file=sys.stderr)
        without = ingest_beside(work, None)
        beside = ingest_beside(work, fake.openai_base_url)
        print("evaluators: checks...", file=sys.stderr)
        checked, sessions, cpu_ms = checks_rate(work, fake.openai_base_url)
    print(f"evaluators: the judge down for {down_seconds:.0f} s...", file=sys.stderr)
    before, after, _ = judge_down(work, down_seconds)
    print(
        f"evaluators: {spans:,} spans, {sessions:,} sessions; ingest {without:,.0f} spans/s "
        f"without, {beside:,.0f} beside them; RSS {before:.0f} -> {after:.0f} MB with the "
        f"judge down {down_seconds:.0f} s; checks: {checked:,.1f} sessions/s, "
        f"{cpu_ms:.1f} ms of server CPU a session",
        file=sys.stderr,
    )
    return {
        "ingest beside evaluators": beside / without * 100,
        "sessions checked": checked,
        "judge down: RSS growth": after - before,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=200_000)
    parser.add_argument("--down-seconds", type=float, default=600)
    args = parser.parse_args(argv)
    figures = measure(args.spans, args.down_seconds)
    failed = 0
    for name, (target, unit, higher) in TARGETS.items():
        value = figures[name]
        ok = value >= target if higher else value <= target
        failed += not ok
        print(f"{name:<28}{value:>10,.1f}  {f'{target:,g} {unit}':<24}{'pass' if ok else 'FAIL'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
