"""Stateless servers: separate `lamina serve` processes on one ClickHouse agree on
everything (keys, spans, projects, sign-in), and `--workers N` runs several behind one
port, stops cleanly on SIGTERM without losing an acknowledged span, and restarts a
worker that dies."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from lamina.store.clickhouse.client import parse_store
from lamina.store.clickhouse.store import ClickHouseStore
from tests.conftest import LaminaServer, run_cli, start_server
from tests.support import otlp

FAST = ("--decode-workers", "0")  # decoding in the server process: quicker to start


@pytest.fixture
def two_servers(tmp_path: Path, store_url: str) -> Iterator[tuple[LaminaServer, LaminaServer]]:
    """Two servers, started at the same moment on a new database."""
    with ThreadPoolExecutor(2) as pool:
        started = list(
            pool.map(
                lambda name: start_server(tmp_path / name, "--store", store_url, *FAST),
                ["a", "b"],
            )
        )
    yield started[0], started[1]
    for server in started:
        server.kill()


def _send(server: LaminaServer, key: str, session: str, turns: int = 1) -> None:
    spans = [
        otlp.span(
            otlp.new_trace_id(),
            "turn",
            attributes={"session.id": session, "input.value": f"turn {n}"},
        )
        for n in range(turns)
    ]
    response = otlp.post(server.url, key, otlp.export(spans))
    assert response.status_code == 200, response.text


def test_two_servers_on_one_clickhouse_agree(
    two_servers: tuple[LaminaServer, LaminaServer],
) -> None:
    a, b = two_servers
    key = a.api_key or b.api_key  # exactly one of them made the first key
    assert key and not (a.api_key and b.api_key)

    # A key made through one server works on the other.
    made = otlp.admin(a, "create_key", project="default")["key"]
    assert otlp.get(b, "/api/v1/sessions", key=made).status_code == 200

    # Spans sent to one are read from the other.
    _send(a, made, "s-shared", turns=3)
    session = otlp.api(b, "/api/v1/sessions/s-shared", key=key)
    assert len(session["traces"]) == 3

    # A project made on one is seen, with its key, on the other.
    otlp.admin(b, "create_project", name="p-two")
    listed = otlp.admin(a, "list_projects")
    assert "p-two" in {project["name"] for project in listed}
    p_key = otlp.admin(a, "create_key", project="p-two")["key"]
    _send(b, p_key, "s-p-two")
    assert otlp.api(a, "/api/v1/sessions", key=p_key)["items"][0]["session_id"] == "s-p-two"

    # A browser signed in on one is signed in on the other.
    otlp.admin(
        a, "create_user", email="ops@example.com", password="a long passphrase", is_admin=True
    )
    cookie = _sign_in(a, "ops@example.com", "a long passphrase")
    with httpx.Client(cookies={"lamina_session": cookie}, timeout=30) as browser:
        seen = browser.get(b.url + "/api/v1/sessions", params={"project": "default"})
    assert seen.status_code == 200, seen.text
    assert "s-shared" in {item["session_id"] for item in seen.json()["items"]}
    refused = httpx.get(b.url + "/api/v1/sessions", params={"project": "default"}, timeout=30)
    assert refused.status_code == 401


def _sign_in(server: LaminaServer, email: str, password: str) -> str:
    with httpx.Client(timeout=30) as browser:
        browser.get(server.url + "/signin")
        token = browser.cookies["lamina_csrf"]
        answer = browser.post(
            server.url + "/signin", data={"email": email, "password": password, "csrf": token}
        )
        assert answer.status_code == 303, answer.text
        return str(answer.cookies["lamina_session"])


def test_workers_share_the_ports_stop_cleanly_and_lose_nothing(
    tmp_path: Path, store_url: str
) -> None:
    server = start_server(tmp_path / "data", "--workers", "2", "--store", store_url, *FAST)
    try:
        pids = [int(pid) for pid in re.findall(r"\d+", _line(server, "Workers:").split("pids")[1])]
        assert len(pids) == 2
        _send(server, server.api_key, "s-warm")

        # A worker that dies is replaced; the port keeps answering meanwhile.
        os.kill(pids[0], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while not _has_line(server, "starting another") and time.monotonic() < deadline:
            # A kept-alive connection of the dead worker fails: a client sends again.
            with contextlib.suppress(httpx.TransportError):
                _send(server, server.api_key, "s-during-restart")
        _send(server, server.api_key, "s-during-restart")
        assert _has_line(server, f"pid {pids[0]}) exited with code -9; starting another")

        # The gRPC port, bound by both workers, takes exports too.
        with grpc.insecure_channel(server.grpc_target) as channel:
            stub = trace_service_pb2_grpc.TraceServiceStub(channel)
            spans = otlp.conversation_turn("s-grpc", 0, start_ns=time.time_ns())
            auth = [("authorization", f"Bearer {server.api_key}")]
            for _ in range(4):  # new connections, so both workers are likely to take one
                stub.Export(otlp.export(spans), metadata=auth, timeout=30)
        assert otlp.api(server, "/api/v1/sessions/s-grpc")["trace_count"] == 1

        # Senders while SIGTERM arrives: every acknowledged span is kept.
        acknowledged: list[str] = []
        stop = threading.Event()

        def send() -> None:
            while not stop.is_set():
                session = otlp.uid("s-load")
                try:
                    _send(server, server.api_key, session)
                except (AssertionError, httpx.HTTPError):
                    return  # the server stopped accepting: that answer was not an ack
                acknowledged.append(session)

        senders = [threading.Thread(target=send) for _ in range(3)]
        for sender in senders:
            sender.start()
        deadline = time.monotonic() + 30
        while len(acknowledged) < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.stop(timeout=60) == 0
        stop.set()
        for sender in senders:
            sender.join(30)
        assert len(acknowledged) >= 10
    finally:
        server.kill()
    store = ClickHouseStore(parse_store(store_url))
    try:
        project = store.find_project("default")
        assert project is not None
        missing = [s for s in acknowledged if store.get_session(project.id, s) is None]
        assert missing == []
    finally:
        store.close()


def _line(server: LaminaServer, start: str) -> str:
    return next(line for line in server.output if line.startswith(start))


def _has_line(server: LaminaServer, text: str) -> bool:
    return any(text in line for line in server.output)


@pytest.mark.parametrize("store", ["", "chdb:///tmp/unused-lamina-chdb"], ids=["duckdb", "chdb"])
def test_workers_need_a_shared_store(tmp_path: Path, store: str) -> None:
    result = run_cli(
        "serve", "--workers", "2", "--data-dir", str(tmp_path), "--port", "0", "--store", store
    )
    assert result.returncode == 2
    message = " ".join(result.stderr.split())
    assert "--workers 2 needs a store that several processes can share" in message
    assert "--store clickhouse://USER:PASS@HOST:8123/DB" in message
