"""What the read commands print on an 80-column terminal, and with --json for scripts.

Ids people copy (trace, key, project, user ids), costs and headers are never cut; a
table too wide for the terminal leaves out its less important columns instead. Every
read command prints the API's fields as JSON with --json.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from typing import Any

from rich.cells import cell_len

from tests.conftest import LaminaServer, run_cli
from tests.support import otlp

Result = subprocess.CompletedProcess[str]


def _run(server: LaminaServer, *args: str, columns: int = 80) -> str:
    result = run_cli(*args, "--data-dir", str(server.data_dir), env={"COLUMNS": str(columns)})
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


def _json(server: LaminaServer, *args: str) -> Any:
    return json.loads(_run(server, *args, "--json"))


def _fits(text: str, columns: int = 80) -> None:
    wide = [line for line in text.splitlines() if cell_len(line) > columns]
    assert not wide, "\n".join(wide)


def test_read_commands_fit_80_columns_and_never_cut_ids(server: LaminaServer) -> None:
    project = otlp.uid("narrow")
    _run(server, "projects", "create", project)
    key = _run(server, "keys", "create", "--project", project, "--name", "a-rather-long-name")
    session_id = otlp.uid("narrow-session")
    start = time.time_ns() - 60 * 1_000_000_000
    turns = [
        otlp.conversation_turn(session_id, turn, start_ns=start + turn * 1_000_000_000)
        for turn in range(3)
    ]
    sent = otlp.post(server.url, key.strip(), otlp.export([s for t in turns for s in t]))
    assert sent.status_code == 200, sent.text
    trace_ids = [turn[0].trace_id.hex() for turn in turns]
    email = f"{otlp.uid('narrow')}@example.com"
    made = run_cli(
        "users",
        "create",
        email,
        "--password-stdin",
        "--data-dir",
        str(server.data_dir),
        input="correct horse battery\n",
    )
    assert made.returncode == 0, made.stderr

    shown = _run(server, "sessions", "show", session_id, "--project", project)
    _fits(shown)
    assert all(trace_id in shown for trace_id in trace_ids)  # whole, copyable
    assert "question 0 → answer 0" in shown
    assert "…" not in shown.split("Input → output")[0]  # the header row is whole

    listed = _run(server, "sessions", "list", "--project", project)
    _fits(listed)
    assert session_id in listed
    assert re.search(r"\$0\.\d{4}\b", listed), listed  # a cost, whole
    assert not re.search(r"\$[\d.]*…|\b[A-Z][a-z]+…", listed), listed  # nor a header cut

    keys = _run(server, "keys", "list", "--project", project)
    _fits(keys)
    for key_row in _json(server, "keys", "list", "--project", project):
        assert key_row["id"] in keys and "hash" not in json.dumps(key_row)

    projects = _run(server, "projects", "list")
    _fits(projects)
    assert all(p["id"] in projects for p in _json(server, "projects", "list"))

    users = _run(server, "users", "list")
    _fits(users)
    assert email in users
    listed_users = _json(server, "users", "list")
    assert email in [user["email"] for user in listed_users]
    assert all(set(user) == {"id", "email", "is_admin", "created_ns"} for user in listed_users)

    tree = _run(server, "traces", "show", trace_ids[0], "--project", project)
    _fits(tree)
    assert trace_ids[0] in tree

    # --json prints what the JSON API answers
    api_session = otlp.api(server, f"/api/v1/sessions/{session_id}", key=key.strip())
    assert _json(server, "sessions", "show", session_id, "--project", project) == api_session
    api_trace = otlp.api(server, f"/api/v1/traces/{trace_ids[1]}", key=key.strip())
    assert _json(server, "traces", "show", trace_ids[1], "--project", project) == api_trace
    page = _json(server, "sessions", "list", "--project", project)
    assert [s["session_id"] for s in page["items"]] == [session_id]


def test_help_describes_every_subcommand() -> None:
    for group in ("", "projects", "keys", "users", "sessions", "traces"):
        result = run_cli(*filter(None, [group, "--help"]), env={"COLUMNS": "80"})
        assert result.returncode == 0
        commands = result.stdout.split("Commands:")[1]
        assert "..." not in commands, result.stdout  # no description cut short
    projects = run_cli("projects", "--help").stdout
    summary = projects.split("Options:")[0]
    assert "delete" in summary and "keeps" in summary  # the group says what it holds
    assert "list" in run_cli("users", "--help").stdout.split("Commands:")[1]
