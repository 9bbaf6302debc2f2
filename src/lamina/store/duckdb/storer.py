"""The storer: journals each write, and stores journaled writes in DuckDB later.

A write is appended to the journal and synced (lamina.store.duckdb.journal), and
answered; a background thread stores the backlog (lamina.store.duckdb.backlog) in
large transactions of column-wise Arrow appends, a part a transaction: the spans
(their long values kept apart, lamina.store.duckdb.values), and one summary delta per
trace they touch folded into ``traces`` and ``sessions`` (lamina.store.duckdb.fold).
A read first has what was journaled before it stored (:meth:`Storer.reading`). A part
that runs out of the store's memory is halved, and a journal entry that cannot be
stored alone is set aside (lamina.store.duckdb.quarantine) so that the next ones flow.
On opening, what a crash left in the journal is stored.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb

from lamina.errors import StoreUnavailable
from lamina.spans.batch import ColumnBatch, combine, streams
from lamina.store.duckdb.backlog import Backlog, Journaled, by_entry, first_part
from lamina.store.duckdb.connection import (
    Connection,
    OutOfMemory,
    append,
    first_line,
    one,
    rollback,
)
from lamina.store.duckdb.fold import changed_hours, fold_deltas
from lamina.store.duckdb.journal import Journal
from lamina.store.duckdb.quarantine import Quarantine
from lamina.store.duckdb.retries import (
    RETRY_WINDOW_NS,
    Retries,
    forget_digests,
    record_digests,
)
from lamina.store.duckdb.scores import resolve_trace_sessions
from lamina.store.duckdb.values import split

JOURNAL_DIR = "journal"
QUARANTINE_DIR = "quarantine"
log = logging.getLogger("lamina.store")
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
# Once writes have paused this long, the WAL is checkpointed into the file if what
# it holds is worth it (see lamina.store.duckdb.connection.CHECKPOINT_MEMORY_SHARE).
CHECKPOINT_IDLE_SECONDS = 2.0


class Storer:
    """The journal, the backlog and the thread that stores it. Safe to share between
    threads: the write lock keeps the journal and the backlog; the store lock is held
    by whatever changes spans and summaries in DuckDB (storing journaled batches,
    deletes, checkpoints), taken before the write lock."""

    def __init__(
        self, connection: Connection, data_dir: Path, unstored_limit: int = UNSTORED_LIMIT_SPANS
    ) -> None:
        self._connection = connection
        self._write_lock = threading.Lock()
        self.store_lock = threading.Lock()
        self._journal = Journal(data_dir / JOURNAL_DIR)
        self.quarantine = Quarantine(data_dir / QUARANTINE_DIR)
        self.quarantined = self.quarantine.ids()
        self._part_bytes = min(STORE_BYTES, (connection.memory_mb << 20) // PART_MEMORY_SHARE)
        # Why the last write could not be journaled, and why the last attempt to store
        # journaled batches failed (None: they did not).
        self._journal_failure: str | None = None
        self._write_failure: str | None = None
        self.backlog = Backlog()
        self._unstored_limit = unstored_limit
        self._last_write = time.monotonic()
        self._digests_pruned = 0
        db = connection.db
        self._fold_left_deltas()
        row = one(db.execute("SELECT coalesce(max(seq), 0) FROM spans"))
        self._next_seq = int(row[0]) + 1 if row else 1
        self._replay_journal()
        # Those that could not be stored yet are still recognised.
        unstored = [digest for journaled in self.backlog.writes for digest in journaled.digests]
        self._retries = Retries(db, unstored)
        self._checkpointed = False  # nothing written since the last idle checkpoint
        self.idle_checks = 0  # pauses in writes that found what to checkpoint, if any
        self._closing = threading.Event()
        self._thread = threading.Thread(
            target=self._store_in_background, name="lamina-store", daemon=True
        )
        self._thread.start()

    def write(self, batches: Sequence[ColumnBatch]) -> None:
        """Journal column batches; once this returns they are durable. A batch whose
        request digest was journaled within the last hour is a client's retry after a
        lost answer (lamina.store.duckdb.retries): it is skipped, not stored twice."""
        if self._behind():
            with self.store_lock:  # storing has fallen behind (or fails): wait for it
                if self._behind():
                    self.store_unstored()
        with self._write_lock:
            batches, digests = self._retries.fresh(batches)
            batches = [batch for batch in batches if batch.count]
            if not batches:
                return
            try:
                last_id, size = self._journal.append(batches)
            except StoreUnavailable as exc:
                self._journal_failure = exc.message
                raise
            self._journal_failure = None
            spans = sum(batch.count for batch in batches)
            self.backlog.add(Journaled(last_id - len(batches) + 1, last_id, spans, size, digests))
            self._retries.remember(digests)
            self._last_write = time.monotonic()
            self._checkpointed = False

    def write_failure(self) -> str | None:
        """Why acknowledged spans cannot be stored now (None while they can)."""
        if self._journal_failure is not None:
            return self._journal_failure
        return self._write_failure if self.backlog.spans > 0 else None

    def _behind(self) -> bool:
        return (
            self.backlog.spans >= self._unstored_limit or self.backlog.bytes >= UNSTORED_LIMIT_BYTES
        )

    def _store_in_background(self) -> None:
        """Store journaled batches once enough have gathered, once the oldest has waited
        long enough, or as soon as writes pause; checkpoint when idle."""
        retry_at = 0.0
        while not self._closing.wait(STORE_CHECK_SECONDS):
            now = time.monotonic()
            if now < retry_at:
                continue
            if self.backlog.spans <= 0:
                if not self._checkpointed and now - self._last_write >= CHECKPOINT_IDLE_SECONDS:
                    self._checkpoint_idle()
                continue
            if (
                self.backlog.spans >= STORE_SPANS
                or self.backlog.bytes >= self._part_bytes
                or now - self.backlog.since >= STORE_SECONDS
                or now - self._last_write >= STORE_IDLE_SECONDS
            ):
                # A part a time: a read waiting for the lock needs only what was
                # journaled before it began, and may find it stored after this part.
                with self.store_lock:
                    try:
                        self.store_unstored(one_part=True)
                    except StoreUnavailable as exc:
                        log.warning(
                            "%s They are safe in the journal; trying again in a second.",
                            exc.message,
                        )
                        retry_at = now + 1.0

    def store_unstored(self, upto: int | None = None, one_part: bool = False) -> None:
        """Store the journaled batches (up to entry ``upto``, or all; or only the first
        part of them) in DuckDB, about STORE_SPANS spans (or the part's share of the
        store's memory, see PART_MEMORY_SHARE) a transaction, forgetting journal
        segments as they are stored; a part that runs out of memory is split, and an
        entry that cannot be stored alone is set aside. The caller holds the store
        lock."""
        with self._write_lock:
            taken = self.backlog.upto(upto)
            if one_part:
                taken = list(first_part(taken, STORE_SPANS, self._part_bytes))
            if not taken:
                return
            self.backlog.take(len(taken))
            self._journal.seal()  # what is journaled from now on is in later segments
        failure = "The store could not save spans ({error}). {advice}"
        # A backlog (writes went on while a checkpoint held storing up) is read back
        # and stored a part at a time, so the memory it takes stays that of one part.
        # A part that runs out of memory is halved (see PART_MEMORY_SHARE).
        max_writes: int | None = None
        checkpointed = False
        while taken:
            part = first_part(taken, STORE_SPANS, self._part_bytes, max_writes)
            try:
                try:
                    with self._connection.transaction(failure) as con:
                        stored = self._store(con, part, self._next_seq)
                        con.execute("UPDATE journal_stored SET entry_id = ?", [part[-1].last_id])
                except OutOfMemory as exc:
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
                        if not self._connection.checkpoint():
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
                    self.backlog.put_back(taken)
                raise
            except BaseException:
                with self._write_lock:
                    self.backlog.put_back(taken)
                raise
            self._write_failure = None
            checkpointed = False
            taken = taken[len(part) :]
            self._next_seq += stored
            with self._write_lock:
                self.backlog.stored(part)
                self.backlog.since = time.monotonic()  # for what was journaled meanwhile
                self._journal.forget(part[-1].last_id)

    def _by_entry(self, journaled: Journaled) -> list[Journaled]:
        """One write's entries as writes of their own, counted as such."""
        pieces = by_entry(self._journal, journaled)
        with self._write_lock:  # the counts of spans and bytes now go by the pieces
            self.backlog.split(journaled, pieces)
        return pieces

    def _set_aside(self, journaled: Journaled, reason: str) -> None:
        """Move a journal entry the store cannot hold (one, or the one left readable of a
        write) into the quarantine and count it as stored, so that the entries after it
        are stored (see lamina.store.duckdb.quarantine)."""
        kept = self.quarantine.take(
            self._journal, journaled.first_id, journaled.last_id, journaled.spans, reason
        )
        self.quarantined = self.quarantine.ids()
        failure = "The store could not set aside spans it cannot hold ({error})."
        with self._connection.transaction(failure) as con:
            record_digests(con, journaled.digests)
            con.execute("UPDATE journal_stored SET entry_id = ?", [journaled.last_id])
        with self._write_lock:
            self.backlog.stored([journaled])
            self._journal.forget(journaled.last_id)
        for entry_id, path in kept:
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

    def _store(
        self, con: duckdb.DuckDBPyConnection, taken: Sequence[Journaled], first_seq: int
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
            forget_digests(con, now)
            self._digests_pruned = now
        record_digests(con, digests)
        spans, values = split(batch.spans)  # long values kept apart, see values.py
        append(con, "spans", spans)
        if values.num_rows:
            append(con, "span_values", values)
        fold_deltas(con, batch.traces)
        self._connection.rollups.touch(changed_hours(con, spans))  # stamped once it ends
        resolve_trace_sessions(con, batch.traces)  # scores that came before their trace
        return batch.count

    def _replay_journal(self) -> None:
        """Store the journal's entries a crash left unstored (see lamina.store.duckdb.journal)."""
        (stored_id,) = one(self._connection.db.execute("SELECT entry_id FROM journal_stored"))
        now = time.time_ns()
        for entry_id, batch in self._journal.replay(stored_id):
            project_id = batch.spans.column("project_id")[0].as_py()
            digests = [(project_id, batch.digest, now)] if batch.digest else []
            size = sum(map(len, streams(batch)))
            self.backlog.add(Journaled(entry_id, entry_id, batch.count, size, digests))
        if self.backlog.writes:
            spans = self.backlog.spans
            with self.store_lock:
                try:
                    self.store_unstored()
                except StoreUnavailable as exc:
                    log.warning("%s They are safe in the journal.", exc.message)
                    return
            log.info("stored %d spans the journal held from before a crash", spans)
        self._journal.forget(stored_id)

    def _fold_left_deltas(self) -> None:
        """Fold the summary deltas a release before the journal left unfolded."""
        (left,) = one(self._connection.db.execute("SELECT count(*) FROM pending_traces"))
        if left:
            failure = "The store could not update its summaries ({error})."
            with self._connection.transaction(failure) as con:
                fold_deltas(con, con.sql("SELECT * FROM pending_traces").to_arrow_table())
                con.execute("DELETE FROM pending_traces")

    def _checkpoint_idle(self) -> None:
        """Checkpoint the WAL into the file while nothing is being written (see
        CHECKPOINT_IDLE_SECONDS)."""
        with self.store_lock:  # a checkpoint waits for open transactions
            if (
                self.backlog.spans > 0
                or time.monotonic() - self._last_write < CHECKPOINT_IDLE_SECONDS
            ):
                return  # a write came in meanwhile
            self._connection.checkpoint_if_held()
            self._checkpointed = True
            self.idle_checks += 1

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Reads see every journaled span: journaled batches are stored first.

        When they cannot be stored (a full disk, say), they are stored inside the
        read's own transaction instead and rolled back after the read, so the answer
        is still complete; the spans themselves are safe in the journal either way."""
        if self.backlog.spans <= 0:
            yield
            return
        # What was journaled before this read began; what comes while it waits for the
        # store lock (storing may be under way) is left to the next.
        upto = self._journal.last_id
        with self.store_lock:
            try:
                self.store_unstored(upto)
            except StoreUnavailable as exc:
                log.warning("%s Reading with them stored for this read only.", exc.message)
                with self._write_lock:
                    self._journal.seal()  # what this read stores is in sealed segments
                    taken = list(self.backlog.writes)
                # a write while the read lasts: what the read finds is not kept
                with self._connection.writing():
                    con = self._connection.cursor()
                    con.execute("BEGIN TRANSACTION")
                    try:
                        try:
                            self._store(con, taken, self._next_seq)
                        except duckdb.Error as error:
                            self._connection.failed(error)
                            raise StoreUnavailable(
                                f"The store cannot show the newest spans ({first_line(error)}). "
                                "They are safe in its journal; try again in a moment."
                            ) from None
                        yield
                    finally:
                        rollback(con)
                return
        yield

    def stop(self) -> None:
        """Stop the thread that stores in the background."""
        self._closing.set()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def close(self) -> None:
        """Store what is journaled (what cannot be is stored from the journal on the
        next opening) and close the journal, after :meth:`stop`; the caller holds the
        store lock, and closes the connection before releasing it."""
        with contextlib.suppress(StoreUnavailable):  # stored from the journal next time
            self.store_unstored()
        with self._write_lock:
            self._journal.close()
