"""The `lamina` command: projects, keys, sessions, traces and demo, run as a user runs them.

Each command runs both while `lamina serve` holds the data dir (the command goes through
the server) and with the server stopped (the command opens the store itself).
"""

from __future__ import annotations

import concurrent.futures
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from lamina.demo import comments as demo_comments
from lamina.demo import datasets as demo_datasets
from lamina.demo import evaluators as demo_evaluators
from lamina.demo import experiments as demo_experiments
from lamina.demo import queries as demo_queries
from lamina.demo import scores as demo_scores
from lamina.demo.conversations import PASSWORD
from lamina.demo.returning import RETURNING
from lamina.demo.spans import PASSWORD_FAILURE, demo_sessions
from tests.conftest import LaminaServer, run_cli
from tests.support import otlp
from tests.support.otlp import IN_PROCESS

Result = subprocess.CompletedProcess[str]


def _ok(result: Result) -> str:
    assert result.returncode == 0, (result.args, result.stdout, result.stderr)
    return result.stdout


def _key_id(listing: str, key: str) -> str:
    for line in listing.splitlines():
        if key[:10] in line:
            match = re.search(r"key_[0-9a-f]+", line)
            assert match, line
            return match.group(0)
    raise AssertionError(f"{key[:10]} not in:\n{listing}")


def _send_session(server: LaminaServer, key: str, session_id: str, turns: int) -> list[str]:
    start = time.time_ns() - 60 * 1_000_000_000
    spans = [
        otlp.conversation_turn(session_id, turn, start_ns=start + turn * 1_000_000_000)
        for turn in range(turns)
    ]
    response = otlp.post(server.url, key, otlp.export([s for turn in spans for s in turn]))
    assert response.status_code == 200, response.text
    return [turn[0].trace_id.hex() for turn in spans]


def _check_views(session_id: str, trace_ids: list[str], outputs: dict[str, Result]) -> None:
    """What the views show; only the commands in ``outputs`` (a subset when offline)."""
    listing = _ok(outputs["list"])
    row = next(line for line in listing.splitlines() if session_id in line)
    assert "3.6k" in row  # 3 x 1200 tokens
    assert "$0.0008" in row  # 3 x (1000 x $0.15 + 200 x $0.60) / 1e6 = $0.00081
    assert "u-1" in row and "answer 2" in row

    shown = _ok(outputs["show"])
    assert session_id in shown and "3 traces" in shown
    assert all(trace_id in shown for trace_id in trace_ids)
    assert "question 0" in shown and "answer 2" in shown

    tree = _ok(outputs["trace"])
    assert "handle_turn" in tree and "openai.chat" in tree
    assert "gpt-4o-mini" in tree and "1000 → 200 tok" in tree
    assert f"session {session_id}" in tree
    lines = tree.splitlines()  # the LLM span is drawn under, and indented from, the root
    root = next(i for i, line in enumerate(lines) if "handle_turn" in line)
    child = next(i for i, line in enumerate(lines) if "openai.chat" in line)
    assert child > root
    assert lines[child].index("openai.chat") > lines[root].index("handle_turn")

    if "by-user" in outputs:
        assert session_id in _ok(outputs["by-user"])
        assert session_id in _ok(outputs["search"])
    if "other-user" in outputs:
        assert session_id not in _ok(outputs["other-user"])

    for name, says in (
        ("no-session", "no-such-session"),
        ("no-trace", "0" * 32),
        ("no-project", "no-such-project"),
    ):
        if name not in outputs:
            continue
        result = outputs[name]
        assert result.returncode == 1, (name, result.stdout, result.stderr)
        assert says in result.stderr and "Traceback" not in result.stderr


def _view_commands(session_id: str, trace_id: str) -> dict[str, tuple[str, ...]]:
    return {
        "list": ("sessions", "list"),
        "show": ("sessions", "show", session_id),
        "trace": ("traces", "show", trace_id),
        "by-user": ("sessions", "list", "--user", "u-1"),
        "other-user": ("sessions", "list", "--user", "someone-else"),
        "search": ("sessions", "list", "--search", "ANSWER 2"),
        "no-session": ("sessions", "show", "no-such-session"),
        "no-trace": ("traces", "show", "0" * 32),
        "no-project": ("sessions", "list", "--project", "no-such-project"),
    }


def _created_key_id(result: Result) -> str:
    """`lamina keys create` prints the key on stdout and its id on stderr."""
    match = re.search(r"key_[0-9a-f]+", result.stderr)
    assert match, result.stderr
    return match.group(0)


def test_cli_through_a_running_server(server: LaminaServer) -> None:
    name = otlp.uid("shop")
    assert name in _ok(server.cli("projects", "create", name))
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        made, spare = pool.map(
            lambda label: server.cli("keys", "create", "--project", name, "--name", label),
            ["ci", "spare"],
        )
    key, doomed = _ok(made).strip(), _ok(spare).strip()
    assert re.fullmatch(r"lmn_[A-Za-z0-9_-]{40,}", key), made.stdout  # only the key
    doomed_id = _created_key_id(spare)

    session_id = otlp.uid("cli-online")
    trace_ids = _send_session(server, key, session_id, 3)
    commands = {
        label: (*args, "--project", name)
        if args[0] != "sessions" or "--project" not in args
        else args
        for label, args in _view_commands(session_id, trace_ids[1]).items()
        if label != "other-user"
    }
    commands["projects"] = ("projects", "list")
    commands["revoke"] = ("keys", "revoke", doomed_id)
    commands["twice"] = ("projects", "create", name)
    commands["no-project-key"] = ("keys", "create", "--project", otlp.uid("nope"))
    commands["revoke-unknown"] = ("keys", "revoke", "key_doesnotexist")
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = {label: pool.submit(server.cli, *args) for label, args in commands.items()}
        outputs = {label: future.result() for label, future in futures.items()}

    projects = _ok(outputs["projects"])
    assert name in projects and "default" in projects
    _check_views(session_id, trace_ids, outputs)
    assert doomed_id in _ok(outputs["revoke"])
    for label, says in (
        ("twice", "already exists"),
        ("no-project-key", "No project"),
        ("revoke-unknown", "key_doesnotexist"),
    ):
        result = outputs[label]
        assert result.returncode == 1 and says in result.stderr, (label, result.stderr)
        assert result.stdout == "" and "Traceback" not in result.stderr

    listing = _ok(server.cli("keys", "list", "--project", name))
    assert key[:10] in listing and doomed[:10] in listing
    assert key not in listing and doomed not in listing  # never the secret again
    assert "revoked" in next(line for line in listing.splitlines() if doomed[:10] in line)
    assert "active" in next(line for line in listing.splitlines() if key[:10] in line)
    # the revoked key is refused at once; the other one still works
    assert otlp.get(server, "/api/v1/sessions", key=doomed).status_code == 401
    refused = otlp.conversation_turn(otlp.uid("refused"), 0, start_ns=time.time_ns())
    assert otlp.post(server.url, doomed, otlp.export(refused)).status_code == 401
    assert otlp.get(server, f"/api/v1/traces/{refused[0].trace_id.hex()}").status_code == 404
    assert otlp.api(server, f"/api/v1/sessions/{session_id}", key=key)["trace_count"] == 3
    assert otlp.get(server, f"/api/v1/sessions/{session_id}").status_code == 404


def test_cli_on_a_stopped_servers_data_dir(new_server: Callable[..., LaminaServer]) -> None:
    first = new_server(*IN_PROCESS)
    session_id = otlp.uid("cli-offline")
    trace_ids = _send_session(first, first.api_key, session_id, 3)
    assert first.stop() == 0
    data_dir = first.data_dir

    def cli(*args: str) -> Result:
        return run_cli(*args, "--data-dir", str(data_dir))

    offline_views = ("list", "show", "trace", "no-session")  # each one opens the store: slow
    outputs = {
        label: cli(*args)
        for label, args in _view_commands(session_id, trace_ids[1]).items()
        if label in offline_views
    }
    _check_views(session_id, trace_ids, outputs)

    name = otlp.uid("offline")
    assert name in _ok(cli("projects", "create", name))
    key = _ok(cli("keys", "create", "--project", name)).strip()
    assert re.fullmatch(r"lmn_[A-Za-z0-9_-]{40,}", key)
    listing = _ok(cli("keys", "list"))
    assert name in listing and key[:10] in listing
    old_id = _key_id(listing, first.api_key)
    assert old_id in _ok(cli("keys", "revoke", old_id))

    # what the CLI did offline is what the restarted server does
    second = new_server(*IN_PROCESS, data_dir=data_dir, api_key=key)
    assert otlp.get(second, "/api/v1/sessions", key=first.api_key).status_code == 401
    new_session = otlp.uid("offline-key")
    _send_session(second, key, new_session, 1)
    assert otlp.api(second, f"/api/v1/sessions/{new_session}", key=key)["trace_count"] == 1
    assert otlp.get(second, f"/api/v1/sessions/{session_id}", key=key).status_code == 404


def test_demo_loads_realistic_sessions_through_otlp(
    new_server: Callable[..., LaminaServer],
) -> None:
    server = new_server("--demo")  # what `make run` starts
    loaded = server.wait_for("/api/v1/sessions", lambda page: len(page["items"]) >= 6, timeout=20)[
        "items"
    ]
    loaded = [s for s in loaded if not s["session_id"].startswith("experiment-")]  # #22
    spans = sum(s["span_count"] for s in loaded)
    assert len(loaded) >= 6 and spans >= 30
    # a multi-turn chatbot, a checkout workflow (one failed), an agent with tools and LLMs
    assert any(s["trace_count"] >= 3 and s["user_ids"] for s in loaded)
    assert any(s["error_count"] > 0 for s in loaded)
    assert all(s["first_input"] and s["last_output"] for s in loaded)
    assert all(s["cost"] and s["total_tokens"] for s in loaded)
    agent = max(loaded, key=lambda s: s["span_count"] / s["trace_count"])
    detail = otlp.api(server, f"/api/v1/sessions/{agent['session_id']}")
    trace = otlp.api(server, f"/api/v1/traces/{detail['traces'][0]['trace_id']}")
    assert {"LLM", "TOOL"} <= {span["span_type"] for span in trace["spans"]}

    # then score configs, scores, comments and outcomes, through the JSON API
    server.wait_for_output("demo spans and their scores", timeout=45)  # see WAIT_SECONDS
    given = [*demo_scores.SENT, *demo_scores.REVIEWED]
    checks = {f"evaluator:{name}" for name in demo_evaluators.NAMES}  # they come later
    scores = otlp.api(server, "/api/v1/scores", limit=500)["items"]
    scores = [s for s in scores if s["source"] not in {*checks, "experiment"}]  # #22: later
    assert len(scores) == len(given) >= 15
    assert {s["source"] for s in scores} == {"sdk", "ui", demo_scores.JUDGE}
    judged_turns = [s for s in scores if s["source"] == demo_scores.JUDGE]
    assert len(judged_turns) == 3 and all(s["trace_id"] and s["comment"] for s in judged_turns)
    (judge,) = [
        e for e in otlp.api(server, "/api/v1/evaluators")["items"] if e["kind"] == "llm_judge"
    ]
    assert judge["enabled"] is False and "reaches no LLM" in judge["description"]
    assert {s["author"] for s in scores if s["source"] == "ui"} == {demo_scores.REVIEWER}
    assert sum(bool(s["comment"]) for s in scores) == sum(bool(j.comment) for j in given) >= 4
    configs = otlp.api(server, "/api/v1/score-configs")["items"]
    assert {c["name"]: c["type"] for c in configs} == {
        "helpfulness": "numeric",
        "thumbs": "boolean",
        "resolution": "categorical",
        "outcome": "categorical",
    }
    listed = otlp.api(server, "/api/v1/sessions", limit=100)["items"]
    listed = [s for s in listed if not s["session_id"].startswith("experiment-")]  # #22's runs
    spans = sum(s["span_count"] for s in listed)  # the password reset's later turns too
    outcomes = {s["session_id"]: s["label"] for s in scores if s["name"] == "outcome"}
    assert sorted(outcomes.values()) == ["failure", "partial", "success", "unknown"]
    ended = {s["session_id"] for s in listed if s["status"] == "ended"}
    assert set(outcomes) <= ended and len(listed) == len(ended) + 2  # two still active
    # returning customers: a dozen users, some with several sessions, for the Users page
    users = otlp.api(server, "/api/v1/users", sort="sessions")
    assert users["total"] == len({r[0] for r in RETURNING} | {"u-9", PASSWORD[0]}) >= 10
    assert [u["user_id"] for u in users["items"][:2]] == ["u-1842", "u-2210"]  # 4 and 3
    assert sum(u["sessions"] for u in users["items"]) == len(listed)
    # a summary is the average of what was sent; unknown is counted, never averaged
    helpful = [j.value for j in given if j.story == "refund" and j.name == "helpfulness"]
    refund = next(s for s in listed if outcomes.get(s["session_id"]) == "partial")
    assert refund["score_summary"]["helpfulness"] == {
        "avg": pytest.approx(sum(helpful) / len(helpful)),
        "count": len(helpful),
    }
    unknown = next(s for s in listed if outcomes.get(s["session_id"]) == "unknown")
    assert unknown["score_summary"]["outcome"] == {"avg": None, "count": 1, "labels": ["unknown"]}
    # one live share link, of the refund conversation, for Settings to list
    (shared,) = otlp.api(server, "/api/v1/shares")["items"]
    assert shared["object"] == "session" and shared["object_id"] == refund["session_id"]
    # saved SQL queries for the SQL page; each runs and answers rows
    saved = otlp.api(server, "/api/v1/sql/queries")["items"]
    assert {q["name"] for q in saved} == set(demo_queries.QUERIES)
    assert [q["name"] for q in saved if q["pinned"]] == [demo_queries.PINNED]
    for query in saved:
        ran = otlp.client().post(
            f"{server.url}/api/v1/sql",
            json={"query": query["query"]},
            headers={"Authorization": f"Bearer {server.api_key}"},
        )
        assert ran.status_code == 200 and ran.json()["rows"], (query["name"], ran.text)
    # the reviewer's comments, and the declined checkout starred for a user made now
    notes = otlp.api(server, "/api/v1/comments", limit=500)["items"]
    assert len(notes) == len(demo_comments.NOTES)
    assert {c["author"] for c in notes} == {demo_scores.REVIEWER}
    assert any(c["span_id"] for c in notes)
    assert any(c["session_id"] == refund["session_id"] for c in notes)
    declined = next(s for s in demo_sessions() if s.story == demo_comments.STARRED_STORY)
    assert _starred_for_a_new_user(server) == [declined.session_id]
    # the demo's checks judge every session (a backfill), each score on a turn of it
    judged = server.wait_for(
        "/api/v1/scores",
        lambda page: (
            len(
                [
                    s
                    for s in page["items"]
                    if s["source"] in checks and not s["session_id"].startswith("experiment-")
                ]
            )
            == 2 * len(listed)
        ),
        timeout=20,
        limit=500,
    )["items"]
    found = {s["session_id"] for s in judged if s["name"] == "last-turn-error" and s["value"]}
    assert found and found <= {s["session_id"] for s in listed if s["error_count"]}
    assert all(s["trace_id"] for s in judged if s["source"] in checks)
    # the password reset was judged, then its later turns came and it was judged again:
    # the older judgement (the error) is superseded and kept, with its reasoning
    password = next(s for s in demo_sessions() if s.story == "password")
    (last_error,) = [
        e["id"]
        for e in otlp.api(server, "/api/v1/evaluators")["items"]
        if e["name"] == demo_evaluators.JUDGED_AGAIN
    ]
    newest, older = server.wait_for(
        f"/api/v1/evaluators/{last_error}/runs",
        lambda page: (
            [(r["status"], r["superseded"]) for r in page["items"]] == [("ok", False), ("ok", True)]
        ),
        timeout=20,
        target_id=password.session_id,
    )["items"]
    turns = password.trace_ids()
    assert (older["value"], older["trace_id"]) == (1, turns[PASSWORD_FAILURE.turn])
    assert PASSWORD_FAILURE.error in older["comment"]
    assert (newest["value"], newest["trace_id"]) == (0, turns[-1])
    page = _as_a_new_user(server, f"/p/default/sessions/{password.session_id}").text
    assert page.count("data-superseded") >= 1 and PASSWORD_FAILURE.error in page

    # `lamina demo` sends the same set again, through OTLP, to the running server; the
    # scores have fixed ids, so none is stored twice
    sent = _ok(server.cli("demo"))
    count = int(re.search(r"Sent (\d+) demo spans", sent).group(1))  # type: ignore[union-attr]
    assert count == spans
    # (and the two experiment runs' traces, #22)
    runs = len(demo_experiments.RUNS) * len(demo_datasets.ITEMS) * demo_experiments.SPANS_PER_ITEM
    assert otlp.api(server, "/healthz")["spans_written"] == 2 * (spans + runs)
    again = otlp.api(server, "/api/v1/scores", limit=500)["items"]
    assert len([s for s in again if s["source"] not in {*checks, "experiment"}]) == len(given)
    runs_scored = (
        len(demo_experiments.RUNS) * len(demo_datasets.ITEMS) * len(demo_experiments.SCORES)
    )
    assert len([s for s in again if s["source"] == "experiment"]) == runs_scored
    assert otlp.api(server, "/api/v1/shares")["items"] == [shared]
    assert otlp.api(server, "/api/v1/comments", limit=500)["items"] == notes

    # `serve --demo` loads it once per data dir, and revokes its loader key
    assert server.stop() == 0
    again = new_server("--demo", data_dir=server.data_dir, api_key=server.api_key)
    again.wait_for_output("The demo data was loaded into this data dir on")
    assert otlp.api(again, "/healthz")["spans_written"] == 0
    listing = _ok(again.cli("keys", "list"))
    loader = [line for line in listing.splitlines() if "demo-loader" in line]
    assert loader and all("revoked" in line for line in loader)


def _starred_for_a_new_user(server: LaminaServer) -> list[str]:
    """The sessions a user made now has starred (signed in over HTTP)."""
    page = _as_a_new_user(server, "/api/v1/sessions?starred=true")
    return [item["session_id"] for item in page.json()["items"]]


def _as_a_new_user(server: LaminaServer, path: str) -> httpx.Response:
    """``path`` read by a user made now, signed in over HTTP; it must answer 200."""
    email, password = f"{otlp.uid('viewer')}@example.com", "a long passphrase 42"
    otlp.admin(server, "create_user", email=email, password=password, is_admin=True)
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        found = re.search(r'name="csrf" value="([^"]+)"', browser.get("/signin").text)
        assert found is not None
        signed = browser.post(
            "/signin", data={"email": email, "password": password, "csrf": found[1]}
        )
        assert signed.status_code == 303
        page = browser.get(path)
        assert page.status_code == 200, page.text
        return page


def test_demo_without_a_running_server_says_what_to_do(tmp_path: Path) -> None:
    result = run_cli("demo", "--data-dir", str(tmp_path / "nothing-here"))
    assert result.returncode != 0
    assert "lamina serve" in result.stderr and "Traceback" not in result.stderr


def test_serve_refuses_a_data_dir_or_a_port_in_use(server: LaminaServer, tmp_path: Path) -> None:
    """A second `lamina serve` on a data dir or port already in use says so and exits 2."""
    same_dir = run_cli(
        "serve", "--data-dir", str(server.data_dir), "--port", "0", "--grpc-port", "0"
    )
    assert same_dir.returncode == 2
    assert str(server.data_dir) in same_dir.stderr and "Traceback" not in same_dir.stderr
    port = server.url.rsplit(":", 1)[1]
    same_port = run_cli(
        "serve", "--data-dir", str(tmp_path / "other"), "--port", port, "--grpc-port", "0"
    )
    assert same_port.returncode == 2
    assert port in same_port.stderr and "--port" in same_port.stderr
    assert otlp.api(server, "/healthz")["status"] == "ok"  # the running one is unharmed
