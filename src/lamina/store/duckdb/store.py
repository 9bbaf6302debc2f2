"""The embedded store: one DuckDB file in the data directory.

A write is journaled (appended to a file and synced, :mod:`lamina.store.duckdb.journal`)
and answered; journaled batches are stored in DuckDB in large transactions of
column-wise Arrow appends (never row by row), and always before a read: the
spans, and one summary delta per trace they touch folded into ``traces`` and
``sessions``, so listing sessions or traces never scans spans. A trace keeps the
range of span sequence numbers it covers; reading one trace then touches only
the row groups in that range (DuckDB's zone maps on ``seq``).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import duckdb
import pyarrow as pa

from lamina.errors import BadRequest, ConfigError, Conflict, InvalidCursor, StoreUnavailable
from lamina.query.params import MAX_LIMIT, Page, SessionQuery, TraceQuery
from lamina.spans.batch import ColumnBatch, combine, streams, to_columns
from lamina.spans.record import SpanRecord
from lamina.spans.summaries import merge_metadata, plain_metadata
from lamina.store import sessions_sql
from lamina.store.base import ApiKey, Deleted, Project, Quarantined, Row, User
from lamina.store.duckdb.journal import Journal
from lamina.store.duckdb.quarantine import Quarantine
from lamina.store.duckdb.schema import MIGRATIONS, SCHEMA_VERSION
from lamina.store.rows import (
    LARGE_FIELDS,
    cut_fields,
    cut_span_row,
    duration_ms,
    new_id,
    outline_row,
    page,
    parse_json,
    session_row,
    span_row,
    total_tokens,
    whole_value,
)

DB_FILE = "lamina.duckdb"
JOURNAL_DIR = "journal"
QUARANTINE_DIR = "quarantine"
log = logging.getLogger("lamina.store")
# How long a committed request is remembered, to recognise a client's retry.
RETRY_WINDOW_NS = 3600 * 1_000_000_000
# Batches are journaled and answered, then stored in DuckDB (their spans appended,
# their summary deltas folded into ``traces`` and ``sessions``) in one transaction
# once this many spans (or bytes of them) have gathered, this long after the first,
# once writes pause this long, or before any read (see lamina.store.duckdb.journal). DuckDB
# writes each full row group of an append straight into the file: at 16,384 spans a
# transaction the store spends 23 µs of CPU a span, at 1,024 44; a fold costs about
# 0.12 s of CPU whatever its size, plus 8 µs a trace.
STORE_SPANS = 32_768
STORE_BYTES = 32 << 20
# A transaction holds everything it appends in the store's memory until it commits
# (a row group is written to the file only once 16,384 rows fill it): 36 MB of
# 3 MB spans failed to commit in a store of 64 MB ("failed to pin block") and was
# retried for ever, holding up every write after it. So a part holds at most this
# share of the store's memory (32 MB at the default 256 MB); a part that still runs
# out of memory is halved, down to one journal entry, and an entry that cannot be
# stored on its own is set aside (lamina.store.duckdb.quarantine) so the next ones flow.
PART_MEMORY_SHARE = 8
STORE_SECONDS = 2.0
STORE_IDLE_SECONDS = 0.25
STORE_CHECK_SECONDS = 0.05
# A write that finds this many spans (or bytes of them) journaled and not yet stored
# stores them first: the backlog a read may have to store first stays bounded, and a
# store that cannot write refuses new spans (503). The server passes its
# --max-queue-spans as the number of spans. The backlog itself is held in the
# journal's files, not in memory: storing reads it back.
UNSTORED_LIMIT_SPANS = 4 * STORE_SPANS
UNSTORED_LIMIT_BYTES = 4 * STORE_BYTES
# Once writes have paused this long, and more than this share of the store's memory is
# held by data not yet checkpointed and by the indexes it changed, the WAL is
# checkpointed into the file, which frees them: after 100k spans into a 5M-span store
# they held 150 of 256 MB (the ART indexes 103), and reads after the ingest ran out of
# memory. Below that share a checkpoint only made the next reads slower (they read
# back compressed blocks instead of the rows in memory).
CHECKPOINT_IDLE_SECONDS = 2.0
CHECKPOINT_MEMORY_SHARE = 0.5
_HELD_UNTIL_CHECKPOINT = """
SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory()
WHERE tag IN ('ART_INDEX', 'IN_MEMORY_TABLE')
"""
# A newest-first search looks first among this many pages' worth of the newest
# sessions or traces (see DuckDBStore._windowed_search).
SEARCH_WINDOW = 8
_PROJECT = "id, name, created_ns, retention_days"
# A span's size in an export page: its text, plus a little for its ids, times and
# numbers. An export reads the sizes of this many spans at first, then more or fewer
# by the sizes it found (see DuckDBStore._span_page).
_SPAN_BYTES = (
    "strlen(name) + strlen(status_message) + coalesce(strlen(input), 0) "
    "+ coalesce(strlen(output), 0) + strlen(metadata) + strlen(attributes) + strlen(events) "
    "+ strlen(resource) + strlen(array_to_string(tags, ',')) + 200"
)
_SIZE_WINDOW = 64
# A trace's spans, their large values cut (see lamina.store.rows.TRACE_VALUE_CHARS).
_CUT_SPAN_FIELDS = cut_fields(sessions_sql.SPAN_FIELDS, "length({f})", "left({f}, {n})")
# The data file is attached under this name, with row groups of this many rows
# (DuckDB's default is 122,880). A checkpoint compresses again the whole row group
# that rows were added to: with the default, the writer's CPU a span grew from 9 to
# 60-85 µs as each row group of traces filled (800k spans); with 16,384 it stays
# at 15-20 µs, and zone maps skip finer ranges.
CATALOG = "lamina"
ROW_GROUP_ROWS = 16_384


def _sum(column: str) -> str:
    """Add the incoming value (``f``) to the stored one (``s``), keeping NULL only when
    both are."""
    return (
        f"CASE WHEN s.{column} IS NULL THEN f.{column} WHEN f.{column} IS NULL THEN s.{column} "
        f"ELSE s.{column} + f.{column} END AS {column}"
    )


def _ranked(value: str, rank: str) -> str:
    """Keep the value whose rank is lower (earlier, or from the root span)."""
    return (
        f"CASE WHEN f.{rank} IS NOT NULL AND (s.{rank} IS NULL OR f.{rank} < s.{rank}) "
        f"THEN f.{value} ELSE s.{value} END AS {value}, "
        f"least(s.{rank}, f.{rank}) AS {rank}"
    )


# The batch may hold several deltas for one trace (from several requests):
# they are folded together by the same rules before meeting the stored row.
_FOLD_DELTAS = """
CREATE OR REPLACE TEMP TABLE folded_deltas AS
SELECT project_id, trace_id,
    arg_min(session_id, session_rank) AS session_id, min(session_rank) AS session_rank,
    arg_min(user_id, user_rank) AS user_id, min(user_rank) AS user_rank,
    arg_min(name, name_rank) AS name, min(name_rank) AS name_rank,
    min(start_ns) AS start_ns, max(end_ns) AS end_ns,
    sum(span_count)::BIGINT AS span_count, sum(error_count)::BIGINT AS error_count,
    sum(input_tokens)::BIGINT AS input_tokens, sum(output_tokens)::BIGINT AS output_tokens,
    sum(cost) AS cost,
    list_sort(list_distinct(flatten(list(tags)))) AS tags,
    coalesce(max(metadata) FILTER (WHERE metadata != '{}'), '{}') AS metadata,
    arg_min(input_preview, input_rank) AS input_preview, min(input_rank) AS input_rank,
    arg_min(output_preview, output_rank) AS output_preview, min(output_rank) AS output_rank,
    min(min_seq) AS min_seq, max(max_seq) AS max_seq
FROM trace_batch
GROUP BY project_id, trace_id
"""

# Each folded delta merged with its trace's stored row, if there is one
# (``stored_batch_traces``, see sessions_sql.STORED_BATCH_TRACES). The stored rows are deleted
# and the merged ones inserted: DuckDB's ON CONFLICT DO UPDATE cost 30-75 µs a row.
_MERGE_TRACES = f"""
INSERT INTO traces BY NAME
SELECT f.project_id, f.trace_id,
    {_ranked("session_id", "session_rank")},
    {_ranked("user_id", "user_rank")},
    {_ranked("name", "name_rank")},
    {_ranked("input_preview", "input_rank")},
    {_ranked("output_preview", "output_rank")},
    least(s.start_ns, f.start_ns) AS start_ns,
    greatest(s.end_ns, f.end_ns) AS end_ns,
    coalesce(s.span_count, 0) + f.span_count AS span_count,
    coalesce(s.error_count, 0) + f.error_count AS error_count,
    {_sum("input_tokens")},
    {_sum("output_tokens")},
    {_sum("cost")},
    list_sort(list_distinct(list_concat(coalesce(s.tags, []), f.tags))) AS tags,
    CASE WHEN f.metadata = '{{}}' THEN coalesce(s.metadata, '{{}}') ELSE f.metadata END
        AS metadata,
    least(s.min_seq, f.min_seq) AS min_seq,
    greatest(s.max_seq, f.max_seq) AS max_seq,
    {sessions_sql.trace_key("f.trace_id")} AS trace_key
FROM folded_deltas f LEFT JOIN stored_batch_traces s USING (project_id, trace_id)
"""
_FORGET_STORED = "DELETE FROM traces WHERE rowid IN (SELECT stored_row FROM stored_batch_traces)"


@dataclass(frozen=True, slots=True)
class _Journaled:
    """One write, journaled as entries ``first_id`` to ``last_id`` (``bytes`` of them),
    and the request digests to record for it. Its batches stay in the journal's
    files until they are stored."""

    first_id: int
    last_id: int
    spans: int
    bytes: int
    digests: list[tuple[str, str, int]]


def _first_part(
    taken: Sequence[_Journaled], max_bytes: int = STORE_BYTES, max_writes: int | None = None
) -> Sequence[_Journaled]:
    """The first writes of ``taken`` that hold STORE_SPANS spans (the write that
    reaches it included) but no more than ``max_bytes`` bytes, nor ``max_writes``
    writes; at least one write: what one transaction stores."""
    spans = size = 0
    for count, journaled in enumerate(taken):
        if count and (size + journaled.bytes > max_bytes or count == max_writes):
            return taken[:count]
        spans += journaled.spans
        size += journaled.bytes
        if spans >= STORE_SPANS:
            return taken[: count + 1]
    return taken


class _OutOfMemory(StoreUnavailable):
    """A transaction that failed for lack of the store's memory (it may fit when smaller)."""

    def __init__(self, message: str, cause: str) -> None:
        super().__init__(message)
        self.cause = cause  # DuckDB's own words


_MEMORY_WORDS = ("failed to pin block", "could not allocate block", "Out of Memory")


def _out_of_memory(exc: duckdb.Error) -> bool:
    """Whether a statement failed for lack of the store's memory (and may fit smaller);
    not when DuckDB has stopped using the database (a checkpoint that failed for it)."""
    if _invalidates(exc):
        return False
    message = str(exc)
    return isinstance(exc, duckdb.OutOfMemoryException) or any(
        words in message for words in _MEMORY_WORDS
    )


def _advice(exc: duckdb.Error) -> str:
    """What the operator can do about a failed write."""
    if isinstance(exc, duckdb.OutOfMemoryException) or any(w in str(exc) for w in _MEMORY_WORDS):
        return (
            "The store's memory is too small for the spans it holds: give the server more "
            "--store-memory-mb and restart it; senders should retry."
        )
    return "Free disk space or fix the data directory; senders should retry."


F = TypeVar("F", bound=Callable[..., Any])
Q = TypeVar("Q", SessionQuery, TraceQuery)


def _settled(read: F) -> F:
    """A read that sees every committed span (see ``DuckDBStore._reading``); running
    out of the store's memory, or a database DuckDB stopped using, is StoreUnavailable
    (503), not a server error."""

    @functools.wraps(read)
    def settled(self: DuckDBStore, *args: Any, **kwargs: Any) -> Any:
        try:
            with self._reading():
                return read(self, *args, **kwargs)
        except duckdb.Error as exc:
            if not isinstance(exc, duckdb.OutOfMemoryException):
                self._refused(exc)
                raise
            # Passing: other work holds the store's memory. A retry, not a server error.
            raise StoreUnavailable(
                f"The store ran out of memory answering this ({_first_line(exc)}). Try again "
                "in a moment or narrow the query; the server's --store-memory-mb sets the "
                "store's memory.",
                retry_after=5,
            ) from None

    return cast(F, settled)


class DuckDBStore:
    """The Store protocol on a DuckDB file. Safe to share between threads."""

    def __init__(
        self,
        data_dir: Path,
        memory_mb: int = 256,
        threads: int | None = None,
        unstored_limit: int = UNSTORED_LIMIT_SPANS,
    ) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / DB_FILE
        self._memory_mb = memory_mb
        self._threads = threads
        self._db = _connect(self.path, memory_mb, threads)
        self._local = threading.local()
        # The write lock keeps the journal and the list of batches not yet stored; the
        # store lock is held by whatever changes spans and summaries in DuckDB (storing
        # journaled batches, deletes, checkpoints), taken before the write lock.
        self._write_lock = threading.Lock()
        self._store_lock = threading.Lock()
        # DuckDB stops using a database after a fatal error (a checkpoint that failed
        # on a full disk, say); the store then opens the file again (see _reopen).
        self._reopen_lock = threading.Lock()
        self._invalid = False
        self._generation = 0
        self._journal = Journal(data_dir / JOURNAL_DIR)
        self._quarantine = Quarantine(data_dir / QUARANTINE_DIR)
        self._quarantined = self._quarantine.ids()
        self._part_bytes = min(STORE_BYTES, (memory_mb << 20) // PART_MEMORY_SHARE)
        # Why the last write could not be journaled, and why the last attempt to store
        # journaled batches failed (None: they did not).
        self._journal_failure: str | None = None
        self._write_failure: str | None = None
        self._unstored: list[_Journaled] = []  # journaled and answered, not yet stored
        self._unstored_spans = self._unstored_bytes = 0
        self._unstored_limit = unstored_limit
        self._unstored_since = self._last_write = time.monotonic()
        self._recent_pruned = self._digests_pruned = 0
        try:
            self._migrate()
            self._fold_left_deltas()
            row = _one(self._db.execute("SELECT coalesce(max(seq), 0) FROM spans"))
            self._next_seq = int(row[0]) + 1 if row else 1
            self._replay_journal()
        except BaseException:
            self._db.close()
            raise
        horizon = time.time_ns() - RETRY_WINDOW_NS
        self._recent: dict[tuple[str, str], int] = {
            (project_id, digest): at_ns
            for project_id, digest, at_ns in self._db.execute(
                "SELECT project_id, digest, at_ns FROM request_digests WHERE at_ns >= ?", [horizon]
            ).fetchall()
        }
        for journaled in self._unstored:  # could not be stored yet: still recognised
            self._recent.update(((p, d), at) for p, d, at in journaled.digests)
        self._checkpointed = False  # nothing written since the last idle checkpoint
        self._closing = threading.Event()
        self._storer = threading.Thread(
            target=self._store_in_background, name="lamina-store", daemon=True
        )
        self._storer.start()

    # -- connections ----------------------------------------------------------
    def _cursor(self) -> duckdb.DuckDBPyConnection:
        if self._invalid:
            self._reopen()
        cursor: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if cursor is None or self._local.generation != self._generation:
            cursor = self._db.cursor()
            cursor.execute(f"USE {CATALOG}")
            self._local.cursor = cursor
            self._local.generation = self._generation
        return cursor

    def _failed(self, exc: duckdb.Error) -> None:
        """Note a fatal error: DuckDB will refuse this database from now on."""
        if _invalidates(exc):
            self._invalid = True

    def _commit(self, con: duckdb.DuckDBPyConnection) -> None:
        """COMMIT; a commit that is durable although the checkpoint after it failed
        (a full disk) counts as done, and the store is opened again before the next use."""
        try:
            con.execute("COMMIT")
        except duckdb.Error as exc:
            if "COMMIT succeeded and is durable" not in str(exc):
                raise
            self._invalid = True
            log.warning("saved, but the checkpoint after it failed: %s", _first_line(exc))

    def _reopen(self) -> None:
        """Open the file again after a fatal error. Everything committed is in the
        file or its WAL; when it cannot be opened yet (the disk still full), the
        caller gets StoreUnavailable and the next call tries again."""
        with self._reopen_lock:
            if not self._invalid:
                return
            with contextlib.suppress(duckdb.Error):
                self._db.close()
            try:
                self._db = _connect(self.path, self._memory_mb, self._threads)
            except ConfigError as exc:
                raise StoreUnavailable(
                    f"The store stopped after an error and cannot be opened again yet "
                    f"({exc.message}). Free disk space; it reopens by itself."
                ) from None
            self._generation += 1
            self._invalid = False
            log.warning("the store was opened again after a fatal error")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        try:
            cursor = self._cursor().execute(sql, list(params))
            names = [column[0] for column in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        except duckdb.Error as exc:
            self._refused(exc)
            raise

    def _write(self, sql: str, params: Sequence[Any] = ()) -> None:
        """One statement that changes a small table (projects, keys, users, settings),
        committed on its own. Its commit may be durable although the checkpoint DuckDB
        ran after it failed (the store's memory could not hold a row group of large
        spans): that counts as done, and the store is opened again before the next use
        (a 500 for every later statement, before)."""
        try:
            self._cursor().execute(sql, list(params))
        except duckdb.Error as exc:
            if "COMMIT succeeded and is durable" in str(exc):
                self._invalid = True
                log.warning("saved, but the checkpoint after it failed: %s", _first_line(exc))
                return
            self._refused(exc)
            raise

    def _refused(self, exc: duckdb.Error) -> None:
        """After an error that makes DuckDB refuse the database: StoreUnavailable (503),
        the store opened again on the next use."""
        if _invalidates(exc):
            self._invalid = True
            raise StoreUnavailable(
                f"The store stopped after an error ({_first_line(exc)}); it opens again by "
                "itself. Try again in a moment.",
                retry_after=1,
            ) from None

    def _migrate(self) -> None:
        con = self._db
        tables = {
            row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        }
        if tables and "schema_version" not in tables:  # never write into someone else's file
            raise ConfigError(
                f"{self.path} is a DuckDB database, but not a Lamina data file (it holds "
                f"tables such as {sorted(tables)[0]!r} and no schema version). Point "
                "--data-dir at another directory."
            )
        con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = _one(con.execute("SELECT max(version) FROM schema_version"))
        current = int(row[0]) if row and row[0] is not None else 0
        if current > SCHEMA_VERSION:
            raise ConfigError(
                f"The data directory {self.path.parent} was written by a newer Lamina "
                f"(schema version {current}; this release knows up to {SCHEMA_VERSION}). "
                "Upgrade Lamina, or point --data-dir at another directory."
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            try:
                con.execute("BEGIN TRANSACTION")
                con.execute(MIGRATIONS[version - 1])
                con.execute("INSERT INTO schema_version VALUES (?)", [version])
                con.execute("COMMIT")
            except duckdb.Error as exc:
                _rollback(con)
                raise ConfigError(
                    f"Cannot upgrade the data directory {self.path.parent} to schema version "
                    f"{version} ({_first_line(exc)}). It is unchanged; restore it from a backup "
                    "if it was damaged, or point --data-dir at another directory."
                ) from None

    # -- spans ------------------------------------------------------------------
    def write_spans(self, records: Sequence[SpanRecord]) -> None:
        self.write_columns([to_columns(records)])

    def write_columns(self, batches: Sequence[ColumnBatch]) -> None:
        """Journal column batches (see :mod:`lamina.spans.batch`); once this returns
        they are durable, and every read sees them.

        They are stored in DuckDB later, many writes a transaction (see STORE_SPANS),
        or before the next read (:meth:`_reading`). A batch whose request digest was
        journaled within the last hour is a client's retry after a lost answer: it
        is skipped, not stored twice.
        """
        if self._behind():
            with self._store_lock:  # storing has fallen behind (or fails): wait for it
                if self._behind():
                    self._store_unstored()
        with self._write_lock:
            batches, digests = self._new_requests(batches)
            batches = [batch for batch in batches if batch.count]
            if not batches:
                return
            try:
                last_id, size = self._journal.append(batches)
            except StoreUnavailable as exc:
                self._journal_failure = exc.message
                raise
            self._journal_failure = None
            if not self._unstored:
                self._unstored_since = time.monotonic()
            spans = sum(batch.count for batch in batches)
            journaled = _Journaled(last_id - len(batches) + 1, last_id, spans, size, digests)
            self._unstored.append(journaled)
            self._unstored_spans += journaled.spans
            self._unstored_bytes += journaled.bytes
            for project_id, digest, at_ns in digests:
                self._recent[(project_id, digest)] = at_ns
            self._last_write = time.monotonic()
            self._checkpointed = False

    def _behind(self) -> bool:
        return (
            self._unstored_spans >= self._unstored_limit
            or self._unstored_bytes >= UNSTORED_LIMIT_BYTES
        )

    def _store_in_background(self) -> None:
        """Store journaled batches once enough have gathered, once the oldest has waited
        long enough, or as soon as writes pause; checkpoint when idle."""
        retry_at = 0.0
        while not self._closing.wait(STORE_CHECK_SECONDS):
            now = time.monotonic()
            if now < retry_at:
                continue
            if self._unstored_spans <= 0:
                if not self._checkpointed and now - self._last_write >= CHECKPOINT_IDLE_SECONDS:
                    self._checkpoint_idle()
                continue
            if (
                self._unstored_spans >= STORE_SPANS
                or self._unstored_bytes >= self._part_bytes
                or now - self._unstored_since >= STORE_SECONDS
                or now - self._last_write >= STORE_IDLE_SECONDS
            ):
                # A part a time: a read waiting for the lock needs only what was
                # journaled before it began, and may find it stored after this part.
                with self._store_lock:
                    try:
                        self._store_unstored(one_part=True)
                    except StoreUnavailable as exc:
                        log.warning(
                            "%s They are safe in the journal; trying again in a second.",
                            exc.message,
                        )
                        retry_at = now + 1.0

    def _store_unstored(self, upto: int | None = None, one_part: bool = False) -> None:
        """Store the journaled batches (up to entry ``upto``, or all; or only the first
        part of them) in DuckDB, about STORE_SPANS spans (or the part's share of the
        store's memory, see PART_MEMORY_SHARE) a transaction, forgetting journal
        segments as they are stored; a part that runs out of memory is split, and an
        entry that cannot be stored alone is set aside. The caller holds the store
        lock."""
        with self._write_lock:
            count = len(self._unstored)
            if upto is not None:
                count = next(
                    (i for i, journaled in enumerate(self._unstored) if journaled.last_id > upto),
                    count,
                )
            taken = self._unstored[:count]
            if one_part:
                taken = list(_first_part(taken, self._part_bytes))
            if not taken:
                return
            self._unstored = self._unstored[len(taken) :]
            self._journal.seal()  # what is journaled from now on is in later segments
        failure = "The store could not save spans ({error}). {advice}"
        # A backlog (writes went on while a checkpoint held storing up) is read back
        # and stored a part at a time, so the memory it takes stays that of one part.
        # A part that runs out of memory is halved (see PART_MEMORY_SHARE).
        max_writes: int | None = None
        checkpointed = False
        while taken:
            part = _first_part(taken, self._part_bytes, max_writes)
            try:
                try:
                    with self._transaction(failure) as con:
                        stored = self._store(con, part, self._next_seq)
                        con.execute("UPDATE journal_stored SET entry_id = ?", [part[-1].last_id])
                except _OutOfMemory as exc:
                    log.warning(
                        "Storing %d spans (%.1f MB) ran out of the store's memory (%s); "
                        "storing them in smaller parts.",
                        sum(journaled.spans for journaled in part),
                        sum(journaled.bytes for journaled in part) / 1e6,
                        exc.cause,
                    )
                    if len(part) > 1:
                        max_writes = len(part) // 2
                    elif (
                        part[0].first_id < part[0].last_id
                        and len(entries := self._by_entry(part[0])) > 1
                    ):  # one write of several entries
                        taken[:1] = entries
                        max_writes = max(1, len(entries) // 2)
                    elif not checkpointed:  # what the store holds may make room
                        checkpointed = True
                        if not self._checkpoint_quietly():
                            # The store cannot free what it holds: the entry is not at
                            # fault, and setting it aside would set every one aside.
                            raise StoreUnavailable(exc.message) from None
                    else:
                        self._set_aside(part[0], exc.cause)
                        taken = taken[1:]
                        checkpointed = False
                    continue
            except StoreUnavailable as exc:
                self._write_failure = exc.message
                with self._write_lock:
                    self._unstored[:0] = taken
                raise
            except BaseException:
                with self._write_lock:
                    self._unstored[:0] = taken
                raise
            self._write_failure = None
            checkpointed = False
            taken = taken[len(part) :]
            self._next_seq += stored
            with self._write_lock:
                self._unstored_spans -= sum(journaled.spans for journaled in part)
                self._unstored_bytes -= sum(journaled.bytes for journaled in part)
                self._unstored_since = time.monotonic()  # for what was journaled meanwhile
                self._journal.forget(part[-1].last_id)

    def _by_entry(self, journaled: _Journaled) -> list[_Journaled]:
        """One write's entries as writes of their own (to store them apart), each with
        its request's digest (any other digest goes with the first)."""
        entries = self._journal.entries(journaled.first_id, journaled.last_id)
        if len(entries) < 2:  # damaged on disk meanwhile: left whole
            return [journaled]
        left = list(journaled.digests)
        pieces = []
        for entry_id, batch in entries:
            mine = [d for d in left if d[1] == batch.digest]
            left = [d for d in left if d[1] != batch.digest]
            pieces.append(
                _Journaled(entry_id, entry_id, batch.count, sum(map(len, streams(batch))), mine)
            )
        pieces[0].digests.extend(left)
        with self._write_lock:  # the counts of spans and bytes now go by the pieces
            self._unstored_spans += sum(p.spans for p in pieces) - journaled.spans
            self._unstored_bytes += sum(p.bytes for p in pieces) - journaled.bytes
        return pieces

    def _checkpoint_quietly(self) -> bool:
        """Checkpoint the WAL into the file; whether it could."""
        try:
            self._cursor().execute("CHECKPOINT")
        except duckdb.Error as exc:
            self._failed(exc)
            log.warning("Checkpointing the store failed: %s", _first_line(exc))
            return False
        return True

    def _set_aside(self, journaled: _Journaled, reason: str) -> None:
        """Move a journal entry the store cannot hold (one, or the one left readable of a
        write) into the quarantine and count it as stored, so that the entries after it
        are stored (see lamina.store.duckdb.quarantine)."""
        found = [
            (entry_id, raw)
            for entry_id in range(journaled.first_id, journaled.last_id + 1)
            if (raw := self._journal.raw_entry(entry_id)) is not None
        ]
        if not found:
            log.error(
                "%d acknowledged spans could not be read back from the journal in %s (its "
                "files were changed or damaged on disk).",
                journaled.spans,
                self._journal.directory,
            )
        try:
            paths = [self._quarantine.put(entry_id, raw, reason) for entry_id, raw in found]
        except OSError as exc:
            raise StoreUnavailable(
                "The store could not set aside spans it cannot hold in "
                f"{self._quarantine.directory} ({exc.strerror or exc}). Free disk space; "
                "they are safe in the journal."
            ) from None
        self._quarantined = self._quarantine.ids()
        failure = "The store could not set aside spans it cannot hold ({error})."
        with self._transaction(failure) as con:
            self._record_digests(con, journaled.digests)
            con.execute("UPDATE journal_stored SET entry_id = ?", [journaled.last_id])
        with self._write_lock:
            self._unstored_spans -= journaled.spans
            self._unstored_bytes -= journaled.bytes
            self._journal.forget(journaled.last_id)
        for (entry_id, _), path in zip(found, paths, strict=True):
            log.error(
                "%d acknowledged spans (%.1f MB, one request) do not fit in the store's memory "
                "(%s). They were set aside in %s so that newer spans can be stored: give the "
                "server more --store-memory-mb and run `lamina quarantine retry %d`, or "
                "`lamina quarantine drop %d`.",
                journaled.spans,
                journaled.bytes / 1e6,
                reason,
                path,
                entry_id,
                entry_id,
            )

    def _record_digests(
        self, con: duckdb.DuckDBPyConnection, digests: Sequence[tuple[str, str, int]]
    ) -> None:
        if digests:
            _append(
                con,
                "request_digests",
                pa.table(
                    {
                        "project_id": [d[0] for d in digests],
                        "digest": [d[1] for d in digests],
                        "at_ns": pa.array([d[2] for d in digests], pa.int64()),
                    }
                ),
            )

    def _store(
        self, con: duckdb.DuckDBPyConnection, taken: Sequence[_Journaled], first_seq: int
    ) -> int:
        """Append journaled batches (read back from the journal) and fold their deltas,
        inside the caller's transaction; the spans stored."""
        batch = combine(self._journal.read(taken[0].first_id, taken[-1].last_id), first_seq)
        if batch.count < (expected := sum(journaled.spans for journaled in taken)):
            log.error(
                "%d acknowledged spans could not be read back from the journal in %s (its "
                "files were changed or damaged on disk); storing the other %d.",
                expected - batch.count,
                self._journal.directory,
                batch.count,
            )
        digests = [digest for journaled in taken for digest in journaled.digests]
        now = time.time_ns()
        if now - self._digests_pruned > RETRY_WINDOW_NS // 60:
            con.execute("DELETE FROM request_digests WHERE at_ns < ?", [now - RETRY_WINDOW_NS])
            self._digests_pruned = now
        self._record_digests(con, digests)
        _append(con, "spans", batch.spans)
        self._fold(con, batch.traces)
        return batch.count

    def _replay_journal(self) -> None:
        """Store the journal's entries a crash left unstored (see lamina.store.duckdb.journal)."""
        (stored_id,) = _one(self._db.execute("SELECT entry_id FROM journal_stored"))
        now = time.time_ns()
        for entry_id, batch in self._journal.replay(stored_id):
            project_id = batch.spans.column("project_id")[0].as_py()
            digests = [(project_id, batch.digest, now)] if batch.digest else []
            size = sum(map(len, streams(batch)))
            journaled = _Journaled(entry_id, entry_id, batch.count, size, digests)
            self._unstored.append(journaled)
            self._unstored_spans += journaled.spans
            self._unstored_bytes += journaled.bytes
        if self._unstored:
            spans = self._unstored_spans
            with self._store_lock:
                try:
                    self._store_unstored()
                except StoreUnavailable as exc:
                    log.warning("%s They are safe in the journal.", exc.message)
                    return
            log.info("stored %d spans the journal held from before a crash", spans)
        self._journal.forget(stored_id)

    def _fold_left_deltas(self) -> None:
        """Fold the summary deltas a release before the journal left unfolded."""
        (left,) = _one(self._db.execute("SELECT count(*) FROM pending_traces"))
        if left:
            with self._transaction("The store could not update its summaries ({error}).") as con:
                self._fold(con, con.sql("SELECT * FROM pending_traces").to_arrow_table())
                con.execute("DELETE FROM pending_traces")

    def _checkpoint_idle(self) -> None:
        """Checkpoint the WAL into the file while nothing is being written, if what it
        would free is worth it (see CHECKPOINT_IDLE_SECONDS). A failure is left for the
        next automatic checkpoint."""
        with self._store_lock:  # a checkpoint waits for open transactions
            if (
                self._unstored_spans > 0
                or time.monotonic() - self._last_write < CHECKPOINT_IDLE_SECONDS
            ):
                return  # a write came in meanwhile
            try:
                con = self._cursor()
                (held,) = _one(con.execute(_HELD_UNTIL_CHECKPOINT))
                if held > CHECKPOINT_MEMORY_SHARE * self._memory_mb * 2**20:
                    con.execute("CHECKPOINT")
            except duckdb.Error as exc:
                self._failed(exc)
                log.warning("Checkpointing the store while idle failed: %s", _first_line(exc))
            self._checkpointed = True

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """Reads see every journaled span: journaled batches are stored first.

        When they cannot be stored (a full disk, say), they are stored inside the
        read's own transaction instead and rolled back after the read, so the answer
        is still complete; the spans themselves are safe in the journal either way."""
        if self._unstored_spans <= 0:
            yield
            return
        # What was journaled before this read began; what comes while it waits for the
        # store lock (storing may be under way) is left to the next.
        upto = self._journal.last_id
        with self._store_lock:
            try:
                self._store_unstored(upto)
            except StoreUnavailable as exc:
                log.warning("%s Reading with them stored for this read only.", exc.message)
                with self._write_lock:
                    self._journal.seal()  # what this read stores is in sealed segments
                    taken = list(self._unstored)
                con = self._cursor()
                con.execute("BEGIN TRANSACTION")
                try:
                    try:
                        self._store(con, taken, self._next_seq)
                    except duckdb.Error as error:
                        self._failed(error)
                        raise StoreUnavailable(
                            f"The store cannot show the newest spans ({_first_line(error)}). "
                            "They are safe in its journal; try again in a moment."
                        ) from None
                    yield
                finally:
                    _rollback(con)
                return
        yield

    @contextlib.contextmanager
    def _transaction(self, failure: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """One write transaction on this thread's cursor, committed at the end. A DuckDB
        error rolls it back and becomes StoreUnavailable with ``failure`` (``{error}``
        in it is replaced by DuckDB's first line)."""
        con = self._cursor()
        try:
            con.execute("BEGIN TRANSACTION")
            yield con
            self._commit(con)
        except duckdb.Error as exc:
            self._failed(exc)
            _rollback(con)
            message = failure.format(error=_first_line(exc), advice=_advice(exc))
            if _out_of_memory(exc):
                raise _OutOfMemory(message, _first_line(exc)) from None
            raise StoreUnavailable(message) from None
        except BaseException:
            _rollback(con)
            raise

    def _fold(self, con: duckdb.DuckDBPyConnection, deltas: pa.Table) -> None:
        """Merge summary deltas into ``traces`` and refresh the sessions they touch,
        inside the caller's transaction."""
        traces = self._merge_metadata(con, deltas)
        con.register("trace_batch", traces)
        try:
            rows = [row for (row,) in con.execute(sessions_sql.FIND_STORED).fetchall()]
            span = [rows[0], rows[-1]] if rows else [1, 0]  # none: an empty range
            con.execute(sessions_sql.STORED_BATCH_TRACES, [*span, rows])
            con.execute(sessions_sql.TOUCHED_SESSIONS)
            (since,) = _one(con.execute(sessions_sql.REFRESH_SINCE))
            con.execute(_FOLD_DELTAS)
            (stored,) = _one(con.execute("SELECT count(*) FROM stored_batch_traces"))
            if stored:
                con.execute(_FORGET_STORED)
            con.execute(_MERGE_TRACES)
            if since is not None:  # None: the batch touches no session
                _refresh_sessions(con, since)
        finally:
            with contextlib.suppress(duckdb.Error):  # an aborted transaction: keep its error
                con.unregister("trace_batch")

    def _new_requests(
        self, batches: Sequence[ColumnBatch]
    ) -> tuple[list[ColumnBatch], list[tuple[str, str, int]]]:
        """The batches not journaled before, and the digests to record for them."""
        now = time.time_ns()
        if now - self._recent_pruned > RETRY_WINDOW_NS // 60:
            horizon = now - RETRY_WINDOW_NS
            self._recent = {key: at for key, at in self._recent.items() if at >= horizon}
            self._recent_pruned = now
        fresh: list[ColumnBatch] = []
        digests: list[tuple[str, str, int]] = []
        seen: set[tuple[str, str]] = set()
        for batch in batches:
            if batch.digest is None or batch.count == 0:
                fresh.append(batch)
                continue
            project_id = batch.spans.column("project_id")[0].as_py()
            key = (project_id, batch.digest)
            if key in self._recent or key in seen:
                continue
            seen.add(key)
            fresh.append(batch)
            digests.append((project_id, batch.digest, now))
        return fresh, digests

    @staticmethod
    def _merge_metadata(con: duckdb.DuckDBPyConnection, traces: pa.Table) -> pa.Table:
        """Resolve metadata key by key across the batch's deltas and the stored rows.

        Every delta row of a trace then carries the same, final metadata, and the
        upsert keeps it: per-key ranks decide, so arrival order cannot matter.
        Only rows that carry metadata are touched, in Python.
        """
        column = traces.column("metadata").to_pylist()
        rows = [i for i, text in enumerate(column) if text != "{}"]
        if not rows:
            return traces
        project_ids = traces.column("project_id")
        trace_ids = traces.column("trace_id")
        merged: dict[tuple[str, str], str] = {}
        for i in rows:
            key = (project_ids[i].as_py(), trace_ids[i].as_py())
            held = merged.get(key)
            merged[key] = column[i] if held is None else merge_metadata(held, column[i])
        keys = pa.table({"project_id": [k[0] for k in merged], "trace_id": [k[1] for k in merged]})
        con.register("metadata_keys", keys)
        try:
            stored = con.execute(
                "SELECT t.project_id, t.trace_id, t.metadata FROM traces t "
                "JOIN metadata_keys k USING (project_id, trace_id) WHERE t.metadata != '{}'"
            ).fetchall()
        finally:
            con.unregister("metadata_keys")
        for project_id, trace_id, metadata in stored:
            key = (project_id, trace_id)
            merged[key] = merge_metadata(metadata, merged[key])
        for i in rows:
            column[i] = merged[(project_ids[i].as_py(), trace_ids[i].as_py())]
        index = traces.schema.get_field_index("metadata")
        return traces.set_column(index, "metadata", pa.array(column, pa.string()))

    @_settled
    def list_sessions(self, project_id: str, query: SessionQuery) -> Page[Row]:
        rows: list[dict[str, Any]] = []
        if sessions_sql.reads_costliest(query):
            rows = self._query(
                *sessions_sql.list_sessions(project_id, query, table="costliest_sessions")
            )
        if len(rows) <= query.limit:  # not a full page there: it may lie past them
            rows = self._windowed_search("sessions", sessions_sql.list_sessions, project_id, query)
        return page([session_row(row) for row in rows], query.limit, query.sort, "session_id")

    @_settled
    def count_sessions(self, project_id: str, query: SessionQuery, up_to: int) -> int:
        row = _one(self._cursor().execute(*sessions_sql.count_sessions(project_id, query, up_to)))
        return int(row[0]) if row else 0

    @_settled
    def session_spans(self, project_id: str, session_id: str, limit: int) -> list[Row]:
        traces = self._query(sessions_sql.SESSION_TRACE_SEQS, [session_id, project_id])
        if not traces:
            return []
        rows = self._query(*sessions_sql.session_spans(project_id, traces, limit))
        return [outline_row(row) for row in rows]

    @_settled
    def get_session(self, project_id: str, session_id: str) -> Row | None:
        sql, params = sessions_sql.one_session(project_id, session_id)
        rows = self._query(sql, params)
        if not rows:
            return None
        session = session_row(rows[0])
        traces = self._query(
            sessions_sql.by_id(
                "traces", "session_id", sessions_sql.TRACE_FIELDS, "ORDER BY start_ns, trace_id"
            ),
            [session_id, project_id],
        )
        session["traces"] = [_trace_row(row) for row in traces]
        return session

    @_settled
    def list_traces(self, project_id: str, query: TraceQuery) -> Page[Row]:
        rows = self._windowed_search("traces", sessions_sql.list_traces, project_id, query)
        return page([_trace_row(row) for row in rows], query.limit, query.sort, "trace_id")

    def _windowed_search(
        self,
        table: str,
        build: Callable[[str, Q, int | None], tuple[str, list[Any]]],
        project_id: str,
        query: Q,
    ) -> list[dict[str, Any]]:
        """A page of ``table``, searched newest first when that is the order asked for.

        Searching means scanning span payloads, so a search for the newest matches
        first looks only at the rows that started since the start of the
        ``SEARCH_WINDOW``-th newest one (and at their spans, which started later
        still, so DuckDB's zone maps on ``spans.start_ns`` skip the rest), then at
        windows eight times as wide, and at last at everything. A window holding a
        full page of matches is the exact answer: every row outside it started
        earlier than all of them."""
        windowed = query.q is not None and query.sort == "start_time" and query.descending
        rank = SEARCH_WINDOW * (query.limit + 1)
        while windowed:
            sql, params = sessions_sql.search_window(
                table, project_id, query.cursor.value if query.cursor else None, rank
            )
            row = _one(self._cursor().execute(sql, params))
            if row is None:
                break
            rows = self._query(*build(project_id, query, row[0]))
            if len(rows) > query.limit:
                return rows
            rank *= 8
        return self._query(*build(project_id, query, None))

    @_settled
    def get_trace(self, project_id: str, trace_id: str) -> Row | None:
        rows = self._query(
            sessions_sql.by_id(
                "traces", "trace_id", f"{sessions_sql.TRACE_FIELDS}, min_seq, max_seq"
            ),
            [trace_id, project_id],
        )
        if not rows:
            return None
        trace = _trace_row(rows[0])
        where = "seq BETWEEN ? AND ? AND project_id = ? AND trace_id = ?"
        params = [rows[0]["min_seq"], rows[0]["max_seq"], project_id, trace_id]
        try:
            spans = self._query(
                f"SELECT {_CUT_SPAN_FIELDS} FROM spans WHERE {where} ORDER BY start_ns, seq",
                params,
            )
        except duckdb.OutOfMemoryException:
            # A scan holds the whole text of the rows it reads together (6 spans of
            # 12 MB did not fit in 64 MB): read them one at a time, each value cut.
            seqs = self._query(
                f"SELECT seq FROM spans WHERE {where} ORDER BY start_ns, seq", params
            )
            spans = [
                span
                for row in seqs
                for span in self._query(
                    f"SELECT {_CUT_SPAN_FIELDS} FROM spans WHERE seq = ? AND project_id = ?",
                    [row["seq"], project_id],
                )
            ]
        trace["spans"] = [cut_span_row(row) for row in spans]
        return trace

    @_settled
    def span_value(self, project_id: str, trace_id: str, span_id: str, field: str) -> Row | None:
        if field not in LARGE_FIELDS:
            return None
        rows = self._query(
            sessions_sql.by_id("traces", "trace_id", "min_seq, max_seq"), [trace_id, project_id]
        )
        if not rows:
            return None
        found = self._query(
            f"SELECT {field} AS value FROM spans WHERE seq BETWEEN ? AND ? AND project_id = ? "
            "AND trace_id = ? AND span_id = ? LIMIT 1",
            [rows[0]["min_seq"], rows[0]["max_seq"], project_id, trace_id, span_id],
        )
        if not found:
            return None
        value = whole_value(field, found[0]["value"])
        return {"trace_id": trace_id, "span_id": span_id, "field": field, "value": value}

    @_settled
    def count_spans(self, project_id: str | None = None) -> int:
        if project_id is None:
            row = _one(self._cursor().execute("SELECT count(*) FROM spans"))
        else:
            row = _one(
                self._cursor().execute(
                    "SELECT count(*) FROM spans WHERE project_id = ?", [project_id]
                )
            )
        return int(row[0]) if row else 0

    # -- data lifecycle ---------------------------------------------------------------
    def delete_trace(self, project_id: str, trace_id: str) -> Deleted:
        return self._delete_traces(project_id, "trace_id = ?", [trace_id])

    def delete_session(self, project_id: str, session_id: str) -> Deleted:
        return self._delete_traces(project_id, "session_id = ?", [session_id])

    def delete_before(self, project_id: str, before_ns: int) -> Deleted:
        return self._delete_traces(project_id, "end_ns < ?", [before_ns])

    def _delete_traces(self, project_id: str, where: str, params: list[Any]) -> Deleted:
        """The project's traces matching ``where``, their spans, and a refresh of the
        sessions they were in, in one transaction (spans found by sequence range)."""
        with self._store_lock:
            self._store_unstored()
            with self._transaction("The store could not delete ({error}).") as con:
                con.execute(
                    "CREATE OR REPLACE TEMP TABLE doomed AS SELECT trace_id, session_id, "
                    f"min_seq, max_seq FROM traces WHERE project_id = ? AND {where}",
                    [project_id, *params],
                )
                row = con.execute("SELECT count(*), min(min_seq), max(max_seq) FROM doomed")
                traces, low, high = _one(row) or (0, None, None)
                spans = 0
                if traces:
                    deleted = _one(
                        con.execute(
                            "DELETE FROM spans WHERE seq BETWEEN ? AND ? AND project_id = ? "
                            "AND trace_id IN (SELECT trace_id FROM doomed)",
                            [low, high, project_id],
                        )
                    )
                    spans = int(deleted[0]) if deleted else 0
                    con.execute(
                        "CREATE OR REPLACE TEMP TABLE touched_sessions AS SELECT DISTINCT "
                        "? AS project_id, session_id FROM doomed WHERE session_id IS NOT NULL",
                        [project_id],
                    )
                    con.execute(
                        "DELETE FROM traces WHERE project_id = ? "
                        "AND trace_id IN (SELECT trace_id FROM doomed)",
                        [project_id],
                    )
                    _refresh_sessions(con, -(2**63))  # from all their traces
                con.execute("DROP TABLE doomed")
        return Deleted(int(traces), spans)

    def delete_project(self, project_id: str) -> Deleted:
        with self._store_lock:
            self._store_unstored()
            with self._transaction("The store could not delete ({error}).") as con:
                row = con.execute("SELECT count(*) FROM traces WHERE project_id = ?", [project_id])
                traces = (_one(row) or (0,))[0]
                row = con.execute("DELETE FROM spans WHERE project_id = ?", [project_id])
                spans = (_one(row) or (0,))[0]
                for table in (
                    "traces",
                    "sessions",
                    "costliest_sessions",
                    "api_keys",
                    "request_digests",
                ):
                    con.execute(f"DELETE FROM {table} WHERE project_id = ?", [project_id])
                con.execute("DELETE FROM projects WHERE id = ?", [project_id])
        return Deleted(int(traces), int(spans))

    def set_retention(self, project_id: str, days: int | None) -> Project | None:
        self._write("UPDATE projects SET retention_days = ? WHERE id = ?", [days, project_id])
        return self.find_project(project_id)

    @_settled
    def export_page(
        self,
        project_id: str,
        kind: str,
        after: str | None = None,
        limit: int = 1000,
        session_id: str | None = None,
        max_bytes: int | None = None,
    ) -> Page[Row]:
        params: list[Any] = [project_id]
        if kind == "spans":
            key, convert = "seq", span_row
            source = "FROM spans WHERE project_id = ?"
            if session_id is not None:
                source += " AND trace_id IN (SELECT trace_id FROM traces WHERE project_id = ? "
                source += "AND session_id = ?)"
                params += [project_id, session_id]
            if max_bytes is not None:
                return self._span_page(source, params, after, limit, max_bytes)
            sql = f"SELECT seq, trace_id, {sessions_sql.SPAN_FIELDS} {source}"
        elif kind in ("traces", "sessions"):
            fields = sessions_sql.TRACE_FIELDS if kind == "traces" else sessions_sql.SESSION_FIELDS
            key = "trace_id" if kind == "traces" else "session_id"
            convert = _trace_row if kind == "traces" else session_row
            sql = f"SELECT {fields} FROM {kind} WHERE project_id = ?"
            if session_id is not None:
                sql += " AND session_id = ?"
                params.append(session_id)
        else:
            raise BadRequest(f"Cannot export {kind!r}: choose sessions, traces or spans.")
        if after is not None:
            sql += f" AND {key} > ?"
            if key == "seq":
                if not after.isdigit():
                    raise InvalidCursor(f"Not a cursor of a spans export: {after!r}.")
                params.append(int(after))
            else:
                params.append(after)
        rows = self._query(f"{sql} ORDER BY {key} LIMIT ?", [*params, limit + 1])
        cursor = str(rows[limit - 1][key]) if len(rows) > limit else None
        items = []
        for row in rows[:limit]:
            row.pop("seq", None)
            items.append(convert(row))
        return Page(items, cursor)

    def _span_page(
        self, source: str, params: list[Any], after: str | None, limit: int, max_bytes: int
    ) -> Page[Row]:
        """The next spans of ``source`` (``FROM spans WHERE ...``), as many as fit in
        ``max_bytes`` of text (at least one, at most ``limit``). Their sizes are read
        first, a few spans at a time, then only those spans: neither the store nor the
        page holds much more than ``max_bytes``, however large the spans are."""
        if after is not None:
            if not after.isdigit():
                raise InvalidCursor(f"Not a cursor of a spans export: {after!r}.")
            source += " AND seq > ?"
            params = [*params, int(after)]
        found = self._query(f"SELECT seq {source} ORDER BY seq LIMIT ?", [*params, limit + 1])
        seqs = [row["seq"] for row in found]
        if not seqs:
            return Page([], None)
        cut, used, window, largest = 0, 0, _SIZE_WINDOW, 1
        while cut < min(limit, len(seqs)) and used < max_bytes:
            ahead = seqs[cut : min(limit, cut + window)]
            try:
                sizes = self._query(
                    f"SELECT {_SPAN_BYTES} AS size {source} AND seq BETWEEN ? AND ? ORDER BY seq",
                    [*params, ahead[0], ahead[-1]],
                )
            except duckdb.OutOfMemoryException:
                if window == 1:
                    raise
                window = max(1, window // 4)  # larger spans than those before them
                continue
            for row in sizes:
                if cut and used + row["size"] > max_bytes:
                    used = max_bytes
                    break
                used += row["size"]
                largest = max(largest, row["size"])
                cut += 1
            window = max(1, min(2 * window, 2 * (max_bytes - used) // largest))
        last = seqs[cut - 1]
        fields = f"SELECT seq, trace_id, {sessions_sql.SPAN_FIELDS}"
        rows = self._query(f"{fields} {source} AND seq <= ? ORDER BY seq", [*params, last])
        items = []
        for row in rows:
            row.pop("seq", None)
            items.append(span_row(row))
        return Page(items, str(last) if cut < len(seqs) else None)

    # -- the health of writes, and entries set aside -----------------------------------
    def write_failure(self) -> str | None:
        """Why acknowledged spans cannot be stored now (None while they can): the
        server's /healthz answers 503 with it."""
        if self._journal_failure is not None:
            return self._journal_failure
        return self._write_failure if self._unstored_spans > 0 else None

    def quarantined_ids(self) -> list[str]:
        """The ids of the journal entries set aside (see lamina.store.duckdb.quarantine)."""
        return list(self._quarantined)

    def list_quarantined(self) -> list[Quarantined]:
        with self._store_lock:  # never a file being written
            return self._quarantine.entries()

    def retry_quarantined(self, entry_id: str) -> Quarantined:
        """Journal an entry set aside again, then delete its file: stored as any write
        (and set aside again if it still does not fit)."""
        with self._store_lock:
            found = next((e for e in self._quarantine.entries() if e.id == entry_id), None)
            batches = self._quarantine.read(entry_id)
        assert found is not None
        # Recognised as a retry if this runs twice before the file is gone.
        again = [
            ColumnBatch(batch.spans, batch.traces, f"quarantine-{entry_id}-{n}", batch.ipc)
            for n, batch in enumerate(batches)
        ]
        self.write_columns(again)
        with self._store_lock:
            self._quarantine.drop(entry_id)
            self._quarantined = self._quarantine.ids()
        log.warning("%d spans set aside as entry %s were journaled again", found.spans, entry_id)
        return found

    def drop_quarantined(self, entry_id: str) -> Quarantined:
        """Delete an entry set aside, and its spans with it."""
        with self._store_lock:
            found = next((e for e in self._quarantine.entries() if e.id == entry_id), None)
            self._quarantine.drop(entry_id)
            self._quarantined = self._quarantine.ids()
        assert found is not None
        log.warning("%d spans set aside as entry %s were deleted", found.spans, entry_id)
        return found

    # -- projects and keys ----------------------------------------------------------
    def create_project(self, name: str) -> Project:
        project = Project(id=new_id("prj"), name=name, created_ns=time.time_ns())
        try:
            self._write(
                "INSERT INTO projects (id, name, created_ns) VALUES (?, ?, ?)",
                [project.id, project.name, project.created_ns],
            )
        except duckdb.ConstraintException:
            raise Conflict(f'A project named "{name}" already exists.') from None
        return project

    def list_projects(self) -> list[Project]:
        rows = self._query(f"SELECT {_PROJECT} FROM projects ORDER BY created_ns, id")
        return [Project(**row) for row in rows]

    def find_project(self, name_or_id: str) -> Project | None:
        rows = self._query(
            f"SELECT {_PROJECT} FROM projects WHERE id = ? OR name = ? "
            "ORDER BY id = ? DESC LIMIT 1",
            [name_or_id, name_or_id, name_or_id],
        )
        return Project(**rows[0]) if rows else None

    def create_key(self, project_id: str, name: str, key_hash: str, prefix: str) -> ApiKey:
        key = ApiKey(
            id=new_id("key"),
            project_id=project_id,
            name=name,
            prefix=prefix,
            created_ns=time.time_ns(),
            revoked_ns=None,
        )
        self._write(
            "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, NULL)",
            [key.id, key.project_id, key.name, key_hash, key.prefix, key.created_ns],
        )
        return key

    def list_keys(self, project_id: str | None = None) -> list[ApiKey]:
        sql = "SELECT id, project_id, name, prefix, created_ns, revoked_ns FROM api_keys"
        params: list[Any] = []
        if project_id is not None:
            sql += " WHERE project_id = ?"
            params.append(project_id)
        return [ApiKey(**row) for row in self._query(sql + " ORDER BY created_ns, id", params)]

    def revoke_key(self, key_id: str) -> ApiKey | None:
        self._write(
            "UPDATE api_keys SET revoked_ns = ? WHERE id = ? AND revoked_ns IS NULL",
            [time.time_ns(), key_id],
        )
        rows = self._query(
            "SELECT id, project_id, name, prefix, created_ns, revoked_ns FROM api_keys "
            "WHERE id = ?",
            [key_id],
        )
        return ApiKey(**rows[0]) if rows else None

    def project_for_key(self, key_hash: str) -> str | None:
        rows = self._query(
            "SELECT project_id FROM api_keys WHERE key_hash = ? AND revoked_ns IS NULL",
            [key_hash],
        )
        return str(rows[0]["project_id"]) if rows else None

    # -- users -------------------------------------------------------------------------
    def create_user(self, email: str, password_hash: str, is_admin: bool) -> User:
        user = User(
            id=new_id("usr"),
            email=email,
            password_hash=password_hash,
            is_admin=is_admin,
            created_ns=time.time_ns(),
        )
        try:
            self._write(
                "INSERT INTO users VALUES (?, ?, ?, ?, ?)",
                [user.id, user.email, user.password_hash, user.is_admin, user.created_ns],
            )
        except duckdb.ConstraintException:
            raise Conflict(f"A user with the email {email} already exists.") from None
        return user

    def find_user(self, email_or_id: str) -> User | None:
        rows = self._query(
            "SELECT id, email, password_hash, is_admin, created_ns FROM users "
            "WHERE id = ? OR lower(email) = lower(?) LIMIT 1",
            [email_or_id, email_or_id],
        )
        return User(**rows[0]) if rows else None

    def list_users(self) -> list[User]:
        rows = self._query(
            "SELECT id, email, password_hash, is_admin, created_ns FROM users ORDER BY created_ns"
        )
        return [User(**row) for row in rows]

    # -- settings ------------------------------------------------------------------------
    def get_setting(self, name: str) -> str | None:
        rows = self._query("SELECT value FROM settings WHERE name = ?", [name])
        return str(rows[0]["value"]) if rows else None

    def set_setting(self, name: str, value: str) -> None:
        self._write(
            "INSERT INTO settings VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = ?",
            [name, value, value],
        )

    def close(self) -> None:
        self._closing.set()
        if self._storer is not threading.current_thread():
            self._storer.join()
        with self._store_lock:
            with contextlib.suppress(StoreUnavailable):  # stored from the journal next time
                self._store_unstored()
            with self._write_lock:
                self._journal.close()
            with contextlib.suppress(duckdb.Error):  # the WAL still holds every commit
                self._db.execute("CHECKPOINT")
            self._db.close()


def _connect(path: Path, memory_mb: int, threads: int | None) -> duckdb.DuckDBPyConnection:
    config: dict[str, str | bool | int | float | list[str]] = {
        "memory_limit": f"{memory_mb}MB",
        "temp_directory": str(path.parent / "tmp"),
        # Data not yet checkpointed is held in memory: with less memory than the
        # threshold, every write failed ("failed to pin block") once the WAL neared it.
        # Since the journal, a transaction stores 25-32k spans and DuckDB writes their
        # full row groups straight into the file, so the WAL holds little but the
        # summaries' changes. At 128 MB (chosen when every small commit went through
        # the WAL) its rare, large checkpoints took the server's peak RSS to 611-663 MB
        # in the 1M-span benchmark and made the first read after it wait 5.6 s; at
        # 32 MB, 560-594 MB and under a second, at the same ingest rate.
        "checkpoint_threshold": f"{max(16, min(32, memory_mb // 8))}MB",
        # A page of a list is a Top-N query; DuckDB reads the sort key first and fetches
        # only the page's rows ("late materialization") up to this many rows, 50 by
        # default, one fewer than a page of 50 asks for (it reads one more to know
        # whether another page follows). At 59k sessions: 12.4 -> 6.1 ms by cost.
        "late_materialization_max_rows": MAX_LIMIT + 1,
        # A file of another kind (SQLite, say) must be refused, not fetch an extension.
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    }
    if threads is not None:
        config["threads"] = threads
    try:
        con = duckdb.connect(":memory:", config=config)
        try:
            # DuckDB compresses long text (4 KB on average and up) with ZSTD, and a read
            # of even one such row decompresses its whole vector of 2,048 rows: spans of
            # 150 KB needed 256-512 MiB for one, so at 256 MB no read of them (a trace,
            # an export) could finish, and a 50-span export page took 1.3 s. Without
            # it such text is stored as it is (2000 x 150 KB: 418 MB of file instead
            # of 278), read a row at a time. Set before any file is attached (the
            # connect config does not take it).
            con.execute("SET disabled_compression_methods = 'zstd'")
            con.execute(
                f"ATTACH '{_quoted(str(path))}' AS {CATALOG} (ROW_GROUP_SIZE {ROW_GROUP_ROWS})"
            )
            con.execute(f"USE {CATALOG}")
        except duckdb.Error:
            con.close()  # a store that cannot open yet is retried: leave nothing behind
            raise
        return con
    except duckdb.IOException as exc:
        message = str(exc)
        if "lock" in message.lower():
            raise ConfigError(
                f"Another process has the data directory {path.parent} open (usually a running "
                "`lamina serve`). Stop it, or run this command while the server is running so "
                "it can go through the server."
            ) from None
        if any(word in message for word in ("Permission denied", "No space", "Read-only")):
            raise ConfigError(f"Cannot open the store at {path}: {_first_line(exc)}") from None
        raise ConfigError(
            f"{path} is not a Lamina data file, or it is damaged ({_first_line(exc)}). "
            "Point --data-dir at another directory, or restore it from a backup."
        ) from None
    except duckdb.Error as exc:
        raise ConfigError(
            f"{path} is not a Lamina data file, or it is damaged ({_first_line(exc)}). "
            "Point --data-dir at another directory, or restore it from a backup."
        ) from None


def _refresh_sessions(con: duckdb.DuckDBPyConnection, since: int) -> None:
    """Recompute the summaries of the touched sessions (``touched_sessions``) from
    their traces that started at ``since`` or later, and keep the costliest sessions
    of their projects (see sessions_sql.COSTLIEST_KEPT)."""
    kept = sessions_sql.COSTLIEST_KEPT
    con.execute(sessions_sql.FORGET_TOUCHED)
    con.execute(sessions_sql.REFRESH_SESSIONS, [since])
    con.execute(sessions_sql.STORE_REFRESHED)
    con.execute(sessions_sql.COST_FLOORS, [kept])
    con.execute(sessions_sql.FORGET_TOUCHED_COSTLIEST)
    con.execute(sessions_sql.KEEP_COSTLIEST)
    con.execute(sessions_sql.TRIM_COSTLIEST, [kept])
    for (project_id,) in con.execute(sessions_sql.SHORT_OF_COSTLIEST, [kept]).fetchall():
        con.execute(sessions_sql.FORGET_COSTLIEST, [project_id])
        con.execute(sessions_sql.REBUILD_COSTLIEST, [project_id, kept])


def _invalidates(exc: duckdb.Error) -> bool:
    """Whether DuckDB refuses the database after this error until it is attached again
    (a fatal error; for an attached file, an I/O error that says so)."""
    return isinstance(exc, duckdb.FatalException) or "has been invalidated" in str(exc)


def _quoted(text: str) -> str:
    return text.replace("'", "''")


def _append(con: duckdb.DuckDBPyConnection, table: str, rows: pa.Table) -> None:
    """Append an Arrow table's rows to a table of the same columns, in one statement."""
    con.register("rows_to_append", rows)
    try:
        con.execute(f"INSERT INTO {table} SELECT * FROM rows_to_append")
    finally:
        with contextlib.suppress(duckdb.Error):  # an aborted transaction: keep its error
            con.unregister("rows_to_append")


def _one(result: duckdb.DuckDBPyConnection) -> Any:
    """The first row of a result, reading it to the end: a result left unfinished
    (``fetchone``) keeps its transaction open, and while one is open DuckDB never
    checkpoints its WAL (it reached 8 GB at 5M spans)."""
    rows = result.fetchall()
    return rows[0] if rows else None


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):
        con.execute("ROLLBACK")


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _trace_row(row: dict[str, Any]) -> Row:
    out = dict(row)
    out.pop("min_seq", None)
    out.pop("max_seq", None)
    out["duration_ms"] = duration_ms(row)
    out["status"] = "error" if row["error_count"] else "ok"
    out["total_tokens"] = total_tokens(row)
    out["tags"] = list(row["tags"] or [])
    out["metadata"] = plain_metadata(parse_json(row["metadata"], {}))
    return out
