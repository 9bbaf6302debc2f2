"""Work a request without a valid key (or password) makes the server do must be cheap,
and its answer must reach the client.

- OTLP/gRPC: the key in the metadata is checked before the message is read, a call
  holds its bytes in the same in-flight budget as OTLP/HTTP, and the calls served at
  once are bounded.
- OTLP/HTTP: a wrong key with a body still arriving is answered so the client reads the
  401 (not "broken pipe").
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import os
import queue
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import grpc
import pytest

from lamina.otlp.grpc_server import MAX_CONCURRENT_RPCS
from tests.conftest import LaminaServer, start_server
from tests.core import otlp
from tests.core.otlp import IN_PROCESS
from tests.reliability.test_overload import rss_mb

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


def test_a_grpc_call_holds_its_bytes_in_the_budget_http_uses(small_budget: LaminaServer) -> None:
    """A gRPC call reserves the largest body it may carry before it reads its message, from
    the budget OTLP/HTTP bodies are counted in: with the budget spent, an HTTP export is a
    429 until the call's message has been decoded."""
    server = small_budget
    with grpc.insecure_channel(server.grpc_target) as channel:
        # 32 fill the budget; the others are refused (RESOURCE_EXHAUSTED) before reading
        held = [HeldCall(channel, server.api_key, _export_bytes()) for _ in range(40)]
        deadline = time.monotonic() + 10
        while True:  # until the server has seen all of them
            answer = otlp.post(server.url, server.api_key, _export_bytes())
            if answer.status_code == 429 or time.monotonic() > deadline:
                break
            assert answer.status_code == 200, answer.text
        assert answer.status_code == 429, "gRPC calls did not count in the HTTP budget"
        assert "retry-after" in answer.headers
        assert "holding as many request bodies" in otlp.error_status(answer).message
        codes = [call.release() for call in held]
    assert 32 <= codes.count(grpc.StatusCode.OK) < 40, codes
    assert set(codes) == {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}
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
                for _ in range(MAX_CONCURRENT_RPCS)
            ]
            call = channel.unary_unary(EXPORT)
            deadline = time.monotonic() + 10
            while True:  # a wrong key is UNAUTHENTICATED until every held call is counted
                with pytest.raises(grpc.RpcError) as raised:
                    call(_export_bytes(), metadata=WRONG_KEY, timeout=10)
                code = raised.value.code()
                if code != grpc.StatusCode.UNAUTHENTICATED or time.monotonic() > deadline:
                    break
            assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, code
            codes = {held_call.release() for held_call in held}
            assert codes == {grpc.StatusCode.OK}, codes
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
