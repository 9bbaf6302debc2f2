"""Faults: SIGKILL again and again during sustained ingest; a full disk; a data dir from
an earlier schema version; a damaged or foreign data file.

Longer runs of the same tests are described in docs/reliability.md.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import LaminaServer
from tests.support import otlp
from tests.support.otlp import IN_PROCESS

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


# -- a full disk -----------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 MiB file system of its own (tmpfs), so the test can fill it up."""
    where = tmp_path / "small-disk"
    where.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("filling a disk needs a small file system: run as root to mount a tmpfs")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.strip()})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(directory: Path, leave: int = 0) -> Path:
    """Take every free byte of the file system ``directory`` is on, but ``leave``."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 4096, 1):  # whole MiBs, then the last crumbs
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * size):
                    pass
        os.ftruncate(fd, max(0, os.fstat(fd).st_size - leave))
    finally:
        os.close(fd)
    return filler


def send_turn(
    server: LaminaServer, session: str, n: int, padding: int = 20_000
) -> tuple[str, httpx.Response]:
    spans = otlp.conversation_turn(session, n, start_ns=time.time_ns())
    spans[0].attributes.add(key="padding", value=otlp.any_value(os.urandom(padding // 2).hex()))
    return spans[0].trace_id.hex(), otlp.post(server.url, server.api_key, otlp.export(spans))


@pytest.mark.parametrize(
    "wal_mb",
    # with --store-memory-mb 64 the store checkpoints its WAL into the file at
    # 16 MB (its least: duckdb.py, _connect)
    [0, 14],
    ids=["writing", "checkpointing"],
)
def test_a_full_disk_is_503_damages_nothing_and_ingest_resumes_by_itself(
    new_server: Callable[..., LaminaServer], small_disk: Path, wal_mb: int
) -> None:
    data_dir = small_disk / "data"
    server = new_server(*IN_PROCESS, "--store-memory-mb", "64", data_dir=data_dir)
    before = []
    wal = data_dir / "lamina.duckdb.wal"
    while len(before) < 20 or (wal.exists() and wal.stat().st_size < wal_mb << 20):
        far = wal.exists() and wal.stat().st_size < (wal_mb - 2) << 20
        padding = 1_000_000 if far else 200_000
        trace_id, answer = send_turn(server, "s-before", len(before), padding=padding)
        assert answer.status_code == 200, answer.text
        before.append(trace_id)
        # a read stores what is journaled, so the WAL grows request by request and
        # the journal does not hold the small disk's space as well
        assert otlp.get(server, f"/api/v1/traces/{trace_id}").status_code == 200

    # room for a request or two in the WAL, but not for a checkpoint
    filler = fill(small_disk, leave=(2 << 20) if wal_mb else 0)
    refused = []
    for n in range(30):
        trace_id, answer = send_turn(server, "s-full", n, padding=200_000)
        # a read has what was journaled stored (or, if it cannot be, read as if stored)
        assert otlp.get(server, "/api/v1/sessions/s-before").status_code == 200
        if answer.status_code == 200:
            continue  # it fitted in space the journal or DuckDB had already taken
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"].isdigit()
        status = otlp.error_status(answer)
        assert "disk" in status.message.lower() or "space" in status.message.lower(), status
        refused.append(trace_id)
    assert refused, "the disk was full, yet every request was stored"

    # what was stored before is still all there, and reads keep working
    session = otlp.api(server, "/api/v1/sessions/s-before")
    assert session["trace_count"] == len(before) and session["span_count"] == 2 * len(before)
    assert otlp.get(server, f"/api/v1/traces/{refused[0]}").status_code == 404
    health = otlp.get(server, "/healthz")  # said "ok" while writes were refused
    assert health.status_code == 503 and health.json()["status"] == "failing", health.text
    assert "disk" in health.json()["reason"].lower() or "space" in health.json()["reason"]

    if wal_mb:  # the failed checkpoint stopped DuckDB; the store opened the file again
        assert any("opened again" in line for line in server.output), server.output[-3:]
    filler.unlink()  # space comes back: ingest resumes with no restart
    deadline = time.monotonic() + 20
    after = []
    while len(after) < 10:
        trace_id, answer = send_turn(server, "s-after", len(after))
        if answer.status_code == 200:
            after.append(trace_id)
            continue
        assert answer.status_code == 503, answer.text
        assert time.monotonic() < deadline, "ingest did not resume once there was space"
        time.sleep(0.2)
    while (health := otlp.get(server, "/healthz")).status_code != 200:  # the storer retries
        assert time.monotonic() < deadline + 10, health.text
        time.sleep(0.2)
    assert health.json()["status"] == "ok", health.text

    assert server.stop() == 0  # a clean stop checkpoints the store
    again = new_server(*IN_PROCESS, data_dir=small_disk / "data", api_key=server.api_key)
    stored = all_traces(again)
    assert all(stored.get(trace_id) == 2 for trace_id in before + after), "a trace was lost"
    assert not [trace_id for trace_id in refused if trace_id in stored]
    assert "Traceback" not in "".join(server.output + again.output)


def test_a_store_with_little_memory_takes_more_data_than_its_memory(
    new_server: Callable[..., LaminaServer],
) -> None:
    """Data not yet checkpointed is held in memory: with --store-memory-mb 64 and the
    WAL checkpointed only at 128 MB, every write failed for good after ~50 MB."""
    server = new_server(*IN_PROCESS, "--store-memory-mb", "64")
    for n in range(45):  # 90 MB
        _, answer = send_turn(server, "s-big", n, padding=2_000_000)
        assert answer.status_code == 200, f"after {2 * n} MB: {answer.text[:200]}"
    assert otlp.api(server, "/api/v1/sessions/s-big")["trace_count"] == 45
