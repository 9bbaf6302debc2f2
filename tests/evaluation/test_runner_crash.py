"""The evaluator runner killed mid-run (SIGKILL) and started again, on both stores: each
session is judged exactly once (one ok run, one score), none lost, none twice."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import pytest

from tests.conftest import LaminaServer
from tests.evaluation.test_checks import Project, turn

pytestmark = pytest.mark.both_stores  # tests/conftest.py
# Several claims of checks (CHECK_CLAIM a worker), each session of TURNS turns: with
# 300 sessions of one turn every run was done before the first could be seen done.
# At most 500: the runs are listed in one page.
SESSIONS = 480
TURNS = 4
MS = 1_000_000


def test_killed_mid_run_then_restarted_judges_each_session_exactly_once(
    new_server: Callable[..., LaminaServer],
) -> None:
    options = ("--evaluator-poll-ms", "50", "--evaluator-lease-seconds", "4")
    first = new_server(*options)
    project = Project(first)
    start = time.time_ns() - 3_600 * 1000 * MS
    spans = []
    ids = [f"crash-{n:03d}" for n in range(SESSIONS)]
    for n, sid in enumerate(ids):
        for k in range(TURNS):  # the last turn fails in every other session
            failed = "boom" if n % 2 and k == TURNS - 1 else None
            spans += turn(sid, k, start + (n * TURNS + k) * MS, error=failed)
    project.send(spans, ids[-1], TURNS)
    made = project.ok(
        "POST",
        "/api/v1/evaluators",
        201,
        json={"name": "crash", "kind": "check", "check": {"type": "error_in_last_turn"}},
    )
    path = f"/api/v1/evaluators/{made['id']}"
    runs_path = f"{path}/runs"
    queued = project.ok(
        "POST", f"/api/v1/evaluators/{made['id']}/backfill", 202, json={"since": "2000-01-01"}
    )
    assert queued == {"queued": SESSIONS}
    deadline = time.monotonic() + 20
    while not (done := _done(project, path)):
        assert time.monotonic() < deadline, "no run finished"
        time.sleep(0.005)
    first.kill()
    assert done < SESSIONS, "every run ended before the kill: nothing was cut short"

    again = new_server(*options, data_dir=first.data_dir, api_key=project.key)
    project.server = again
    deadline = time.monotonic() + 30
    while _done(project, path) < SESSIONS:
        items = project.ok("GET", runs_path, params={"limit": 500})["items"]
        assert time.monotonic() < deadline, Counter(
            (r["status"], r["attempts"], r["error"]) for r in items
        )
        time.sleep(0.1)
    runs = project.ok("GET", runs_path, params={"limit": 500})["items"]
    assert Counter(run["target_id"] for run in runs) == Counter(ids)  # one run each
    assert {run["status"] for run in runs} == {"ok"}
    scores = project.ok("GET", "/api/v1/scores", params={"limit": 500})["items"]
    assert Counter(score["session_id"] for score in scores) == Counter(ids)  # one score each
    by_session = {score["session_id"]: score["value"] for score in scores}
    assert by_session == {sid: float(n % 2) for n, sid in enumerate(ids)}


def _done(project: Project, path: str) -> int:
    """The evaluator's runs done (ok or skipped), from its progress (None: all done)."""
    progress = project.ok("GET", path)["progress"]
    return SESSIONS if progress is None else int(progress["done"])
