"""Clients that hold connections without finishing their requests cannot starve the
server: 1,010 half-sent requests, slowloris headers, trickled bodies, idle connections,
one address with too many connections, a server full of such connections. Meanwhile an
API read and a real OpenTelemetry export are served, and each such connection is cut
off within its limit (docs/configuration.md, "Connections").

The clients come from other loopback addresses (127.0.0.2 and up; Linux routes all of
127/8 to lo) so that the per-address cap applies to them and not to the test's own
requests from 127.0.0.1."""

from __future__ import annotations

import resource
import selectors
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.conftest import LaminaServer, start_server
from tests.support import otlp
from tests.support.otlp import IN_PROCESS

HALF_REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n"  # the headers never end
HOLD_SECONDS = 6  # the first server's header timeout: long enough to check all are held
QUICK = 2  # the second server's header timeout
MAX_CONNECTIONS = 40
PER_CLIENT = 20


@pytest.fixture(scope="module", autouse=True)
def _open_files() -> Iterator[None]:
    """Room for a thousand client sockets in this process (the server raises its own)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4096 if hard == resource.RLIM_INFINITY else min(4096, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture(scope="module")
def holding(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaminaServer]:
    """Default limits, except a header timeout the test can wait out."""
    running = start_server(
        tmp_path_factory.mktemp("holding"),
        "--header-timeout-seconds",
        str(HOLD_SECONDS),
        *IN_PROCESS,
    )
    yield running
    running.kill()


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaminaServer]:
    running = start_server(
        tmp_path_factory.mktemp("strict"),
        "--header-timeout-seconds",
        str(QUICK),
        "--keep-alive-seconds",
        "1",
        "--max-connections",
        str(MAX_CONNECTIONS),
        "--max-connections-per-client",
        str(PER_CLIENT),
        *IN_PROCESS,
    )
    yield running
    running.kill()


def _port(server: LaminaServer) -> int:
    port = urlsplit(server.url).port
    assert port is not None
    return port


def connect(server: LaminaServer, source: str, first: bytes = b"") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((source, 0))
    sock.settimeout(10)
    sock.connect(("127.0.0.1", _port(server)))
    if first:
        sock.sendall(first)
    sock.setblocking(False)
    return sock


def still_open(sock: socket.socket) -> bool:
    """True while the server has neither answered nor closed this connection."""
    try:
        sock.recv(1, socket.MSG_PEEK)  # an answer, or b"" once it is closed
    except BlockingIOError:
        return True
    except ConnectionResetError:
        pass
    return False


def wait_closed(socks: list[socket.socket], within: float) -> tuple[float, list[bytes]]:
    """Wait until the server has closed every socket; each one's answer, and the time."""
    started = time.monotonic()
    answers = {sock: b"" for sock in socks}
    selector = selectors.DefaultSelector()
    for sock in socks:
        selector.register(sock, selectors.EVENT_READ)
    open_left = len(socks)
    while open_left:
        left = started + within - time.monotonic()
        assert left > 0, f"{open_left} of {len(socks)} connections still open after {within} s"
        for key, _ in selector.select(left):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if data:
                answers[sock] += data
                continue
            selector.unregister(sock)
            open_left -= 1
    selector.close()
    return time.monotonic() - started, [answers[sock] for sock in socks]


def close_all(socks: list[socket.socket]) -> None:
    for sock in socks:
        sock.close()


def served(server: LaminaServer) -> None:
    """An API read and a real OpenTelemetry export, both answered."""
    answer = server.get("/api/v1/sessions", limit=1)
    assert answer.status_code == 200, answer.text

    provider = TracerProvider()
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("test").start_as_current_span("turn") as span:
        span.set_attribute("session.id", otlp.uid("served"))
    exporter = OTLPSpanExporter(
        endpoint=server.url + "/v1/traces",
        headers={"Authorization": f"Bearer {server.api_key}"},
        timeout=5,
    )
    try:
        assert exporter.export(memory.get_finished_spans()) == SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
        provider.shutdown()


def test_a_thousand_half_sent_requests_starve_no_one(holding: LaminaServer) -> None:
    # The repro: 1,010 connections that send a request line and a header,
    # then nothing. Four addresses, so each stays under the per-address cap (256):
    # the server holds every one of them, and still serves the others.
    sources = [f"127.0.0.{n}" for n in range(2, 6)]
    socks: list[socket.socket] = []
    try:
        started = time.monotonic()
        for n in range(1010):
            socks.append(connect(holding, sources[n % len(sources)], HALF_REQUEST))
        served(holding)
        assert time.monotonic() - started < HOLD_SECONDS  # checked while they are held
        assert sum(still_open(sock) for sock in socks) == len(socks)

        # Then each is cut off once its headers are late.
        seconds, answers = wait_closed(socks, HOLD_SECONDS + 10)
        assert seconds < HOLD_SECONDS + 10
        assert all(answer.startswith(b"HTTP/1.1 408 ") for answer in answers)
        assert b"did not arrive within 6 seconds" in answers[0]
    finally:
        close_all(socks)
    served(holding)


def test_slowloris_headers_are_cut_off_at_the_header_timeout(strict: LaminaServer) -> None:
    sock = connect(strict, "127.0.0.6", b"GET / HTTP/1.1\r\n")
    try:
        started = time.monotonic()
        header = b"X-Slow: " + b"a" * 100
        for byte in header:  # a byte every half second: never idle long enough to drop
            if not still_open(sock):
                break
            assert time.monotonic() - started < QUICK + 3, "never cut off"
            sock.send(bytes([byte]))
            time.sleep(0.5)
        _, (answer,) = wait_closed([sock], 5)
        assert time.monotonic() - started < QUICK + 3
        assert answer.startswith(b"HTTP/1.1 408 Request Timeout")
    finally:
        sock.close()


def test_a_body_trickled_at_1_kb_a_second_is_cut_off(strict: LaminaServer) -> None:
    head = (
        "POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
        f"Authorization: Bearer {strict.api_key}\r\nContent-Length: 100000\r\n\r\n"
    )
    sock = connect(strict, "127.0.0.7", head.encode())
    try:
        started = time.monotonic()
        sent = 0
        # A minimum of 8192 bytes a second after QUICK seconds of grace: cut at ~3 s.
        while still_open(sock) and sent < 100_000:
            assert time.monotonic() - started < QUICK + 4, "never cut off"
            sock.send(b"\0" * 1024)
            sent += 1024
            time.sleep(1)
        _, (answer,) = wait_closed([sock], 5)
        assert answer.startswith(b"HTTP/1.1 408 Request Timeout")
        assert b"slower than 8192 bytes a second" in answer
        assert sent < 10 * 1024
    finally:
        sock.close()
    served(strict)  # a body sent at the normal rate is read as ever
    assert not any("Traceback" in line for line in strict.output)  # a client cut off: no error


def test_an_idle_connection_is_closed_after_the_keep_alive(strict: LaminaServer) -> None:
    idle = connect(strict, "127.0.0.8")
    try:
        seconds, (answer,) = wait_closed([idle], 5)
        assert answer == b""  # nothing was asked, so nothing is answered
        assert 0.5 < seconds < 3
    finally:
        idle.close()


def test_one_address_holds_at_most_its_share(strict: LaminaServer) -> None:
    socks = [connect(strict, "127.0.0.9", HALF_REQUEST) for _ in range(PER_CLIENT + 5)]
    try:
        # The ones over the cap are answered with 503 at once; the rest are held.
        over = socks[PER_CLIENT:]
        _, answers = wait_closed(over, 3)
        assert all(answer.startswith(b"HTTP/1.1 503 ") for answer in answers)
        assert b"at most 20 connections from one address" in answers[0]
        assert all(still_open(sock) for sock in socks[:PER_CLIENT])
        served(strict)  # another address is served meanwhile
    finally:
        close_all(socks)


def test_a_full_server_drops_the_longest_waiting_connection(strict: LaminaServer) -> None:
    # Two addresses fill the server with connections that never finish a request.
    socks = [connect(strict, f"127.0.0.{10 + n % 2}", HALF_REQUEST) for n in range(MAX_CONNECTIONS)]
    try:
        # The server accepts in order, so it holds all of these before the next two
        # connections; each of those takes the place of the oldest waiting one.
        served(strict)
        dropped = [n for n, sock in enumerate(socks) if not still_open(sock)]
        assert dropped and dropped == list(range(len(dropped)))  # oldest first
    finally:
        close_all(socks)
