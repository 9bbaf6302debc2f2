"""An acknowledged span is never lost: not on SIGKILL, not on SIGTERM.

Senders post real OTLP requests (HTTP and gRPC) while the server is stopped; every
request that got its 200 / OK must be there after a restart on the same data dir.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import httpx
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from tests.conftest import LaminaServer, run_cli
from tests.processes import children
from tests.support import otlp

SPANS_PER_TRACE = 3


class Senders:
    """Threads sending one three-span trace per request, recording the acknowledged ones."""

    def __init__(self, server: LaminaServer, http: int = 3, grpc_senders: int = 1) -> None:
        self.server = server
        self.acked: list[str] = []
        self.acked_sessions: set[str] = set()
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._http, args=(n,), daemon=True) for n in range(http)
        ] + [
            threading.Thread(target=self._grpc, args=(n,), daemon=True) for n in range(grpc_senders)
        ]

    def _trace(self, sender: str, n: int) -> tuple[str, otlp.ExportTraceServiceRequest]:
        spans = otlp.conversation_turn(f"{sender}", n, start_ns=time.time_ns())
        spans.append(otlp.span(spans[0].trace_id, "tool", parent=spans[0].span_id))
        return spans[0].trace_id.hex(), otlp.export(spans)

    def _ack(self, sender: str, trace_id: str) -> None:
        with self._lock:
            self.acked.append(trace_id)
            self.acked_sessions.add(sender)  # each sender's turns are one session

    def _http(self, number: int) -> None:
        with httpx.Client(timeout=10) as client:
            n = 0
            while not self.stop.is_set():
                trace_id, request = self._trace(f"http-{number}", n)
                n += 1
                try:
                    response = client.post(
                        self.server.url + "/v1/traces",
                        content=request.SerializeToString(),
                        headers={
                            "Content-Type": otlp.PROTOBUF,
                            "Authorization": f"Bearer {self.server.api_key}",
                        },
                    )
                except httpx.HTTPError:
                    return  # the server is gone: this request was not acknowledged
                if response.status_code == 200:
                    self._ack(f"http-{number}", trace_id)
                elif response.status_code not in (429, 503):
                    return

    def _grpc(self, number: int) -> None:
        with grpc.insecure_channel(self.server.grpc_target) as channel:
            stub = trace_service_pb2_grpc.TraceServiceStub(channel)
            n = 0
            while not self.stop.is_set():
                trace_id, request = self._trace(f"grpc-{number}", n)
                n += 1
                try:
                    stub.Export(
                        request,
                        metadata=[("authorization", f"Bearer {self.server.api_key}")],
                        timeout=10,
                    )
                except grpc.RpcError:
                    return
                self._ack(f"grpc-{number}", trace_id)

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def wait_for(self, count: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.acked) >= count, f"only {len(self.acked)} acknowledged"

    def join(self) -> list[str]:
        self.stop.set()
        for thread in self.threads:
            thread.join(15)
        with self._lock:
            return list(self.acked)


def _all_traces(server: LaminaServer) -> dict[str, int]:
    found: dict[str, int] = {}
    cursor = None
    while True:
        params = {"limit": "500", **({"cursor": cursor} if cursor else {})}
        page = otlp.api(server, "/api/v1/traces", **params)
        for trace in page["items"]:
            found[trace["trace_id"]] = trace["span_count"]
        cursor = page["next_cursor"]
        if not cursor:
            return found


def _check_everything_acknowledged_is_there(server: LaminaServer, acked: list[str]) -> None:
    stored = _all_traces(server)
    missing = [trace_id for trace_id in acked if trace_id not in stored]
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged traces lost"
    # a request is one transaction: no trace is ever half there
    assert all(count == SPANS_PER_TRACE for count in stored.values()), stored
    for trace_id in acked[:: max(1, len(acked) // 10)]:
        trace = otlp.api(server, f"/api/v1/traces/{trace_id}")
        assert trace["name"] == "handle_turn"
        assert (trace["input_tokens"], trace["output_tokens"]) == (1000, 200)


def _assert_gone(pids: list[int], timeout: float = 10) -> None:
    """No process of a stopped server lingers (zombies reaped by init count as gone)."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":
                alive.append(pid)
        if not alive:
            return
        assert time.monotonic() < deadline, f"processes {alive} outlived their server"
        time.sleep(0.05)


def test_sigkill_loses_no_acknowledged_span(new_server: Callable[..., LaminaServer]) -> None:
    first = new_server()
    senders = Senders(first)
    senders.start()
    senders.wait_for(40)
    workers = children(first.process.pid)
    first.kill()  # SIGKILL while the senders are still sending
    acked = senders.join()

    # the dead server left its server.json behind; the CLI sees the process is gone and
    # reads the data dir directly instead of trying to reach it
    assert (first.data_dir / "server.json").exists()
    _assert_gone(workers)
    listed = run_cli("sessions", "list", "--data-dir", str(first.data_dir))
    assert listed.returncode == 0, listed.stderr
    # every session with an acknowledged turn is listed (a sender the loaded server never
    # answered within its timeout has none, so none is expected of it)
    shown = {line.split()[0] for line in listed.stdout.splitlines()[2:] if line.strip()}
    assert senders.acked_sessions <= shown, listed.stdout

    second = new_server(data_dir=first.data_dir, api_key=first.api_key)
    _check_everything_acknowledged_is_there(second, acked)
    # and the restarted server takes new spans on top of the old ones
    more = Senders(second, http=1, grpc_senders=0)
    more.start()
    more.wait_for(5)
    _check_everything_acknowledged_is_there(second, acked + more.join())


def test_sigterm_exits_0_and_keeps_everything(new_server: Callable[..., LaminaServer]) -> None:
    first = new_server()
    senders = Senders(first)
    senders.start()
    senders.wait_for(30)
    workers = children(first.process.pid)
    first.process.send_signal(signal.SIGTERM)  # while the senders are still sending
    assert first.process.wait(30) == 0
    _assert_gone(workers)
    acked = senders.join()
    first.kill()  # closes the output reader
    assert not (first.data_dir / "server.json").exists()  # the CLI will not look for it

    second = new_server(data_dir=first.data_dir, api_key=first.api_key)
    _check_everything_acknowledged_is_there(second, acked)


def test_ctrl_c_exits_0_and_keeps_everything(new_server: Callable[..., LaminaServer]) -> None:
    server = new_server()
    spans = otlp.conversation_turn(otlp.uid("ctrl-c"), 0, start_ns=time.time_ns())
    assert otlp.post(server.url, server.api_key, otlp.export(spans)).status_code == 200
    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(30) == 0
    assert "Traceback" not in "".join(server.output)
    shown = run_cli("traces", "show", spans[0].trace_id.hex(), "--data-dir", str(server.data_dir))
    assert shown.returncode == 0, shown.stderr
    assert "handle_turn" in shown.stdout and "openai.chat" in shown.stdout
