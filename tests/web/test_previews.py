"""One preview everywhere: the Sessions tab, its expansions, the CLI and the API show the
words the transcript shows, and a failed trace shows its error where its output would be.

The traces come from the Lamina SDK in an application process of its own, as a user's
would: a function of two arguments, and one that raises.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import LaminaServer, run_cli
from tests.web.conftest import Seeded

APP = """
import os, sys
from lamina import Laminar, observe

Laminar.initialize(project_api_key=os.environ["KEY"], base_url=os.environ["URL"])
session = sys.argv[1]

@observe(session_id=session)
def handle(user_message: str, conversation_id: str) -> str:
    return f"echo {user_message}"

@observe(session_id=session)
def pay(amount: int) -> str:
    raise ValueError(f"card declined for {amount}")

handle("hello from alt", "c-123")
try:
    pay(500)
except ValueError:
    pass
Laminar.flush()
"""
ERROR = "ValueError: card declined for 500"


@dataclass
class Sent:
    session_id: str
    handle_trace: str
    pay_trace: str


def send_from_an_app(server: LaminaServer, key: str) -> Sent:
    session_id = f"alt-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "KEY": key, "URL": server.url}
    subprocess.run([sys.executable, "-c", APP, session_id], env=env, check=True, timeout=60)
    session = server.wait_for(
        f"/api/v1/sessions/{session_id}", lambda s: len(s["traces"]) == 2, key=key
    )
    handle, pay = session["traces"]
    return Sent(session_id, handle["trace_id"], pay["trace_id"])


@pytest.fixture(scope="module")
def sent(web: Seeded) -> Sent:
    return send_from_an_app(web.server, web.key)  # into the module's own project


def test_the_api_and_the_cli_show_the_words_and_the_error(web: Seeded, sent: Sent) -> None:
    server = web.server
    session = server.api(f"/api/v1/sessions/{sent.session_id}", key=web.key)
    assert session["first_input"] == "hello from alt"  # not {"user_message": ..., ...}
    assert session["last_output"] == ERROR
    handle, pay = session["traces"]
    assert (handle["input_preview"], handle["output_preview"]) == (
        "hello from alt",
        "echo hello from alt",
    )
    assert (pay["input_preview"], pay["output_preview"]) == ('{"amount":500}', ERROR)
    listed = server.api("/api/v1/sessions", key=web.key)["items"]
    assert [s["first_input"] for s in listed if s["session_id"] == sent.session_id] == [
        "hello from alt"
    ]

    data_dir = str(server.data_dir)
    where = ("--data-dir", data_dir, "--project", web.project)
    shown = run_cli("sessions", "show", sent.session_id, *where)
    assert shown.returncode == 0, shown.stderr
    assert "hello from alt → echo hello from alt" in shown.stdout
    assert "user_message" not in shown.stdout
    assert f'{{"amount":500}} → {ERROR}' in shown.stdout

    failed = run_cli("traces", "show", sent.pay_trace, *where)
    assert failed.returncode == 0, failed.stderr
    assert ERROR in failed.stdout  # not only "error"


def test_the_sessions_tab_shows_the_same_preview(page: Page, web: Seeded, sent: Sent) -> None:
    page.goto(f"{web.project_url}/traces?tab=sessions")
    row = page.locator("tr.srow", has=page.get_by_text(sent.session_id, exact=True))
    expect(row.locator(".c-preview").first).to_have_text("hello from alt")
    row.click()
    expansion = page.locator("tr.expansion:not([hidden])")
    handle = expansion.locator(f'tr.trow[data-id="{sent.handle_trace}"] .preview')
    expect(handle).to_have_text("hello from alt → echo hello from alt")
    pay = expansion.locator(f'tr.trow[data-id="{sent.pay_trace}"] .preview')
    expect(pay).to_have_text(f'{{"amount":500}} → {ERROR}')
