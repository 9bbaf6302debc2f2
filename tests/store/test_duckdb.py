"""What only the DuckDB store does: its file, its schema version, its lock."""

from __future__ import annotations

import gzip
import os
import random
import time
from pathlib import Path

import duckdb
import orjson
import pytest
from bench.workload import batches

from lamina.errors import ConfigError, NotFound, StoreUnavailable
from lamina.otlp.body import PROTOBUF, decode_body
from lamina.pricing import PriceTable
from lamina.query.params import parse_session_query
from lamina.store import sessions_sql
from lamina.store.base import ExportKind
from lamina.store.duckdb import connection
from lamina.store.duckdb.remembered import Remembered
from lamina.store.duckdb.schema import SCHEMA_VERSION
from lamina.store.duckdb.store import DB_FILE, DuckDBStore
from lamina.store.duckdb.storer import CHECKPOINT_IDLE_SECONDS
from lamina.store.duckdb.values import CHUNK_BYTES, chunks
from lamina.store.rows import TRACE_VALUE_CHARS
from tests.store.test_contract import BASE, MS, rec, trace_id
from tests.store.writing import write
from tests.support.schema import drop_tables_after

PRICE = PriceTable.load(None).cost


def test_a_new_data_dir_records_its_schema_version(tmp_path: Path) -> None:
    DuckDBStore(tmp_path).close()
    with duckdb.connect(str(tmp_path / DB_FILE)) as con:
        row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    assert row is not None and row[0] == SCHEMA_VERSION
    DuckDBStore(tmp_path).close()  # reopening migrates nothing and keeps working


def test_a_data_dir_from_a_newer_release_is_refused_clearly(tmp_path: Path) -> None:
    DuckDBStore(tmp_path).close()
    with duckdb.connect(str(tmp_path / DB_FILE)) as con:
        con.execute("INSERT INTO schema_version VALUES (?)", [SCHEMA_VERSION + 1])
    with pytest.raises(ConfigError) as raised:
        DuckDBStore(tmp_path)
    assert "newer" in raised.value.message and str(tmp_path) in raised.value.message


def test_a_file_that_is_not_a_store_is_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / DB_FILE).write_bytes(b"this is not a database" * 1000)
    with pytest.raises(ConfigError) as raised:
        DuckDBStore(tmp_path)
    assert str(tmp_path) in raised.value.message


def test_the_wal_is_checkpointed_into_the_file_while_ingest_goes_on(tmp_path: Path) -> None:
    """With 64 MB of store memory the WAL is checkpointed at 21 MB; 40k benchmark spans
    later (about 60 MB of WAL written), with spans stored in the background between
    writes, the WAL must still be near that size and the data in the file (a result the
    store left open once stopped every checkpoint)."""
    columns = [
        decode_body(gzip.decompress(batch.body), PROTOBUF, "p", PRICE) for batch in batches(40_000)
    ]
    store = DuckDBStore(tmp_path, memory_mb=64)
    wal = tmp_path / (DB_FILE + ".wal")
    try:
        for n in range(0, len(columns), 2):
            store.write_columns([c for c in columns[n : n + 2] if c is not None])
            if n % 20 == 18:  # a pause: the store stores journaled spans in the background
                time.sleep(0.3)
        assert store.count_spans("p") == sum(c.count for c in columns if c is not None)
        size = wal.stat().st_size if wal.exists() else 0  # no WAL: all of it checkpointed
        assert size < 32 << 20, f"WAL at {size >> 20} MB"
        assert (tmp_path / DB_FILE).stat().st_size > 10 << 20
    finally:
        store.close()


@pytest.mark.parametrize("held_share", [0.0, 0.5])
def test_once_writes_pause_the_wal_is_checkpointed_if_it_holds_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, held_share: float
) -> None:
    """What is not checkpointed yet (and the indexes it changed) stays in the store's
    memory: at 5M spans reads after an ingest ran out of it. A pause in writes
    checkpoints the WAL when that holds more than a share of the store's memory
    (0.0: any; 600 spans hold far less than half of 256 MB, and stay in memory). The
    test waits for the storer's check after the pause, then looks at the WAL."""
    monkeypatch.setattr(connection, "CHECKPOINT_MEMORY_SHARE", held_share)
    columns = decode_body(gzip.decompress(batches(600)[0].body), PROTOBUF, "p", PRICE)
    assert columns is not None
    store = DuckDBStore(tmp_path)
    wal = tmp_path / (DB_FILE + ".wal")
    try:
        store.write_columns([columns])
        assert store.count_spans("p") == columns.count  # stored from the journal
        assert wal.exists() and wal.stat().st_size > 0  # committed to the WAL only
        deadline = time.monotonic() + CHECKPOINT_IDLE_SECONDS + 10
        while store._storer.idle_checks == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store._storer.idle_checks == 1, "no check after the pause in writes"
        checkpointed = not wal.exists() or wal.stat().st_size == 0
        assert checkpointed == (held_share == 0.0)
        assert store.count_spans("p") == columns.count
        assert store.list_sessions("p", parse_session_query({})).items
    finally:
        store.close()


@pytest.mark.parametrize(
    ("table", "column"),
    [("traces", "trace_id"), ("traces", "session_id"), ("sessions", "session_id")],
)
def test_one_trace_or_session_is_looked_up_in_an_index(
    tmp_path: Path, table: str, column: str
) -> None:
    """Reading one trace or session must not scan a table that grows with the store
    (at 1M spans the scan of ``traces`` alone took 10 ms); DuckDB plans an index scan
    only when the lookup is written the way ``by_id`` writes it."""
    store = DuckDBStore(tmp_path)
    columns = decode_body(gzip.decompress(batches(600)[0].body), PROTOBUF, "p", PRICE)
    assert columns is not None
    store.write_columns([columns])
    store.count_spans()
    store.close()
    with duckdb.connect(str(tmp_path / DB_FILE)) as con:
        value = con.execute(f"SELECT {column} FROM {table} LIMIT 1").fetchall()[0][0]
        plan = con.execute(
            "EXPLAIN ANALYZE " + sessions_sql.by_id(table, column, "*"), [value, "p"]
        ).fetchall()
    assert "Type: Index Scan" in plan[0][1]


def test_the_server_gives_the_store_half_the_cores_unless_told(tmp_path: Path) -> None:
    """DuckDB's own threads compete with the decode workers for the cores: by default the
    store gets half of them (at least one); --store-threads sets the number."""
    from lamina.settings import Settings

    cores = os.cpu_count() or 1
    assert Settings.load({}, environ={}).threads_for_store == max(1, cores // 2)
    assert Settings.load({}, environ={"LAMINA_STORE_THREADS": "3"}).threads_for_store == 3
    with pytest.raises(ConfigError):
        Settings.load({"store_threads": -1}, environ={})
    store = DuckDBStore(tmp_path, threads=3)
    try:
        threads = store._connection.cursor().execute("SELECT current_setting('threads')").fetchall()
        assert threads[0][0] == 3
    finally:
        store.close()


def test_a_read_that_runs_out_of_store_memory_is_a_clear_503(tmp_path: Path) -> None:
    """Out of memory is a passing condition (other work holds the store's memory), not a
    server error: the reader gets StoreUnavailable (503, retry) saying what happened."""
    store = DuckDBStore(tmp_path)
    try:
        for batch in batches(6_000):
            columns = decode_body(gzip.decompress(batch.body), PROTOBUF, "p", PRICE)
            assert columns is not None
            store.write_columns([columns])
        store.close()
        store = DuckDBStore(tmp_path)  # none of the spans in memory
        assert store.count_spans() > 0
        # just what the store holds now: the search cannot pin a block to scan
        cursor = store._connection.cursor()
        (used,) = cursor.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchall()[
            0
        ]
        cursor.execute(f"SET memory_limit = '{int(used) + 1}B'")
        with pytest.raises(StoreUnavailable) as raised:
            store.list_sessions("p", parse_session_query({"q": "zebra", "sort": "cost"}))
        assert "out of memory" in raised.value.message
    finally:
        store._connection.cursor().execute("SET memory_limit = '256MB'")
        store.close()


def test_traces_read_at_once_whose_spans_do_not_fit_together_are_read_apart(
    tmp_path: Path,
) -> None:
    """Two traces of three 12 MB spans in a 64 MB store: their spans' text cannot be
    held at once (as for one trace of six, see get_trace), so get_traces reads them a
    trace at a time, and a span at a time within one, each large value cut."""
    store = DuckDBStore(tmp_path, memory_mb=64)
    try:
        ids = [trace_id(), trace_id()]
        for n in range(6):
            text = f"{n}" * 12_000_000  # as from OTLP: the input, and in the attributes
            attributes = orjson.dumps({"input.value": text}).decode()
            write(store, [rec(ids[n % 2], f"wide-{n}", start=n, input=text, attributes=attributes)])
        got = store.get_traces("prj_a", ids)
        assert [trace["trace_id"] for trace in got] == ids
        for trace in got:
            assert len(trace["spans"]) == 3
            for span in trace["spans"]:
                assert span["truncated"] == {"input": 12_000_000, "attributes": 12_000_018}
                assert len(span["input"]) == TRACE_VALUE_CHARS
    finally:
        store.close()


def test_many_long_values_are_stored_whole_in_a_small_store(tmp_path: Path) -> None:
    """The report's import (#17) at half its size: 1,000 spans of 150 KB (150 MB) in writes of
    about 8 MB, into a store of 64 MB. DuckDB could not checkpoint row groups holding
    that many long strings in that memory ("failed to pin block" from about 51 MB on):
    parts were halved and still failed, the writes stayed in the journal (reads stored
    them for themselves only) and new ones were refused (503). Values of more than
    16 KiB are now kept apart in chunks (cut between characters: the text is not all
    ASCII): everything is stored and nothing set aside, a value reads back whole and
    exports whole, and a trace answers it cut."""
    spans, size, per_write = 1_000, 150_000, 50
    text = ("abcdefghijklmnoé" * (size // 16 + 1))[: size - 5]

    def value(n: int) -> str:
        return f"{n:05d}{text}"

    store = DuckDBStore(tmp_path, memory_mb=64)
    try:
        ids = [trace_id() for _ in range(spans)]
        for first in range(0, spans, per_write):
            batch = range(first, min(spans, first + per_write))
            write(store, [rec(ids[n], f"big-{n}", input=value(n)) for n in batch])
        assert store.count_spans("prj_a") == spans
        # stored, not only read: a read stores what could not be stored for itself only
        assert store.write_failure() is None
        assert not list((tmp_path / "journal").glob("*.journal"))
        assert store.quarantined_ids() == []
        assert not (tmp_path / "quarantine").exists()
        trace = store.get_trace("prj_a", ids[567])
        assert trace is not None
        (span,) = trace["spans"]
        assert span["truncated"] == {"input": size}
        assert span["input"] == value(567)[:TRACE_VALUE_CHARS]
        whole = store.span_value("prj_a", ids[567], span["span_id"], "input")
        assert whole is not None and whole["value"] == value(567)
        page = store.export_page("prj_a", ExportKind.SPANS, limit=3, max_bytes=8 << 20)
        assert [item["input"] for item in page.items] == [value(0), value(1), value(2)]
    finally:
        store.close()


def test_long_values_an_earlier_release_stored_whole_are_read_as_before(tmp_path: Path) -> None:
    """Spans of a data dir from before long values were kept apart (schema 9) may hold
    them whole: after the upgrade a trace still answers them cut (in SQL), beside a
    newer span of the same trace whose value is kept apart; each reads back whole,
    and exports whole."""
    long_text = "ö" * (TRACE_VALUE_CHARS + 7)
    store = DuckDBStore(tmp_path)
    old = rec(trace_id(), "old", input="short")
    write(store, [old])
    store.close()
    with duckdb.connect(str(tmp_path / DB_FILE)) as con:  # as schema 9 stored it
        con.execute("UPDATE spans SET input = ?", [long_text])
        con.execute("ALTER TABLE spans DROP COLUMN cut_lengths")
        drop_tables_after(9, con)
        con.execute("ALTER TABLE projects DROP COLUMN session_idle_minutes")
        con.execute("DELETE FROM schema_version WHERE version >= 10")
    store = DuckDBStore(tmp_path)
    try:
        new = rec(old.trace_id, "new", start=BASE + MS, input=long_text)
        write(store, [new])
        (trace,) = store.get_traces("prj_a", [old.trace_id])
        assert trace == store.get_trace("prj_a", old.trace_id)
        assert [span["name"] for span in trace["spans"]] == ["old", "new"]
        for span in trace["spans"]:
            assert span["truncated"] == {"input": TRACE_VALUE_CHARS + 7}
            assert span["input"] == "ö" * TRACE_VALUE_CHARS
            whole = store.span_value("prj_a", old.trace_id, span["span_id"], "input")
            assert whole is not None and whole["value"] == long_text
        page = store.export_page("prj_a", ExportKind.SPANS, max_bytes=8 << 20)
        assert [span["input"] for span in page.items] == [long_text, long_text]
    finally:
        store.close()


def test_deletes_take_the_values_kept_apart_with_their_spans(tmp_path: Path) -> None:
    """A deleted trace, session, old trace or project leaves none of its chunks behind."""
    store = DuckDBStore(tmp_path)

    def chunks_of(project: str) -> int:
        store.count_spans()  # everything journaled stored first
        cursor = store._connection.cursor()
        sql = "SELECT count(*) FROM span_values WHERE project_id = ?"
        return int(cursor.execute(sql, [project]).fetchall()[0][0])

    try:
        text = "v" * 100_000  # the head and six chunks
        kept, gone = trace_id(), trace_id()
        write(store, [rec(t, input=text, output=text, session_id="s") for t in (kept, gone)])
        write(store, [rec(trace_id(), project="prj_b", input=text)])
        assert (chunks_of("prj_a"), chunks_of("prj_b")) == (24, 6)
        assert store.delete_trace("prj_a", gone).spans == 1
        assert chunks_of("prj_a") == 12 and store.get_trace("prj_a", kept) is not None
        assert store.delete_session("prj_a", "s").traces == 1
        assert (chunks_of("prj_a"), chunks_of("prj_b")) == (0, 6)
        assert store.delete_before("prj_b", BASE + 10**12).traces == 1
        assert chunks_of("prj_b") == 0
        write(store, [rec(trace_id(), project="prj_c", input=text)])
        assert chunks_of("prj_c") == 6
        store.delete_project("prj_c")
        assert chunks_of("prj_c") == 0
    finally:
        store.close()


def test_long_values_are_cut_between_characters_into_chunks_of_bounded_bytes() -> None:
    """Chunks of at most CHUNK_BYTES bytes of UTF-8, never inside a character, each
    with the offset of its first character; joined, the text again."""
    text = "".join(random.choice("aé€😀") for _ in range(40_000))
    pieces = chunks(text)
    assert len(pieces) > 4 and "".join(piece for _, piece in pieces) == text
    for offset, piece in pieces:
        assert len(piece.encode()) <= CHUNK_BYTES and text[offset : offset + len(piece)] == piece
    assert len(pieces[0][1].encode()) > CHUNK_BYTES - 4  # as full as a character allows


def test_scores_added_from_threads_beside_ingest_are_stored_once_and_find_their_session(
    tmp_path: Path,
) -> None:
    """Four threads add overlapping scores (retries of each other's) on traces whose spans
    are being written at the same time: each score is stored once, and every score on a
    trace counts for the trace's session, whichever came first (scores are written under
    the store lock, beside the fold that gives them their trace's session)."""
    from concurrent.futures import ThreadPoolExecutor

    from lamina.store.queries import SessionQuery
    from lamina.store.scores import Score, ScoreQuery

    store = DuckDBStore(tmp_path)
    try:
        traces = [(trace_id(), f"s-{n % 5}") for n in range(40)]

        def spans() -> None:
            for n, (trace, session) in enumerate(traces):
                write(store, [rec(trace, start=BASE + n * MS, session_id=session)])

        def scores(worker: int) -> None:
            for first in range(worker * 20, worker * 20 + 40, 5):  # half another's ids
                batch = [
                    Score(f"scr_{n}", "q", 1.0, None, "api", None, None,
                          traces[n % 40][0], None, None, BASE + n)
                    for n in range(first, first + 5)
                ]  # fmt: skip
                store.add_scores("prj_a", batch)

        with ThreadPoolExecutor(5) as pool:
            done = [pool.submit(spans), *(pool.submit(scores, w) for w in range(4))]
            for future in done:
                future.result()
        stored = store.list_scores("prj_a", ScoreQuery(limit=500)).items
        assert sorted(s.score_id for s in stored) == sorted(f"scr_{n}" for n in range(100))
        per_session: dict[str, int] = {}
        for n in range(100):
            session = traces[n % 40][1]
            per_session[session] = per_session.get(session, 0) + 1
        rows = store.list_sessions("prj_a", SessionQuery(limit=10)).items
        assert {row["session_id"]: row["score_summary"]["q"]["count"] for row in rows} == (
            per_session
        )
    finally:
        store.close()


@pytest.mark.parametrize("entry_id", ["¹", "١", "1" * 21, "-1", "../1", ""])
def test_a_set_aside_id_that_is_not_one_is_not_found(tmp_path: Path, entry_id: str) -> None:
    """Ids come from URLs: a superscript digit once passed str.isdigit and broke int()
    (a 500 where `DELETE /api/v1/quarantine/¹` should be a 404)."""
    store = DuckDBStore(tmp_path)
    try:
        with pytest.raises(NotFound, match="No quarantined entry"):
            store.drop_quarantined(entry_id)
        with pytest.raises(NotFound, match="No quarantined entry"):
            store.retry_quarantined(entry_id)
    finally:
        store.close()


def test_a_read_beside_a_write_is_not_kept() -> None:
    """What a read found is answered again only while no write began or ended since it
    was taken (lamina.store.duckdb.remembered): a write under way, or one that ended
    between the read's start and end, leaves nothing kept."""
    kept = Remembered(limit=3)
    key = ("session", "prj", "s-1")
    kept.keep(None, None, {key: 1})  # read while a write was under way
    assert kept.known(None, [key]) == {}
    kept.keep(3, 4, {key: 1})  # a write ended during the read
    assert kept.known(3, [key]) == {} and kept.known(4, [key]) == {}
    kept.keep(4, 4, {key: 1})
    assert kept.known(4, [key]) == {key: 1}
    assert kept.known(5, [key]) == {}  # a write since
    kept.keep(5, 5, {key: 1})
    kept.keep(5, 5, {("a",): 1, ("b",): 2, ("c",): 3})  # past the limit: the rest forgotten
    assert kept.known(5, [key, ("a",)]) == {("a",): 1}


def test_scores_are_stored_in_the_background_while_a_long_write_holds_the_store(
    tmp_path: Path,
) -> None:
    """The call that brings the journaled scores to STORE_SCORES is answered without
    waiting for the store (a fold, say, holding it for seconds); the writer's own thread
    stores them once it is free, with no read asking, and empties their journal."""
    import threading

    from lamina.store.duckdb.score_journal import SCORE_JOURNAL_DIR, STORE_SCORES
    from lamina.store.scores import Score, ScoreQuery

    store = DuckDBStore(tmp_path)
    try:
        scores = [
            Score(f"scr_{n}", "q", 1.0, None, "api", None, None,
                  trace_id(), None, None, BASE + n)
            for n in range(STORE_SCORES)
        ]  # fmt: skip
        lock = store._storer.store_lock
        given = threading.Thread(
            target=lambda: [
                store.add_scores("prj_a", scores[at : at + 500])
                for at in range(0, len(scores), 500)
            ]
        )
        with lock:  # the long write
            given.start()
            given.join(20)
            assert not given.is_alive(), "adding scores waited for the store"
        journal = tmp_path / SCORE_JOURNAL_DIR
        deadline = time.monotonic() + 20
        while any(journal.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(journal.iterdir()), "the scores stayed in their journal"
        with lock:  # stored, not left for the read to store
            assert not store._scores._journaled
        stored = store.list_scores("prj_a", ScoreQuery(limit=500)).items
        assert len(stored) == 500
    finally:
        store.close()
