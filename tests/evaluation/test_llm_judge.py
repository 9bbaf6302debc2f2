"""LLM judge evaluators (#20) end to end, both stores: a real ``lamina serve`` whose
runner calls the fake OpenAI-compatible server (tests/fakes/llm.py, on a loopback port
the server is told to allow) through the real ``openai`` client. A quiet session is
judged once, its score on the turn the judge cites with the reasoning as comment; a new
turn judges it again and supersedes the older score; a malformed answer is repaired
once, two make an error run; a 429 is retried; an endpoint that is down records its
error, makes the evaluator's state failing (API and pages) and holds up neither ingest
nor a check; the dry run answers the prompt, the raw
answer and the score; the daily budget stops the calls; the API key is in no answer
and no log line; a judge at a loopback address the server does not allow is refused;
a server killed mid-judging and started again scores each session once."""

from __future__ import annotations

import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import LaminaServer
from tests.evaluation.test_checks import MS, Project, turn, wait
from tests.fakes.llm import FakeLLM, Reply, judgement
from tests.support import otlp

pytestmark = pytest.mark.both_stores  # tests/conftest.py
SECRET = "sk-test-" + uuid.uuid4().hex
ALLOW = ("--evaluator-poll-ms", "100", "--evaluator-allowed-hosts", "127.0.0.1")
PROMPT = "Was the assistant helpful? {{transcript}}"
PASSWORD = "a long enough passphrase"


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    with FakeLLM() as running:
        yield running


def judge_definition(base_url: str, name: str = "helpful", **extra: Any) -> dict[str, Any]:
    llm = {
        "base_url": base_url,
        "model": "gpt-4o-mini",
        "api_key": SECRET,
        "prompt": PROMPT,
        "score": {"name": "helpfulness", "type": "numeric", "min": 0, "max": 1},
    }
    return {"name": name, "kind": "llm_judge", "quiet_seconds": 1, "llm": llm, **extra}


def old_session(project: Project, turns: int = 2) -> tuple[str, list[str]]:
    """A session that ended an hour ago (quiet): its id and its turns' trace ids."""
    sid = f"s-judge-{uuid.uuid4().hex[:8]}"
    start = time.time_ns() - 3_600 * 1000 * MS
    spans = [span for n in range(turns) for span in turn(sid, n, start + n * 1000 * MS)]
    project.send(spans, sid, turns)
    return sid, [t["trace_id"] for t in project.ok("GET", f"/api/v1/sessions/{sid}")["traces"]]


def backfill(project: Project, evaluator_id: str, queued: int = 1) -> None:
    path = f"/api/v1/evaluators/{evaluator_id}/backfill"
    assert project.ok("POST", path, 202, json={"since": "2000-01-01"}) == {"queued": queued}


def assert_secret_nowhere(project: Project, server: LaminaServer, evaluator_id: str) -> None:
    for path in (
        "/api/v1/evaluators",
        f"/api/v1/evaluators/{evaluator_id}",
        f"/api/v1/evaluators/{evaluator_id}/runs",
        "/api/v1/scores",
    ):
        assert SECRET not in project.call("GET", path).text, path
    assert not [line for line in server.output if SECRET in line]
    raw = b"".join(path.read_bytes() for path in server.data_dir.rglob("*") if path.is_file())
    assert SECRET.encode() not in raw  # sealed with the data dir's key, never in clear


def test_a_quiet_session_is_judged_once_on_its_cited_turn_then_again_after_a_new_turn(
    new_server: Callable[..., LaminaServer], fake: FakeLLM
) -> None:
    server = new_server(*ALLOW)
    project = Project(server)
    sid, traces = old_session(project)
    fake.script(judgement(score=0.25, reasoning="Turn 2 ignored the question.", turn=2))
    made = project.ok(
        "POST", "/api/v1/evaluators", 201, json=judge_definition(fake.openai_base_url)
    )
    assert made["budget"] == {"calls_per_day": 1000, "tokens_per_day": 5_000_000}
    backfill(project, made["id"])
    runs_path = f"/api/v1/evaluators/{made['id']}/runs"
    (run,) = wait(project, runs_path, lambda items: [r["status"] for r in items] == ["ok"])
    assert run["value"] == 0.25 and run["trace_id"] == traces[1]
    assert run["comment"] == "Turn 2 ignored the question."
    assert run["input_tokens"] > 0 and run["output_tokens"] > 0 and run["latency_ms"] > 0
    (asked,) = fake.requests
    assert asked.headers["authorization"] == f"Bearer {SECRET}"
    assert "question 1" in str(asked.body["messages"]) and "json_schema" in str(asked.body)
    (score,) = project.ok("GET", "/api/v1/scores")["items"]
    assert (score["name"], score["value"], score["source"]) == (
        "helpfulness",
        0.25,
        "evaluator:helpful",
    )
    assert score["session_id"] == sid and score["trace_id"] == traces[1]
    assert score["comment"] == "Turn 2 ignored the question."

    # a new turn, after the evaluator was made: judged again once quiet, the older
    # score superseded (its run kept as history)
    fake.script(judgement(score=1.0, reasoning="Turn 3 fixed it.", turn=3))
    project.send(turn(sid, 2, time.time_ns()), sid, 3)
    newest, older = wait(
        project,
        runs_path,
        lambda items: (
            [(r["status"], r["superseded"]) for r in items] == [("ok", False), ("ok", True)]
        ),
    )
    assert newest["value"] == 1.0 and older["value"] == 0.25
    (score,) = project.ok("GET", "/api/v1/scores")["items"]
    assert score["value"] == 1.0 and score["score_id"] == newest["score_id"]
    assert score["comment"] == "Turn 3 fixed it." and score["trace_id"] not in traces
    assert len(fake.chat_requests()) == 2  # judged once a version
    assert_secret_nowhere(project, server, made["id"])


def test_a_malformed_answer_is_repaired_two_are_an_error_and_a_429_is_retried(
    new_server: Callable[..., LaminaServer], fake: FakeLLM
) -> None:
    project = Project(new_server(*ALLOW))
    made = project.ok(
        "POST", "/api/v1/evaluators", 201, json=judge_definition(fake.openai_base_url)
    )
    runs_path = f"/api/v1/evaluators/{made['id']}/runs"
    one_path = f"/api/v1/evaluators/{made['id']}"
    assert project.ok("GET", one_path)["state"] == "idle"  # nothing judged yet
    cases = [
        ([Reply(content="It was fine, 8/10."), judgement(score=0.8, turn=1)], "ok"),
        ([Reply(content="no JSON"), Reply(content='{"score": 2}')], "error"),
        ([Reply(status=429, headers={"retry-after": "0"}), judgement(score=0.5, turn=1)], "ok"),
    ]
    for n, (replies, status) in enumerate(cases, start=1):
        before = len(fake.chat_requests())
        old_session(project, turns=1)
        fake.script(*replies)
        backfill(project, made["id"])
        runs = wait(
            project, runs_path, lambda items, n=n: len(items) == n and items[0]["finished_at"]
        )
        assert runs[0]["status"] == status, runs[0]
        assert len(fake.chat_requests()) - before == 2  # the repair, or the retry
        if status == "error":
            assert "did not answer in the JSON" in runs[0]["error"]
            assert runs[0]["score_id"] is None and runs[0]["input_tokens"] > 0
            assert runs[0]["failed_at"] == runs[0]["finished_at"]
        # its state: failing while its newest failure is newer than its newest ok run,
        # ok again once a run after it is ok
        shown = project.ok("GET", one_path)
        assert shown["state"] == ("failing" if status == "error" else "ok"), shown
        assert "did not answer in the JSON" in (shown["last_error"] or "") or n == 1
        (listed,) = project.ok("GET", "/api/v1/evaluators")["items"]
        assert listed["state"] == shown["state"]
    repair = fake.chat_requests()[1]["messages"]
    assert [m["role"] for m in repair][-2:] == ["assistant", "user"]
    scores = project.ok("GET", "/api/v1/scores")["items"]
    assert sorted(s["value"] for s in scores) == [0.5, 0.8]


def test_an_endpoint_that_is_down_records_its_error_and_holds_up_nothing(
    new_server: Callable[..., LaminaServer],
) -> None:
    project = Project(new_server(*ALLOW))
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{closed.getsockname()[1]}/v1"
    sid, _ = old_session(project, turns=1)
    judge = project.ok("POST", "/api/v1/evaluators", 201, json=judge_definition(down))
    check = project.ok(
        "POST",
        "/api/v1/evaluators",
        201,
        json={"name": "errors", "kind": "check", "check": {"type": "error_in_last_turn"}},
    )
    for evaluator in (judge, check):
        backfill(project, evaluator["id"])
    (failed,) = wait(
        project,
        f"/api/v1/evaluators/{judge['id']}/runs",
        lambda items: [(r["status"], bool(r["error"])) for r in items] == [("queued", True)],
    )
    # at least one attempt failed (on a loaded machine the poll may come after the retry)
    assert "Could not reach the judge's endpoint" in failed["error"] and failed["attempts"] >= 1
    wait(
        project, f"/api/v1/evaluators/{check['id']}/runs", lambda items: items[0]["status"] == "ok"
    )
    old_session(project, turns=2)  # ingest goes on (send waits for it to be readable)
    tried = project.ok("POST", f"/api/v1/evaluators/{judge['id']}/test", json={"session_id": sid})
    assert tried["score"] is None and "Could not reach" in tried["error"]
    assert PROMPT.split("{{")[0] in tried["prompt"] and tried["raw"] is None
    # its state is failing, with the error in words; the check's is ok
    shown = project.ok("GET", f"/api/v1/evaluators/{judge['id']}")
    assert shown["state"] == "failing" and "Could not reach the judge's" in shown["last_error"]
    # (the run may have been tried again since, after its 5 s backoff)
    assert shown["last_error_at"] >= failed["failed_at"] and shown["last_ok_at"] is None
    assert project.ok("GET", f"/api/v1/evaluators/{check['id']}")["state"] == "ok"
    # the Evaluators page and the judge's own page say it is failing and why, no key
    page = signed_in_page(project, f"/p/{project.name}/evaluators")
    assert 'data-state="failing"' in page and 'data-state="ok"' in page
    assert "Failing:</span> Could not reach the judge&#39;s endpoint" in page
    assert SECRET not in page
    own = signed_in_page(project, f"/p/{project.name}/evaluators/{judge['id']}")
    assert "This evaluator is failing." in own and SECRET not in own
    assert "set (never shown); leave empty to keep it" in own  # the editor's key field
    assert "Last error: <span data-last-error>Could not reach the judge&#39;s endpoint" in own
    # turned off, it says so
    project.ok("PUT", f"/api/v1/evaluators/{judge['id']}", json={"enabled": False})
    shown = project.ok("GET", f"/api/v1/evaluators/{judge['id']}")
    assert shown["state"] == "disabled" and "Could not reach" in shown["last_error"]


def signed_in_page(project: Project, path: str) -> str:
    """The page as a signed-in user's browser gets it (over HTTP, with its cookie)."""
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    otlp.admin(project.server, "create_user", email=email, password=PASSWORD)
    with httpx.Client(base_url=project.server.url, timeout=30) as browser:
        signin = browser.get("/signin").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', signin)
        assert csrf is not None
        form = {"email": email, "password": PASSWORD, "csrf": csrf[1]}
        assert browser.post("/signin", data=form).status_code == 303
        answer = browser.get(path)
        assert answer.status_code == 200, answer.text[:300]
        return answer.text


def test_a_judge_at_an_address_the_server_does_not_allow_is_refused(
    server: LaminaServer, fake: FakeLLM
) -> None:
    project = Project(server)
    sid, _ = old_session(project)
    made = project.ok(
        "POST",
        "/api/v1/evaluators",
        201,
        json=judge_definition(fake.openai_base_url, enabled=False),
    )
    tried_path = f"/api/v1/evaluators/{made['id']}/test"
    # the shared server allows no private address: refused before any call
    refused = project.ok("POST", tried_path, json={"session_id": sid})
    assert refused["score"] is None and "--evaluator-allowed-hosts" in refused["error"]
    assert fake.requests == []


def test_the_dry_run_and_the_daily_budget(
    new_server: Callable[..., LaminaServer], fake: FakeLLM
) -> None:
    server = new_server(*ALLOW, "--evaluator-concurrency", "1")
    project = Project(server)
    sid, traces = old_session(project)
    definition = judge_definition(fake.openai_base_url, budget={"calls_per_day": 2})
    made = project.ok("POST", "/api/v1/evaluators", 201, json=definition)
    fake.script(judgement(score=0.9, reasoning="Helpful at turn 1.", turn=1))
    tried = project.ok("POST", f"/api/v1/evaluators/{made['id']}/test", json={"session_id": sid})
    assert tried["error"] is None and tried["turn"] == 1
    assert (
        tried["prompt"].startswith("Was the assistant helpful?") and "question 1" in tried["prompt"]
    )
    assert '"score": 0.9' in tried["raw"]
    shown = tried["score"]
    assert (shown["value"], shown["trace_id"], shown["comment"]) == (
        0.9,
        traces[0],
        "Helpful at turn 1.",
    )
    assert shown["score_id"] is None and project.ok("GET", "/api/v1/scores")["items"] == []
    fake.script(Reply(content="?"), Reply(content="??"))
    failed = project.ok("POST", f"/api/v1/evaluators/{made['id']}/test", json={"session_id": sid})
    assert failed["score"] is None and "did not answer in the JSON" in failed["error"]
    assert failed["raw"] == "??" and "question 1" in failed["prompt"]

    # a redirect is not followed: a public host could send the call on to a private one
    with FakeLLM() as inner:
        to = {"location": f"{inner.openai_base_url}/chat/completions"}
        fake.script(Reply(status=307, error="moved", headers=to))
        moved = project.ok(
            "POST", f"/api/v1/evaluators/{made['id']}/test", json={"session_id": sid}
        )
        assert moved["score"] is None and "307" in moved["error"] and inner.requests == []

    # a categorical judge's label takes its value from the project's config of its name
    config = {"name": "resolution", "type": "categorical"}
    config["categories"] = [{"label": "resolved", "value": 1}, {"label": "escalated", "value": 0.5}]
    project.ok("POST", "/api/v1/score-configs", 201, json=config)
    labelled = judge_definition(fake.openai_base_url, name="resolution", enabled=False)
    labelled["llm"]["score"] = {**config, "categories": ["resolved", "escalated"]}
    labeller = project.ok("POST", "/api/v1/evaluators", 201, json=labelled)
    fake.script(judgement(label="escalated", reasoning="Handed to a person.", turn=2))
    tried = project.ok(
        "POST", f"/api/v1/evaluators/{labeller['id']}/test", json={"session_id": sid}
    )
    shown = tried["score"]
    assert (shown["label"], shown["value"], shown["trace_id"]) == ("escalated", 0.5, traces[1])

    # the budget: two judge calls a day (the dry runs are not counted); four sessions
    fake.always = judgement(score=0.5, turn=1)
    before = len(fake.chat_requests())
    for _ in range(3):
        old_session(project, turns=1)
    backfill(project, made["id"], queued=4)
    runs_path = f"/api/v1/evaluators/{made['id']}/runs"
    runs = wait(
        project,
        runs_path,
        lambda items: (
            sorted(r["status"] for r in items if r["error"] or r["finished_at"])
            == ["ok", "ok", "queued", "queued"]
        ),
    )
    waiting = [r for r in runs if r["status"] == "queued"]
    assert all("calls_per_day" in r["error"] for r in waiting)
    assert len(fake.chat_requests()) - before == 2
    assert len(project.ok("GET", "/api/v1/scores")["items"]) == 2
    # the backfill's progress: two of four done, two waiting (API and the judge's page)
    progress = project.ok("GET", f"/api/v1/evaluators/{made['id']}")["progress"]
    assert progress is not None and progress["since"] == runs[0]["queued_at"]
    counts = {k: progress[k] for k in ("total", "queued", "running", "done", "failed")}
    assert counts == {"total": 4, "queued": 2, "running": 0, "done": 2, "failed": 0}
    page = signed_in_page(project, f"/p/{project.name}/evaluators/{made['id']}")
    assert "<strong>2 of 4</strong> runs queued since" in page
    assert '<progress value="2" max="4"' in page and "data-refresh-seconds" in page
    assert '<span class="chip" data-count="queued">queued 2</span>' in page
    # a target the filter leaves out is skipped, not kept waiting by a spent budget
    spent = judge_definition(fake.openai_base_url, name="spent", budget={"calls_per_day": 0})
    spent["filter"] = {"name": "another_turn"}
    none_left = project.ok("POST", "/api/v1/evaluators", 201, json=spent)
    backfill(project, none_left["id"], queued=4)
    wait(
        project,
        f"/api/v1/evaluators/{none_left['id']}/runs",
        lambda items: [r["status"] for r in items] == ["skipped"] * 4,
    )
    # all of its runs done: no progress, and its page is not read again
    assert project.ok("GET", f"/api/v1/evaluators/{none_left['id']}")["progress"] is None
    page = signed_in_page(project, f"/p/{project.name}/evaluators/{none_left['id']}")
    assert "data-progress" not in page and "data-refresh-seconds" not in page
    assert_secret_nowhere(project, server, made["id"])


def test_killed_mid_judging_then_restarted_scores_each_session_once(
    new_server: Callable[..., LaminaServer], fake: FakeLLM
) -> None:
    options = (*ALLOW, "--evaluator-poll-ms", "50", "--evaluator-lease-seconds", "4")
    first = new_server(*options)
    project = Project(first)
    start = time.time_ns() - 3_600 * 1000 * MS
    ids = [f"s-kill-{n:02d}-{uuid.uuid4().hex[:6]}" for n in range(12)]
    spans = [span for n, sid in enumerate(ids) for span in turn(sid, 0, start + n * MS, said=sid)]
    project.send(spans, ids[-1], 1)
    fake.always = Reply(content=judgement(score=0.5, turn=1).content, delay_s=0.2)
    made = project.ok(
        "POST", "/api/v1/evaluators", 201, json=judge_definition(fake.openai_base_url)
    )
    backfill(project, made["id"], queued=len(ids))
    runs_path = f"/api/v1/evaluators/{made['id']}/runs"
    ok = {"limit": 500, "status": "ok"}
    deadline = time.monotonic() + 20
    while len(project.ok("GET", runs_path, params=ok)["items"]) < 2:
        assert time.monotonic() < deadline, "no judgement finished"
        time.sleep(0.01)
    first.kill()
    assert len(fake.chat_requests()) < len(ids), "every call ended before the kill"
    again = new_server(*options, data_dir=first.data_dir, api_key=project.key)
    project.server = again
    runs = wait(
        project,
        runs_path + "?limit=500",
        lambda items: len(items) == len(ids) and {r["status"] for r in items} == {"ok"},
        timeout=30,
    )
    assert sorted(r["target_id"] for r in runs) == sorted(ids)  # one run each, all ok
    scores = project.ok("GET", "/api/v1/scores", params={"limit": 500})["items"]
    assert sorted(s["session_id"] for s in scores) == sorted(ids)  # one score each
    asked = [
        next(sid for sid in ids if sid in str(body["messages"])) for body in fake.chat_requests()
    ]
    again_asked = [sid for sid in ids if asked.count(sid) > 1]
    assert set(asked) == set(ids) and len(again_asked) <= 2  # only those cut short by the kill
