"""Work a request without a valid key (or password) makes the server do must be cheap,
and its answer must reach the client.

- OTLP/gRPC: the key in the metadata is checked before the message is read, a call
  holds its bytes in the same in-flight budget as OTLP/HTTP, and the calls served at
  once are bounded.
- OTLP/HTTP: a wrong key with a body still arriving is answered so the client reads the
  401 (not "broken pipe").
- Sign-in: few Argon2 checks at once; wrong guesses counted before they are checked,
  against the account however it is named, and per client address, so a guesser
  elsewhere cannot lock its owner out.

Client addresses are real: each client binds its socket to an address of the loopback
range (127.0.0.x), which is how the server sees it (a forwarded-for header from there is
not believed).
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import os
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import grpc
import httpx
import pytest

from lamina.receivers.grpc import MAX_CONCURRENT_RPCS
from tests.conftest import LaminaServer, start_server
from tests.reliability.test_overload import rss_mb
from tests.support import otlp
from tests.support.otlp import IN_PROCESS

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
WRONG_KEY = [("authorization", "Bearer lmn_" + "x" * 43)]
MiB = 1024 * 1024


@pytest.fixture
def small_budget(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaminaServer]:
    """Bodies of at most 1 KiB, 32 KiB of them held at once."""
    running = start_server(
        tmp_path_factory.mktemp("small-budget"),
        *("--max-body-bytes", "1024", "--max-inflight-bytes", str(32 * 1024)),
        *IN_PROCESS,
    )
    yield running
    running.kill()


def _auth(key: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {key}")]


def _export_bytes() -> bytes:
    trace_id = otlp.new_trace_id()
    return otlp.export([otlp.span(trace_id, "small")]).SerializeToString()


class HeldCall:
    """A gRPC Export whose metadata has been sent and whose message waits until
    :meth:`release`: the server sees a call in progress that has sent nothing yet."""

    def __init__(self, channel: grpc.Channel, key: str, message: bytes) -> None:
        self._gate: queue.Queue[bytes] = queue.Queue()
        self._message = message
        call = channel.stream_unary(EXPORT)
        self.future = call.future(self._requests(), metadata=_auth(key), timeout=30)

    def _requests(self) -> Iterator[bytes]:
        yield self._gate.get(timeout=30)

    def release(self) -> grpc.StatusCode:
        self._gate.put(self._message)
        try:
            self.future.result(timeout=30)
        except grpc.RpcError as error:
            return error.code()
        return grpc.StatusCode.OK


def test_a_wrong_grpc_key_is_refused_before_the_message_is_read(new_server: object) -> None:
    """Before: each call with a wrong key was read whole (and inflated) before the key was
    looked at; 16 calls of 12 MiB took the server from 155 to 421 MiB, never given back."""
    assert callable(new_server)
    server: LaminaServer = new_server(*IN_PROCESS)
    body = os.urandom(12 * MiB)
    with grpc.insecure_channel(server.grpc_target) as channel:
        call = channel.unary_unary(EXPORT)
        call(_export_bytes(), metadata=_auth(server.api_key), timeout=10)  # warmed up
        before = rss_mb(server.process.pid)

        def send(_: int) -> grpc.RpcError:
            with pytest.raises(grpc.RpcError) as raised:
                call(body, metadata=WRONG_KEY, timeout=20)
            return raised.value

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            errors = list(pool.map(send, range(16)))
        after = rss_mb(server.process.pid)
    assert {error.code() for error in errors} == {grpc.StatusCode.UNAUTHENTICATED}
    assert all("Unknown or revoked API key" in (error.details() or "") for error in errors)
    assert after - before < 48, f"the server grew from {before:.0f} to {after:.0f} MiB"


def _refused(held: list[HeldCall], count: int) -> list[grpc.RpcError]:
    """Wait until ``count`` of the held calls have been answered (refused: none has sent
    its message yet); their errors."""
    deadline = time.monotonic() + 10
    while sum(call.future.done() for call in held) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    done = [call.future for call in held if call.future.done()]
    assert len(done) == count, f"{len(done)} of {len(held)} calls answered, not {count}"
    errors = [future.exception() for future in done]
    refused = [error for error in errors if isinstance(error, grpc.RpcError)]
    assert len(refused) == count, errors
    return refused


def test_a_grpc_call_holds_its_bytes_in_the_budget_http_uses(small_budget: LaminaServer) -> None:
    """A gRPC call reserves the largest body it may carry before it reads its message, from
    the budget OTLP/HTTP bodies are counted in: the 33rd call waiting to send is refused,
    and an HTTP export is a 429 until the calls' messages have been decoded."""
    server = small_budget  # 32 bodies of 1 KiB
    with grpc.insecure_channel(server.grpc_target) as channel:
        held = [HeldCall(channel, server.api_key, _export_bytes()) for _ in range(40)]
        for error in _refused(held, 8):
            assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "holding as many request bodies" in (error.details() or "")
        answer = otlp.post(server.url, server.api_key, _export_bytes())
        assert answer.status_code == 429 and "retry-after" in answer.headers
        assert "holding as many request bodies" in otlp.error_status(answer).message
        codes = [call.release() for call in held]
    assert codes.count(grpc.StatusCode.OK) == 32, codes
    assert otlp.post(server.url, server.api_key, _export_bytes()).status_code == 200


def test_grpc_calls_served_at_once_are_bounded(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Past MAX_CONCURRENT_RPCS calls in progress, a new call is refused at once with
    RESOURCE_EXHAUSTED (exporters retry it); the calls in progress all finish."""
    server = start_server(
        tmp_path_factory.mktemp("rpc-bound"),
        *("--max-body-bytes", "1024", "--max-inflight-bytes", str(MiB)),
        *IN_PROCESS,
    )
    try:
        with grpc.insecure_channel(server.grpc_target) as channel:
            held = [
                HeldCall(channel, server.api_key, _export_bytes())
                for _ in range(MAX_CONCURRENT_RPCS + 4)
            ]
            for error in _refused(held, 4):
                assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            codes = [call.release() for call in held]
            assert codes.count(grpc.StatusCode.OK) == MAX_CONCURRENT_RPCS, codes
            call = channel.unary_unary(EXPORT)
            call(_export_bytes(), metadata=_auth(server.api_key), timeout=10)
    finally:
        server.kill()


@pytest.mark.parametrize("path", ["/v1/traces", "/v1/logs"])
def test_a_wrong_key_with_a_large_body_still_arriving_reads_the_401(
    server: LaminaServer, path: str
) -> None:
    """A client that writes its whole body before reading the answer, and asks the server
    to close the connection afterwards (Python's http.client here; Node's http agent
    without keep-alive does the same), sends 4 MB with a wrong key. Before: the server
    answered 401 before the body arrived and closed the connection with the body
    unread, so the client got "broken pipe" and never saw why."""
    body = os.urandom(4 * MiB)

    def pieces() -> Iterator[bytes]:
        time.sleep(0.1)  # the body comes from a slower source than the headers
        for start in range(0, len(body), 256 * 1024):
            yield body[start : start + 256 * 1024]

    address = urlsplit(server.url)
    assert address.hostname is not None and address.port is not None
    for _ in range(3):
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        try:
            connection.request(
                "POST",
                path,
                body=pieces(),
                headers={
                    "Content-Type": "application/json",
                    "Content-Length": str(len(body)),
                    "Authorization": "Bearer lmn_" + "x" * 43,
                    "Connection": "close",
                },
            )
            answer = connection.getresponse()
            status, text = answer.status, answer.read()
        finally:
            connection.close()
        assert status == 401
        assert "Unknown or revoked API key" in json.loads(text)["message"]


# -- sign-in -----------------------------------------------------------------------------------

PASSWORD = "the right passphrase 7"
CSRF = "t" * 32  # the sign-in form's token repeats the lamina_csrf cookie


@pytest.fixture(scope="module")
def signin_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaminaServer]:
    running = start_server(tmp_path_factory.mktemp("signin"), *IN_PROCESS)
    yield running
    running.kill()


def _new_user(server: LaminaServer, name: str) -> dict[str, str]:
    email = f"{name}-{uuid.uuid4().hex[:8]}@example.com"
    created: dict[str, str] = otlp.admin(
        server, "create_user", email=email, password=PASSWORD, is_admin=False
    )
    return created


def _sign_in(
    server: LaminaServer,
    email: str,
    password: str,
    source: str,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST the sign-in form from the loopback address ``source``."""
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(
        transport=transport, base_url=server.url, cookies={"lamina_csrf": CSRF}, timeout=30
    ) as client:
        return client.post(
            "/signin",
            data={"email": email, "password": password, "csrf": CSRF},
            headers=headers,
        )


def _at_once(count: int, send: Callable[[int], httpx.Response]) -> list[httpx.Response]:
    """``count`` requests sent together (each thread waits for all to be ready)."""
    ready = threading.Barrier(count)

    def one(n: int) -> httpx.Response:
        ready.wait(10)
        return send(n)

    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def _peak_rss_mb(pid: int) -> float:
    status = (Path(f"/proc/{pid}/status")).read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", status)[1]) / 1024  # type: ignore[index]


def test_few_passwords_are_checked_at_once(signin_server: LaminaServer) -> None:
    """60 sign-ins at once, each from its own address for an email no one has. Before:
    each ran Argon2id (64 MiB) at once, up to the thread pool's 40: the server's peak
    memory grew by gigabytes. Now 4 at most; the others are told to try again."""
    server = signin_server
    assert _sign_in(server, "nobody@example.com", "warm up", "127.0.0.9").status_code == 400
    before = _peak_rss_mb(server.process.pid)
    answers = _at_once(
        60,
        lambda n: _sign_in(server, f"guess{n}@example.com", "a wrong guess", f"127.0.1.{n + 1}"),
    )
    grew = _peak_rss_mb(server.process.pid) - before
    assert grew < 5 * 64 + 32, f"peak memory grew by {grew:.0f} MiB"
    statuses = [answer.status_code for answer in answers]
    assert set(statuses) <= {400, 429} and 400 in statuses, statuses
    busy = [answer for answer in answers if answer.status_code == 429]
    assert busy, "none was refused"
    for answer in busy:
        assert answer.headers["retry-after"] == "1"
        assert "Many sign-ins are being checked at this moment" in answer.text
        assert 'role="alert"' in answer.text


def test_wrong_guesses_sent_at_once_are_counted_before_they_are_checked(
    signin_server: LaminaServer,
) -> None:
    """Before: an attempt was counted once its check had finished, so 30 sent together
    were all let in, and 28 passwords were checked against a limit of 5."""
    user = _new_user(signin_server, "raced")
    answers = _at_once(
        30, lambda _: _sign_in(signin_server, user["email"], "a wrong guess", "127.0.2.1")
    )
    statuses = [answer.status_code for answer in answers]
    assert set(statuses) == {400, 429}, statuses
    assert 1 <= statuses.count(400) <= 5, f"{statuses.count(400)} passwords were checked"
    right = _sign_in(signin_server, user["email"], PASSWORD, "127.0.2.1")
    assert right.status_code in (303, 429)


def test_every_name_of_an_account_shares_its_limit(signin_server: LaminaServer) -> None:
    """Before: the limit was keyed on the email as typed, lower-cased by Python, while the
    store matches the user id too, and lower-cases "İ" to "i" where Python does not: the
    user id and such spellings each had a fresh budget, and signed in."""
    user = _new_user(signin_server, "victim")
    dotted = user["email"].replace("i", "İ", 1)  # the store's lower() reads it as "i"
    for _ in range(5):
        wrong = _sign_in(signin_server, user["email"], "a wrong guess", "127.0.3.1")
        assert wrong.status_code == 400
    for name in (user["id"], dotted, user["email"].upper()):
        paused = _sign_in(signin_server, name, PASSWORD, "127.0.3.1")
        assert paused.status_code == 429, name
        assert "Too many failed sign-in attempts" in paused.text
    # the same spelling is the same account, and signs in from another address
    assert _sign_in(signin_server, dotted, PASSWORD, "127.0.3.2").status_code == 303


def test_a_guesser_elsewhere_does_not_lock_the_owner_out(signin_server: LaminaServer) -> None:
    """Before: five wrong guesses from anywhere paused the account for everyone for a
    minute, again and again. Now the owner, at another address, still signs in."""
    user = _new_user(signin_server, "owner")
    for _ in range(5):
        assert _sign_in(signin_server, user["email"], "guess", "127.0.4.2").status_code == 400
    paused = _sign_in(
        signin_server,
        user["email"],
        PASSWORD,
        "127.0.4.2",
        headers={"X-Forwarded-For": "10.9.9.9"},  # not believed from this address
    )
    assert paused.status_code == 429 and 1 <= int(paused.headers["retry-after"]) <= 60
    owner = _sign_in(signin_server, user["email"], PASSWORD, "127.0.4.1")
    assert owner.status_code == 303 and "lamina_session" in owner.cookies
