"""Scores and session ends from the SDK (issue #19): given from the process that
traced the session or from another one, before its spans arrive or after, while the
server is down or refusing some; each arrives exactly once, and the application is
never blocked or raised into."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from lamina import Laminar, observe
from tests.conftest import LaminaServer
from tests.fakes.blackhole import Blackhole, unused_port_url
from tests.sdk.support import flushed

pytestmark = pytest.mark.both_stores


def _scores(server: LaminaServer, **filters: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = server.api("/api/v1/scores", limit=500, **filters)["items"]
    return items


def _given(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What matters of each score, sorted: name, value, label, trace, source."""
    return sorted((s["name"], s["value"], s["label"], s["trace_id"], s["source"]) for s in items)


def _run_elsewhere(server: LaminaServer, code: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh Python process, the SDK set up from the environment."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LAMINA_", "OTEL_"))},
        "LAMINA_PROJECT_API_KEY": server.api_key,
        "LAMINA_BASE_URL": server.url,
    }
    prelude = "from lamina import Laminar\nLaminar.initialize(instrument_modules=[])\n"
    run = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    return run


@observe()
def chat_turn(message: str) -> str | None:
    """A turn of the chatbot: a trace of its own; gives the id the app hands its front end."""
    return Laminar.get_trace_id()


def test_a_chatbot_session_scored_from_another_process_before_its_spans_after_and_per_turn(
    laminar: LaminaServer, new_id: Callable[[str], str]
) -> None:
    server = laminar
    session_id = new_id("scored-chat")
    # Feedback that arrives before the export does; this process ends without flushing
    # (scores go at exit, like spans).
    _run_elsewhere(server, f"Laminar.score('csat', 4, session_id={session_id!r})")

    with Laminar.with_session(session_id):
        trace_ids = [chat_turn(message) for message in ("hi", "book a table", "thanks")]
    flushed()

    _run_elsewhere(
        server,
        f"""
        trace_ids = {trace_ids!r}
        Laminar.score("helpful", True, trace_id=trace_ids[0])
        Laminar.score("helpful", False, trace_id=trace_ids[1], comment="wrong time")
        Laminar.score("helpful", 1, trace_id=trace_ids[2])
        Laminar.end_session({session_id!r}, outcome="success")
        assert Laminar.flush(10)
        """,
    )

    found = _scores(server, session_id=session_id)
    assert _given(found) == sorted(
        [
            ("csat", 4.0, None, None, "sdk"),
            ("helpful", 1.0, None, trace_ids[0], "sdk"),
            ("helpful", 0.0, None, trace_ids[1], "sdk"),
            ("helpful", 1.0, None, trace_ids[2], "sdk"),
            ("outcome", 1.0, "success", None, "sdk"),
        ]
    )
    assert len({s["score_id"] for s in found}) == len(found) == 5
    assert next(s for s in found if s["comment"])["comment"] == "wrong time"
    detail = server.api(f"/api/v1/sessions/{session_id}")
    assert detail["status"] == "ended"
    assert detail["score_summary"]["helpful"] == {"avg": pytest.approx(2 / 3), "count": 3}


def test_score_inside_an_observed_function_scores_its_trace(
    laminar: LaminaServer, new_id: Callable[[str], str]
) -> None:
    session_id = new_id("scored-inside")

    @observe(session_id=session_id)
    def answer(question: str) -> tuple[str | None, str | None]:
        score_id = Laminar.score("confidence", 0.8, comment="from inside")
        return Laminar.get_trace_id(), score_id

    trace_id, score_id = answer("why?")
    flushed()
    (given,) = _scores(laminar, trace_id=trace_id)
    assert given["score_id"] == score_id
    assert (given["name"], given["value"], given["session_id"]) == ("confidence", 0.8, None)
    trace_detail = laminar.api(f"/api/v1/traces/{trace_id}")
    assert [s["score_id"] for s in trace_detail["scores"]] == [score_id]


def test_scores_given_while_the_server_is_down_arrive_once_when_it_is_back(
    new_server: Callable[..., LaminaServer], new_id: Callable[[str], str]
) -> None:
    first = new_server()
    url, key = first.url, first.api_key
    first.stop()
    Laminar.initialize(project_api_key=key, base_url=url, instrument_modules=[])
    try:
        session_id = new_id("down")
        started = time.monotonic()
        ids = [Laminar.score("rating", n, session_id=session_id) for n in range(50)]
        Laminar.end_session(session_id, outcome="partial")
        assert time.monotonic() - started < 1.0  # queued, never sent in the caller's thread
        assert all(ids)
        assert Laminar.flush(timeout_seconds=0.5) is False  # several attempts failed by now
        second = new_server("--port", url.rsplit(":", 1)[1], data_dir=first.data_dir, api_key=key)
        assert Laminar.flush(timeout_seconds=15) is True
        found = _scores(second, session_id=session_id)
        assert sorted(s["score_id"] for s in found if s["name"] == "rating") == sorted(ids)
        assert sorted(s["value"] for s in found if s["name"] == "rating") == list(range(50))
        assert [s["label"] for s in found if s["name"] == "outcome"] == ["partial"]
    finally:
        Laminar.shutdown(0.5)


def test_a_refused_score_is_dropped_with_a_warning_and_the_rest_of_its_batch_arrives(
    laminar: LaminaServer, new_id: Callable[[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    session_id = new_id("refused")
    with caplog.at_level(logging.WARNING, logger="lamina.sdk"):
        for n in range(5):
            Laminar.score("rating", n, session_id=session_id)
        Laminar.score("outcome", label="splendid", session_id=session_id)  # not a category
        for n in range(5, 10):
            Laminar.score("rating", n, session_id=session_id)
        assert Laminar.flush(10) is False  # one of them was not delivered
    found = _scores(laminar, session_id=session_id)
    assert sorted(s["value"] for s in found) == list(range(10))
    (warning,) = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert "HTTP 400" in warning and "splendid" in warning
    assert Laminar.flush(1) is True  # nothing left: later flushes are not spoiled


class _LosingProxy(ThreadingHTTPServer):
    """Between the SDK and the server: the first request reaches the server but its
    answer is cut off (the connection drops), the second is answered 429 with
    ``Retry-After: 1``, the rest pass through."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.seen = 0
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(BaseHTTPRequestHandler):
    server: _LosingProxy

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.seen += 1
        if self.server.seen == 2:
            self.send_response(429)
            self.send_header("Retry-After", "1")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        headers = {
            "Authorization": self.headers["Authorization"],
            "Content-Type": "application/json",
        }
        answer = httpx.post(self.server.upstream + self.path, content=body, headers=headers)
        if self.server.seen == 1:
            self.close_connection = True  # stored, but the SDK never hears so
            return
        self.send_response(answer.status_code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_score_whose_answer_is_lost_or_refused_with_429_is_retried_and_stored_once(
    server: LaminaServer, new_id: Callable[[str], str]
) -> None:
    proxy = _LosingProxy(server.url)
    Laminar.initialize(project_api_key=server.api_key, base_url=proxy.url, instrument_modules=[])
    try:
        session_id = new_id("lost-answer")
        ids = [Laminar.score("rating", n, session_id=session_id) for n in range(5)]
        started = time.monotonic()
        assert Laminar.flush(10) is True
        assert proxy.seen == 3  # stored but unanswered, 429, then answered
        assert time.monotonic() - started >= 0.9  # the server's Retry-After was kept
    finally:
        Laminar.shutdown(0.5)
        proxy.shutdown()
        proxy.server_close()
    found = _scores(server, session_id=session_id)
    assert sorted(s["score_id"] for s in found) == sorted(ids)


@pytest.fixture
def shut_down() -> Iterator[None]:
    yield
    Laminar.shutdown(0.3)


@pytest.mark.usefixtures("shut_down")
def test_scoring_never_blocks_or_raises_when_the_server_is_unreachable_or_hangs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    for url in (unused_port_url(), None):
        with Blackhole() as hole:
            Laminar.initialize(
                project_api_key="key",
                base_url=url or hole.url,
                instrument_modules=[],
                export_timeout_seconds=5,
            )
            with caplog.at_level(logging.WARNING, logger="lamina.sdk"):
                started = time.monotonic()
                for n in range(1000):
                    Laminar.score("rating", n, session_id="s", comment="x" * 100)
                Laminar.end_session("s", outcome="failure")
                assert time.monotonic() - started < 1.0
                started = time.monotonic()
                assert Laminar.flush(timeout_seconds=0.3) is False
                Laminar.shutdown(timeout_seconds=0.3)
                assert time.monotonic() - started < 1.5
    messages = [r.getMessage() for r in caplog.records]
    assert sum("scores or session ends were not delivered" in m for m in messages) == 2


def test_a_mistaken_call_is_logged_and_dropped_never_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    Laminar.initialize(project_api_key="key", base_url=unused_port_url(), instrument_modules=[])
    try:
        with caplog.at_level(logging.WARNING, logger="lamina.sdk"):
            assert Laminar.score("rating", 1) is None  # no target outside a span
            assert Laminar.score("rating", "good", session_id="s") is None
            assert Laminar.score("rating", float("nan"), session_id="s") is None
            assert Laminar.score("", 1, session_id="s") is None
            assert Laminar.score("rating", session_id="s") is None
            assert Laminar.score("rating", 1, trace_id="not-hex") is None
            Laminar.end_session("")
    finally:
        Laminar.shutdown(0.3)
    messages = [r.getMessage() for r in caplog.records if "ignored" in r.getMessage()]
    assert len(messages) == 7, messages
    assert "no target" in messages[0] and "session_id=" in messages[0]
    assert "label=" in messages[1]


def test_scoring_before_initialize_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="lamina.sdk"):
        assert Laminar.score("rating", 1, session_id="s") is None
        Laminar.end_session("s", outcome="success")
    messages = [r.getMessage() for r in caplog.records]
    assert sum("initialize() has not run" in m for m in messages) == 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_worker_sends_its_own_scores(
    server: LaminaServer, new_id: Callable[[str], str]
) -> None:
    # The pre-fork server pattern (gunicorn): initialised in the parent, scored in a child.
    session_id = new_id("forked")
    _run_elsewhere(
        server,
        f"""
        import os
        Laminar.score("parent", 1, session_id={session_id!r})
        pid = os.fork()
        if pid == 0:
            Laminar.score("child", 2, session_id={session_id!r})
            os._exit(0 if Laminar.flush(10) else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert Laminar.flush(10)
        """,
    )
    found = _scores(server, session_id=session_id)
    assert sorted((s["name"], s["value"]) for s in found) == [("child", 2.0), ("parent", 1.0)]
