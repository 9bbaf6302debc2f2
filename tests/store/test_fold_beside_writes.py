"""The DuckDB store folds trace deltas into its summaries in a transaction of its own,
beside the writer's appends. Whatever the interleaving, a read after a write returns
sees that write, and once writes stop the summaries hold every span exactly once."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest

from lamina.query.params import parse_session_query
from lamina.spans import SpanRecord
from lamina.store import duckdb as store_module
from lamina.store.duckdb import DuckDBStore

MS = 1_000_000
BASE = 1_767_225_600 * 1_000_000_000  # 2026-01-01T00:00:00Z
PROJECT = "prj_a"


def spans(rng: random.Random, batch: int, traces: int) -> list[SpanRecord]:
    """Spans of a few traces of a few sessions; a trace's spans come in several batches."""
    out = []
    for n in range(rng.randint(20, 80)):
        trace = rng.randrange(traces)
        out.append(
            SpanRecord(
                project_id=PROJECT,
                trace_id=f"{trace:032x}",
                span_id=f"{batch:08x}{n:08x}",
                parent_span_id=None if n % 5 == 0 else f"{batch:08x}{0:08x}",
                name="step",
                span_type="DEFAULT",
                start_ns=BASE + (batch * 100 + n) * MS,
                end_ns=BASE + (batch * 100 + n + 1) * MS,
                status="error" if n % 7 == 0 else "ok",
                session_id=f"sess-{trace % 11}",
                cost=0.5,
            )
        )
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_reads_see_every_write_while_folds_run_beside_the_writer(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fold after nearly every write, so folds and appends overlap all the time.
    monkeypatch.setattr(store_module, "FOLD_ROWS", 5)
    monkeypatch.setattr(store_module, "FOLD_CHECK_SECONDS", 0.001)
    store = DuckDBStore(tmp_path / "data", threads=1)
    rng = random.Random(seed)
    written: dict[str, int] = {}  # trace id -> spans acknowledged
    problems: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        # Folds from the read side too, beside the background fold and the writer.
        while not stop.is_set():
            store.list_sessions(PROJECT, parse_session_query({"limit": "5"}))

    readers = [threading.Thread(target=reader) for _ in range(2)]
    for thread in readers:
        thread.start()
    try:
        for batch in range(60):
            records = spans(rng, batch, traces=40)
            store.write_spans(records)
            for record in records:
                written[record.trace_id] = written.get(record.trace_id, 0) + 1
            # The write has returned (a client would have its answer): a read sees it.
            trace_id = rng.choice(records).trace_id
            trace = store.get_trace(PROJECT, trace_id)
            if trace is None or trace["span_count"] != written[trace_id]:
                problems.append(f"batch {batch}: {trace_id} {trace and trace['span_count']}")
    finally:
        stop.set()
        for thread in readers:
            thread.join()
    assert problems == []

    time.sleep(0.05)
    for trace_id, count in written.items():
        trace = store.get_trace(PROJECT, trace_id)
        assert trace is not None
        assert trace["span_count"] == len(trace["spans"]) == count
    sessions = store.list_sessions(PROJECT, parse_session_query({"limit": "100"})).items
    assert sum(session["span_count"] for session in sessions) == sum(written.values())
    assert sum(session["trace_count"] for session in sessions) == len(written)
    con = store._cursor()
    assert con.execute("SELECT count(*) FROM pending_traces").fetchall() == [(0,)]
    assert store._pending == 0
    store.close()


def test_a_write_committed_while_a_fold_runs_is_folded_by_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The background fold is kept out of the way; this test runs the folds itself.
    monkeypatch.setattr(store_module, "FOLD_ROWS", 10**9)
    monkeypatch.setattr(store_module, "FOLD_SECONDS", 3600.0)
    monkeypatch.setattr(store_module, "FOLD_IDLE_SECONDS", 3600.0)
    store = DuckDBStore(tmp_path / "data", threads=1)
    rng = random.Random(3)
    first, second = spans(rng, 0, traces=1), spans(rng, 1, traces=1)
    store.write_spans(first)

    folded_first = threading.Event()
    written_second = threading.Event()
    apply_pending = DuckDBStore._apply_pending

    def paused(self: DuckDBStore, con: object) -> int:
        folded = apply_pending(self, con)  # type: ignore[arg-type]
        folded_first.set()
        assert written_second.wait(10)  # the fold commits only after the second write
        return folded

    monkeypatch.setattr(DuckDBStore, "_apply_pending", paused)
    fold = threading.Thread(target=lambda: store.get_trace(PROJECT, first[0].trace_id))
    fold.start()
    assert folded_first.wait(10)
    store.write_spans(second)  # commits while the fold's transaction is open
    written_second.set()
    fold.join()
    monkeypatch.setattr(DuckDBStore, "_apply_pending", apply_pending)

    trace = store.get_trace(PROJECT, first[0].trace_id)
    assert trace is not None
    assert trace["span_count"] == len(first) + len(second) == len(trace["spans"])
    store.close()
