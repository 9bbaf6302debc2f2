"""An LLM judge's slow calls never hold up the checks (#20): the runner claims and
does check runs apart from the judges' (lamina.evaluation.runner), so sessions are
checked while every judge worker waits on its endpoint."""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.conftest import LaminaServer
from tests.evaluation.test_checks import MS, Project, turn, wait
from tests.evaluation.test_llm_judge import ALLOW, backfill, judge_definition
from tests.fakes.llm import FakeLLM, Reply, judgement

SESSIONS = 6
JUDGE_S = 10  # each judge call: longer than the checks are waited for


def test_checks_are_done_while_the_judge_workers_wait_on_their_endpoint(
    new_server: Callable[..., LaminaServer],
) -> None:
    project = Project(new_server(*ALLOW))
    start = time.time_ns() - 3_600 * 1000 * MS
    ids = [f"lanes-{n}" for n in range(SESSIONS)]
    for n, sid in enumerate(ids):
        project.send(turn(sid, 0, start + n * MS), sid, 1)
    with FakeLLM() as fake:
        fake.always = Reply(content=judgement(score=0.5, turn=1).content, delay_s=JUDGE_S)
        judge = project.ok(
            "POST", "/api/v1/evaluators", 201, json=judge_definition(fake.openai_base_url)
        )
        check = project.ok(
            "POST",
            "/api/v1/evaluators",
            201,
            json={"name": "errors", "kind": "check", "check": {"type": "error_in_last_turn"}},
        )
        backfill(project, judge["id"], SESSIONS)  # queued first: claimed first before
        backfill(project, check["id"], SESSIONS)
        done = wait(
            project,
            f"/api/v1/evaluators/{check['id']}/runs",
            lambda items: [r["status"] for r in items] == ["ok"] * SESSIONS,
            timeout=JUDGE_S * 0.6,
        )
        assert sorted(run["target_id"] for run in done) == ids
        # every judge worker still waits on its first call: none of its runs ended
        judged = project.ok("GET", f"/api/v1/evaluators/{judge['id']}/runs")["items"]
        assert {run["status"] for run in judged} <= {"queued", "running"}
        assert len(fake.chat_requests()) <= 2  # a call a judge worker at most


def test_an_evaluator_made_between_two_looks_has_its_runs_done_not_skipped(
    new_server: Callable[..., LaminaServer],
) -> None:
    """A check made and backfilled while the runner is busy with a judge's runs, long
    before its next look for evaluators (a minute): its runs are claimed in the busy
    runner's next claims and must be checked, not skipped as if it were disabled."""
    slow = ("--evaluator-poll-ms", "60000", "--evaluator-allowed-hosts", "127.0.0.1")
    first = new_server(*slow)
    project = Project(first)
    start = time.time_ns() - 3_600 * 1000 * MS
    ids = [f"race-{n}" for n in range(SESSIONS)]
    for n, sid in enumerate(ids):
        project.send(turn(sid, 0, start + n * MS), sid, 1)
    with FakeLLM() as fake:
        fake.always = Reply(content=judgement(score=0.5, turn=1).content, delay_s=2)
        judge = project.ok(
            "POST", "/api/v1/evaluators", 201, json=judge_definition(fake.openai_base_url)
        )
        backfill(project, judge["id"], SESSIONS)  # done by the next server, which knows it
        first.stop()
        project.server = new_server(*slow, data_dir=first.data_dir, api_key=project.key)
        check = project.ok(
            "POST",
            "/api/v1/evaluators",
            201,
            json={"name": "errors", "kind": "check", "check": {"type": "error_in_last_turn"}},
        )
        backfill(project, check["id"], SESSIONS)
        runs_path = f"/api/v1/evaluators/{check['id']}/runs"
        deadline = time.monotonic() + 15
        while True:
            runs = [(r["status"], r["error"]) for r in project.ok("GET", runs_path)["items"]]
            if not {status for status, _ in runs} & {"queued", "running"}:
                break
            assert time.monotonic() < deadline, runs
            time.sleep(0.1)
        assert runs == [("ok", None)] * SESSIONS
