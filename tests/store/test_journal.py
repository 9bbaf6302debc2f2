"""The DuckDB store journals each write and stores journaled batches in DuckDB later,
many a transaction. Whatever the interleaving, a read after a write returns sees that
write; once writes stop the summaries hold every span exactly once; a crash loses no
journaled span and stores none twice; a write cut short by a crash is dropped."""

from __future__ import annotations

import pickle
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from lamina.errors import StoreUnavailable
from lamina.query.params import parse_session_query, parse_trace_query
from lamina.spans.batch import streams
from lamina.store.duckdb import storer
from lamina.store.duckdb.backlog import first_part
from lamina.store.duckdb.journal import MAGIC, Journal
from lamina.store.duckdb.store import DuckDBStore
from lamina.store.duckdb.storer import JOURNAL_DIR
from tests.spans.record import SpanRecord
from tests.store.writing import column_batch, write

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
def test_reads_see_every_write_while_batches_are_stored_beside_the_writer(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Store after nearly every write, so storing and journaling overlap all the time.
    monkeypatch.setattr(storer, "STORE_SPANS", 5)
    monkeypatch.setattr(storer, "STORE_CHECK_SECONDS", 0.001)
    store = DuckDBStore(tmp_path / "data", threads=1)
    rng = random.Random(seed)
    written: dict[str, int] = {}  # trace id -> spans acknowledged
    problems: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        # Stores from the read side too, beside the background storing and the writer.
        while not stop.is_set():
            store.list_sessions(PROJECT, parse_session_query({"limit": "5"}))

    readers = [threading.Thread(target=reader) for _ in range(2)]
    for thread in readers:
        thread.start()
    try:
        for batch in range(60):
            records = spans(rng, batch, traces=40)
            write(store, records)
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
    assert store._storer.backlog.spans == 0 and not store._storer.backlog.writes
    store.close()
    assert not list((tmp_path / "data" / JOURNAL_DIR).iterdir())  # all of it stored


def test_a_write_journaled_while_a_store_runs_is_stored_by_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keep_out_of_the_way(monkeypatch)  # this test has the batches stored itself
    store = DuckDBStore(tmp_path / "data", threads=1)
    rng = random.Random(3)
    first, second = spans(rng, 0, traces=1), spans(rng, 1, traces=1)
    write(store, first)

    folded_first = threading.Event()
    written_second = threading.Event()
    fold = storer.fold_deltas

    def paused(con: duckdb.DuckDBPyConnection, deltas: pa.Table) -> None:
        fold(con, deltas)
        folded_first.set()
        assert written_second.wait(10)  # the store commits only after the second write

    monkeypatch.setattr(storer, "fold_deltas", paused)
    reader = threading.Thread(target=lambda: store.get_trace(PROJECT, first[0].trace_id))
    reader.start()
    assert folded_first.wait(10)
    write(store, second)  # journaled while the first is being stored
    written_second.set()
    reader.join()
    monkeypatch.setattr(storer, "fold_deltas", fold)

    trace = store.get_trace(PROJECT, first[0].trace_id)
    assert trace is not None
    assert trace["span_count"] == len(first) + len(second) == len(trace["spans"])
    store.close()


def keep_out_of_the_way(monkeypatch: pytest.MonkeyPatch) -> None:
    """No storing in the background: journaled batches wait for a read or close."""
    monkeypatch.setattr(storer, "STORE_SPANS", 10**9)
    monkeypatch.setattr(storer, "STORE_SECONDS", 3600.0)
    monkeypatch.setattr(storer, "STORE_IDLE_SECONDS", 3600.0)
    monkeypatch.setattr(storer, "STORE_CHECK_SECONDS", 3600.0)  # not even a look


# A process that journals batches and is then killed before it stores them (os._exit:
# no close, no atexit; the same as SIGKILL for what is on disk). argv: data dir, what
# to do before dying ("nothing", "store" and keep the journal, "tear" the last entry).
CRASHING_WRITER = """
import os, random, sys
from pathlib import Path
from lamina.store.duckdb import storer
from lamina.store.duckdb.journal import Journal
from lamina.store.duckdb.store import DuckDBStore
from tests.store.test_journal import spans
from tests.store.writing import column_batch
storer.STORE_SPANS = 10**9
storer.STORE_SECONDS = storer.STORE_IDLE_SECONDS = 3600.0
data, then = Path(sys.argv[1]), sys.argv[2]
store = DuckDBStore(data, threads=1)
rng = random.Random(7)
for batch in range(int(sys.argv[3])):
    store.write_columns([column_batch(spans(rng, batch, traces=6), digest=f"request-{batch}")])
if then == "store":
    Journal.forget = lambda self, stored_id: None  # killed before the journal is tidied
    store.count_spans()
if then == "tear":
    (segment,) = (data / "journal").iterdir()
    with open(segment, "r+b") as f:  # the last entry's write cut short
        f.truncate(segment.stat().st_size - 100)
os._exit(0)
"""


def crash_after_writing(data: Path, then: str, batches: int) -> None:
    subprocess.run(
        [sys.executable, "-c", CRASHING_WRITER, str(data), then, str(batches)],
        check=True,
        cwd=Path(__file__).parents[2],
        timeout=120,
    )


def expected(batches: int) -> dict[str, int]:
    """Spans a trace, over the crashing writer's first ``batches`` batches."""
    rng = random.Random(7)
    counts: dict[str, int] = {}
    for batch in range(batches):
        for record in spans(rng, batch, traces=6):
            counts[record.trace_id] = counts.get(record.trace_id, 0) + 1
    return counts


def stored(store: DuckDBStore) -> dict[str, int]:
    con = store._connection.cursor()
    by_spans = dict(con.execute("SELECT trace_id, count(*) FROM spans GROUP BY 1").fetchall())
    summaries = store.list_traces(PROJECT, parse_trace_query({"limit": "100"})).items
    assert {t["trace_id"]: t["span_count"] for t in summaries} == by_spans
    return by_spans


@pytest.mark.parametrize("then", ["nothing", "store"])
def test_a_crash_loses_no_journaled_span_and_stores_none_twice(tmp_path: Path, then: str) -> None:
    """Killed with every batch journaled and none stored, or with all of them stored but
    their journal not yet deleted: the next start stores each span exactly once."""
    data = tmp_path / "data"
    crash_after_writing(data, then, batches=12)
    assert list((data / JOURNAL_DIR).iterdir())  # the crash left the journal behind
    store = DuckDBStore(data, threads=1)
    try:
        assert stored(store) == expected(12)
        assert not list((data / JOURNAL_DIR).iterdir())
        # a client retrying a request whose answer it lost is recognised
        store.write_columns([column_batch(spans(random.Random(7), 0, 6), digest="request-0")])
        assert stored(store) == expected(12)
    finally:
        store.close()


def test_an_entry_cut_short_by_a_crash_is_dropped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The last entry of the journal, half written when the process died, was never
    acknowledged (its sync had not returned): the entries before it are stored, it is
    not, and the store says so and opens."""
    data = tmp_path / "data"
    crash_after_writing(data, "tear", batches=5)
    with caplog.at_level("WARNING", logger="lamina.store"):
        store = DuckDBStore(data, threads=1)
    try:
        assert stored(store) == expected(4)
        assert any("cut short by a crash" in r.getMessage() for r in caplog.records)
    finally:
        store.close()


@pytest.mark.parametrize("limit", ["spans", "bytes"])
def test_a_writer_far_ahead_of_storing_stores_before_it_journals_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: str
) -> None:
    """The backlog stays bounded: past the limit of spans (or of their bytes) journaled
    and not yet stored, the write itself stores them (and a store that cannot write
    would refuse it)."""
    keep_out_of_the_way(monkeypatch)
    if limit == "bytes":
        sample = column_batch(spans(random.Random(0), 0, traces=6))
        per_span = sum(map(len, streams(sample))) / sample.count
        monkeypatch.setattr(storer, "UNSTORED_LIMIT_BYTES", int(100 * per_span))
    store = DuckDBStore(
        tmp_path / "data", threads=1, unstored_limit=100 if limit == "spans" else 10**9
    )
    rng = random.Random(5)
    written = 0
    try:
        for batch in range(20):
            records = spans(rng, batch, traces=6)
            write(store, records)
            written += len(records)
            assert store._storer.backlog.spans < 100 + 80  # the limit, and one write of at most 80
        con = store._connection.cursor()
        (in_duckdb,) = con.execute("SELECT count(*) FROM spans").fetchall()[0]
        assert written - 180 < in_duckdb < written
        assert store.count_spans(PROJECT) == written
    finally:
        store.close()


def test_the_journal_holds_what_the_worker_sent(tmp_path: Path) -> None:
    """A batch that came from a decode worker (as Arrow IPC streams) is journaled as
    those bytes; one built in this process is serialised; both read back equal."""
    rng = random.Random(9)
    built = column_batch(spans(rng, 0, traces=3), digest="d-1")
    received = pickle.loads(pickle.dumps(built))
    assert received.ipc is not None and built.ipc is None
    journal = Journal(tmp_path / "journal")
    assert list(journal.replay(0)) == []
    last_id, size = journal.append([built, received])
    assert last_id == 2 and size > sum(map(len, streams(built))) * 2
    journal.close()
    again = list(Journal(tmp_path / "journal").replay(1))
    assert [entry_id for entry_id, _ in again] == [2]
    assert again[0][1].spans.equals(built.spans) and again[0][1].traces.equals(built.traces)
    assert again[0][1].digest == "d-1"


def test_batches_are_stored_from_the_journal_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Journaled batches wait in the journal's files, not in the server's memory, and
    are read back to be stored: spans of an entry damaged on disk meanwhile cannot be
    stored, and the store says how many, and stores the rest."""
    keep_out_of_the_way(monkeypatch)
    store = DuckDBStore(tmp_path / "data", threads=1)
    rng = random.Random(3)
    writes = [spans(rng, batch, traces=6) for batch in range(3)]
    try:
        for records in writes:
            write(store, records)
        (segment,) = (tmp_path / "data" / JOURNAL_DIR).iterdir()
        data = bytearray(segment.read_bytes())
        second = data.index(MAGIC, len(MAGIC))  # the second entry's header
        data[second + 40] ^= 0xFF  # a byte of its batch: its CRC no longer matches
        segment.write_bytes(data)
        with caplog.at_level("ERROR", logger="lamina.store"):
            assert store.count_spans(PROJECT) == len(writes[0])
        lost = len(writes[1]) + len(writes[2])
        assert any(
            f"{lost} acknowledged spans could not be read back" in r.getMessage()
            for r in caplog.records
        )
    finally:
        store.close()


def test_a_backlog_is_stored_a_part_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writes that gathered while storing was held up are stored in transactions of
    about STORE_SPANS spans, each recording the last entry it stored, so storing a
    backlog takes the memory of one part; every span is stored once."""
    keep_out_of_the_way(monkeypatch)
    store = DuckDBStore(tmp_path / "data", threads=1)
    rng = random.Random(11)
    try:
        for batch in range(10):
            store.write_columns([column_batch(spans(rng, batch, traces=6))])
        taken = list(store._storer.backlog.writes)
        monkeypatch.setattr(storer, "STORE_SPANS", 120)
        parts = []
        while rest := taken[sum(map(len, parts)) :]:
            parts.append(first_part(rest, storer.STORE_SPANS, storer.STORE_BYTES))
        assert len(parts) > 2
        for part in parts[:-1]:  # each part holds the limit, and no write more than needed
            assert sum(j.spans for j in part) >= 120 > sum(j.spans for j in part[:-1])
        rng = random.Random(11)
        records = [record for batch in range(10) for record in spans(rng, batch, traces=6)]
        assert store.count_spans(PROJECT) == len(records)
        assert stored(store) == {
            trace: sum(r.trace_id == trace for r in records)
            for trace in {r.trace_id for r in records}
        }
        (last,) = (
            store._connection.cursor().execute("SELECT entry_id FROM journal_stored").fetchall()[0]
        )
        assert last == 10 and not list((tmp_path / "data" / JOURNAL_DIR).iterdir())
    finally:
        store.close()


def test_parts_of_a_backlog_stored_before_a_failure_stay_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each part is its own transaction: when one fails (here DuckDB refuses a span
    without a name), the parts before it stay stored and recorded, and the rest stay
    journaled for the next attempt."""
    keep_out_of_the_way(monkeypatch)
    store = DuckDBStore(tmp_path / "data", threads=1)
    rng = random.Random(11)
    try:
        for batch in range(10):
            records = spans(rng, batch, traces=6)
            if batch == 7:
                records[0].name = None  # type: ignore[assignment]
            store.write_columns([column_batch(records)])
        taken = list(store._storer.backlog.writes)
        monkeypatch.setattr(storer, "STORE_SPANS", 120)
        with pytest.raises(StoreUnavailable):
            store.count_spans(PROJECT)
        parts_before, done = [], 0
        while done < 7:  # the parts that end before the refused write
            part = first_part(taken[done:], storer.STORE_SPANS, storer.STORE_BYTES)
            if done + len(part) > 7:
                break
            parts_before.append(part)
            done += len(part)
        assert parts_before
        con = store._connection.cursor()
        (last,) = con.execute("SELECT entry_id FROM journal_stored").fetchall()[0]
        assert last == parts_before[-1][-1].last_id
        (in_duckdb,) = con.execute("SELECT count(*) FROM spans").fetchall()[0]
        assert in_duckdb == sum(j.spans for part in parts_before for j in part)
        assert [j.last_id for j in store._storer.backlog.writes] == list(range(last + 1, 11))
    finally:
        store._storer.backlog.writes.clear()  # the refused write would only fail again on closing
        store.close()


def test_storing_in_the_background_a_part_at_a_time_stores_every_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The background storer takes one part a transaction (so reads can get in between)
    and comes back for the rest: a burst of writes several parts long ends up stored
    whole, with no read to push it, and the journal is emptied."""
    monkeypatch.setattr(storer, "STORE_SPANS", 100)
    monkeypatch.setattr(storer, "STORE_CHECK_SECONDS", 0.01)
    store = DuckDBStore(tmp_path / "data", threads=1)
    rng = random.Random(13)
    try:
        written = 0
        for batch in range(30):
            records = spans(rng, batch, traces=6)
            write(store, records)
            written += len(records)
        deadline = time.monotonic() + 30
        while store._storer.backlog.spans and time.monotonic() < deadline:
            time.sleep(0.01)
        con = store._connection.cursor()
        assert con.execute("SELECT count(*) FROM spans").fetchall()[0][0] == written
        # every stored segment deleted; at most the one still open remains
        assert len(list((tmp_path / "data" / JOURNAL_DIR).glob("*.journal"))) <= 1
        assert stored(store) and store.count_spans(PROJECT) == written
    finally:
        store.close()
