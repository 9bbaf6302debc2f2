"""Overload: far more spans than the server can store, from many senders at once.

The server must answer the excess with 429/503 and ``Retry-After`` instead of
buffering (its memory stays bounded), store every span it acknowledged, and keep
answering reads. Applications traced with the Lamina SDK see those answers, back off
and retry, and afterwards every span the SDK says it exported is stored and every
other one is counted as dropped. CI size: ``LAMINA_OVERLOAD_SECONDS`` (default 10);
docs/reliability.md describes the longer run.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.conftest import LaminaServer
from tests.processes import children
from tests.support import otlp

LOAD_SECONDS = float(os.environ.get("LAMINA_OVERLOAD_SECONDS", "10"))
SENDERS = 8
SDK_APPS = 2
TRACES_PER_REQUEST = 100
SPANS_PER_REQUEST = 2 * TRACES_PER_REQUEST
SESSION_MARK = "flood-" + "0" * 12


class BodyMaker:
    """Distinct export bodies made fast: one serialized template, its trace ids and
    session id replaced by fresh random bytes for each body."""

    def __init__(self) -> None:
        # random-looking placeholders: a run of one byte could begin at a length byte
        self.trace_ids = [hashlib.md5(b"trace %d" % n).digest() for n in range(TRACES_PER_REQUEST)]
        spans = []
        for trace_id in self.trace_ids:
            root = otlp.span(
                trace_id,
                "flood-turn",
                attributes={"session.id": SESSION_MARK, "input.value": "x" * 200},
            )
            spans += [root, otlp.span(trace_id, "flood-llm", parent=root.span_id)]
        self.template = otlp.export(spans).SerializeToString()
        assert self.template.count(SESSION_MARK.encode()) == TRACES_PER_REQUEST

    def make(self) -> tuple[str, bytes]:
        session = "flood-" + os.urandom(6).hex()
        body = self.template.replace(SESSION_MARK.encode(), session.encode())
        for trace_id in self.trace_ids:
            body = body.replace(trace_id, os.urandom(16))
        return session, body


class Flood:
    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.key = key
        self.maker = BodyMaker()
        self.acked: list[str] = []
        self.refused = 0
        self.unexpected: list[str] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        headers = {"Content-Type": otlp.PROTOBUF, "Authorization": f"Bearer {self.key}"}
        with httpx.Client(timeout=60) as client:
            while not self.stop.is_set():
                session, body = self.maker.make()
                while not self.stop.is_set():
                    answer = client.post(self.url + "/v1/traces", content=body, headers=headers)
                    if answer.status_code == 200:
                        with self._lock:
                            self.acked.append(session)
                        break
                    if (
                        answer.status_code in (429, 503)
                        and answer.headers.get("retry-after", "").isdigit()
                    ):
                        with self._lock:
                            self.refused += 1
                        time.sleep(0.02)  # far sooner than asked: keep the pressure on
                        continue
                    with self._lock:
                        self.unexpected.append(f"{answer.status_code} {answer.headers}")
                    return


class Reader:
    """Reads the API and the health check during the load, timing each answer."""

    def __init__(self, server: LaminaServer, key: str) -> None:
        self.server = server
        self.key = key
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        paths = ["/api/v1/sessions?limit=20", "/api/v1/traces?limit=50", "/healthz"]
        with httpx.Client(timeout=60, headers=headers) as client:
            n = 0
            while not self.stop.is_set():
                started = time.monotonic()
                answer = client.get(self.server.url + paths[n % len(paths)])
                self.latencies.append(time.monotonic() - started)
                if answer.status_code != 200:
                    self.failures.append(f"{paths[n % len(paths)]}: {answer.status_code}")
                n += 1
                time.sleep(0.05)


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the decode workers), in MiB."""
    total = 0
    for process in (pid, *children(pid)):
        try:
            status = Path(f"/proc/{process}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def stored_sessions(server: LaminaServer, key: str) -> dict[str, int]:
    found: dict[str, int] = {}
    cursor = None
    while True:
        params = {"limit": "500", **({"cursor": cursor} if cursor else {})}
        page = otlp.api(server, "/api/v1/sessions", key=key, **params)
        found.update({s["session_id"]: s["span_count"] for s in page["items"]})
        cursor = page["next_cursor"]
        if not cursor:
            return found


def test_overload_is_refused_with_retry_after_and_nothing_acknowledged_is_lost(
    new_server: Callable[..., LaminaServer],
) -> None:
    server = new_server(
        "--max-queue-spans",
        "1000",  # at least the SDK's batch (512 spans): a larger request is a 413
        "--max-batch-spans",
        "500",
        "--decode-workers",
        "1",
        "--store-memory-mb",
        "128",
    )
    _, flood_key = otlp.new_project(server, "flood")
    _, sdk_key = otlp.new_project(server, "sdk")
    otlp.post(server.url, sdk_key, otlp.export(otlp.conversation_turn("s-read", 0, start_ns=1)))
    baseline = rss_mb(server.process.pid)

    apps = [
        subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).with_name("sdk_load_app.py")),
                server.url,
                sdk_key,
                f"sdk-app-{n}",
                str(LOAD_SECONDS),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(SDK_APPS)
    ]
    flood = Flood(server.url, flood_key)
    reader = Reader(server, sdk_key)
    threads = [threading.Thread(target=flood.run, daemon=True) for _ in range(SENDERS)]
    threads.append(threading.Thread(target=reader.run, daemon=True))
    for thread in threads:
        thread.start()
    peak = baseline
    deadline = time.monotonic() + LOAD_SECONDS
    while time.monotonic() < deadline:
        peak = max(peak, rss_mb(server.process.pid))
        time.sleep(0.2)
    flood.stop.set()
    reports = []
    for app in apps:
        out, err = app.communicate(timeout=120)
        assert app.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    reader.stop.set()
    for thread in threads:
        thread.join(60)

    # the excess was refused, each time with Retry-After, and nothing else went wrong
    assert not flood.unexpected, flood.unexpected[:3]
    assert flood.refused > 0, "the server was never overloaded: the test proves nothing"
    # every acknowledged request is stored, whole
    stored = stored_sessions(server, flood_key)
    lost = [session for session in flood.acked if stored.get(session) != SPANS_PER_REQUEST]
    assert not lost, f"{len(lost)} of {len(flood.acked)} acknowledged requests not stored"
    assert len(stored) == len(flood.acked)  # nothing refused was stored

    # the SDK's exporter was refused too, retried, and its accounts add up
    sdk_stored = stored_sessions(server, sdk_key)
    refusals = sum(r["answers"].get("429", 0) + r["answers"].get("503", 0) for r in reports)
    assert refusals > 0, f"no SDK export was ever refused: {reports}"
    for n, report in enumerate(reports):
        dropped = report["dropped_queue_full"] + report["dropped_export_failed"]
        assert report["made"] == report["exported"] + dropped, report
        assert sdk_stored.get(f"sdk-app-{n}", 0) == report["exported"], report
        assert report["exported"] > 0, report

    # memory stayed bounded, and reads were answered throughout
    assert peak - baseline < 400, f"memory grew from {baseline:.0f} to {peak:.0f} MiB"
    assert not reader.failures, reader.failures[:3]
    assert len(reader.latencies) > LOAD_SECONDS, "reads were starved"
    assert statistics.median(reader.latencies) < 0.5, sorted(reader.latencies)[-5:]
    assert max(reader.latencies) < 5, sorted(reader.latencies)[-5:]
    print(
        f"\noverload: {len(flood.acked) * SPANS_PER_REQUEST} flood spans stored, "
        f"{flood.refused} refusals; SDK {reports}; memory {baseline:.0f} -> {peak:.0f} MiB; "
        f"reads median {statistics.median(reader.latencies) * 1000:.0f} ms, "
        f"max {max(reader.latencies) * 1000:.0f} ms"
    )
