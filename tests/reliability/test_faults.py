"""Faults: SIGKILL again and again during sustained ingest; a full disk; a data dir from
an earlier schema version; a damaged or foreign data file.

Longer runs of the same tests are described in docs/reliability.md.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.conftest import LaminaServer
from tests.core import otlp
from tests.core.otlp import IN_PROCESS

SPANS_PER_TRACE = 3
KILL_CYCLES = int(os.environ.get("LAMINA_KILL_CYCLES", "5"))


class RetryingSenders:
    """Threads that each send one three-span trace per request and, like an OTLP
    exporter, send the very same request again until it is acknowledged: through
    connection errors, 429/503 and server restarts (the URL changes with each)."""

    def __init__(self, count: int, key: str) -> None:
        self.url: str | None = None
        self.key = key
        self.acked: list[str] = []
        self.retried = 0
        self.failures: list[str] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(count)
        ]

    def _request(self, sender: int, n: int) -> tuple[str, bytes]:
        spans = otlp.conversation_turn(f"killed-{sender}", n, start_ns=time.time_ns())
        spans.append(otlp.span(spans[0].trace_id, "tool", parent=spans[0].span_id))
        return spans[0].trace_id.hex(), otlp.export(spans).SerializeToString()

    def _run(self, sender: int) -> None:
        headers = {"Content-Type": otlp.PROTOBUF, "Authorization": f"Bearer {self.key}"}
        n = 0
        pending: tuple[str, bytes] | None = None
        with httpx.Client(timeout=10) as client:
            # after stop, finish the request in hand: every request ends acknowledged
            while not self.stop.is_set() or pending is not None:
                url = self.url
                if pending is None:
                    pending = self._request(sender, n)
                    n += 1
                if url is None:
                    time.sleep(0.02)
                    continue
                try:
                    response = client.post(url + "/v1/traces", content=pending[1], headers=headers)
                except httpx.HTTPError:
                    with self._lock:
                        self.retried += 1
                    time.sleep(0.02)
                    continue
                if response.status_code == 200:
                    with self._lock:
                        self.acked.append(pending[0])
                    pending = None
                elif response.status_code in (429, 503):
                    time.sleep(0.05)
                else:
                    with self._lock:
                        self.failures.append(f"{response.status_code}: {response.text}")
                    return

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def wait_for(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked) < count:
            assert not self.failures, self.failures
            assert time.monotonic() < deadline, f"only {len(self.acked)} acknowledged"
            time.sleep(0.01)

    def finish(self, timeout: float = 30) -> list[str]:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout)
            assert not thread.is_alive(), "a sender could not deliver its last request"
        assert not self.failures, self.failures
        return list(self.acked)


def all_traces(server: LaminaServer) -> dict[str, int]:
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


def test_repeated_sigkill_under_load_loses_nothing_and_stores_nothing_twice(
    new_server: Callable[..., LaminaServer], tmp_path: Path
) -> None:
    rng = random.Random(8)
    data_dir = tmp_path / "data"
    server = new_server(*IN_PROCESS, data_dir=data_dir)
    senders = RetryingSenders(4, server.api_key)
    senders.url = server.url
    senders.start()
    for cycle in range(KILL_CYCLES):
        senders.wait_for(len(senders.acked) + 15)
        time.sleep(rng.uniform(0, 0.2))
        server.kill()  # SIGKILL, with requests in flight
        senders.url = None
        # the last restart with decode workers (dearer to start): both ways are killed
        extra = () if cycle == KILL_CYCLES - 2 else IN_PROCESS
        server = new_server(*extra, data_dir=data_dir, api_key=server.api_key)
        senders.url = server.url
    senders.wait_for(len(senders.acked) + 15)
    acked = senders.finish()

    stored = all_traces(server)
    missing = [trace_id for trace_id in acked if trace_id not in stored]
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged traces lost"
    assert len(set(acked)) == len(acked)
    twice = {trace_id: count for trace_id, count in stored.items() if count != SPANS_PER_TRACE}
    assert not twice, (
        f"{len(twice)} traces hold their spans more than once after {senders.retried} "
        f"retried requests: {list(twice.items())[:5]}"
    )
    assert otlp.api(server, "/healthz")["status"] == "ok"
