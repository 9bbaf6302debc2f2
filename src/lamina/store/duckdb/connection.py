"""The DuckDB database of a data directory: how it is opened, one cursor a thread,
transactions, what a DuckDB error means for the caller, and checkpoints.

DuckDB stops using a database after a fatal error (a checkpoint that failed on a full
disk, say); the connection then opens the file again before its next use, and the
caller of the statement that found out gets StoreUnavailable (503), not a server error.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from lamina.errors import ConfigError, StoreUnavailable
from lamina.store.duckdb.remembered import Remembered
from lamina.store.queries import MAX_LIMIT
from lamina.store.rollups import Rollups

log = logging.getLogger("lamina.store")
# The data file is attached under this name, with row groups of this many rows
# (DuckDB's default is 122,880). A checkpoint compresses again the whole row group
# that rows were added to: with the default, the writer's CPU a span grew from 9 to
# 60-85 µs as each row group of traces filled (800k spans); with 16,384 it stays
# at 15-20 µs, and zone maps skip finer ranges.
CATALOG = "lamina"
ROW_GROUP_ROWS = 16_384
# A checkpoint while writes pause (see lamina.store.duckdb.storer) runs only when more
# than this share of the store's memory is held by data not yet checkpointed and by the
# indexes it changed, which a checkpoint frees: after 100k spans into a 5M-span store
# they held 150 of 256 MB (the ART indexes 103), and reads after the ingest ran out of
# memory. Below that share a checkpoint only made the next reads slower (they read
# back compressed blocks instead of the rows in memory).
CHECKPOINT_MEMORY_SHARE = 0.5
_HELD_UNTIL_CHECKPOINT = """
SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory()
WHERE tag IN ('ART_INDEX', 'IN_MEMORY_TABLE')
"""
_MEMORY_WORDS = ("failed to pin block", "could not allocate block", "Out of Memory")


class OutOfMemory(StoreUnavailable):
    """A transaction that failed for lack of the store's memory (it may fit when smaller)."""

    def __init__(self, message: str, cause: str) -> None:
        super().__init__(message)
        self.cause = cause  # DuckDB's own words


class Connection:
    """The open database, shared by every thread: each thread runs its statements on a
    cursor of its own."""

    def __init__(self, path: Path, memory_mb: int, threads: int | None) -> None:
        self.path = path
        self.memory_mb = memory_mb
        self._threads = threads
        self.db = connect(path, memory_mb, threads)
        self._local = threading.local()
        self._reopen_lock = threading.Lock()
        self._invalid = False
        self._generation = 0
        # writes begun and ended (see writes_done); what reads keep between writes
        self._writes_lock = threading.Lock()
        self._writes_begun = 0
        self._writes_ended = 0
        self.remembered = Remembered()
        self.rollups = Rollups()  # charts kept by hour (lamina.store.rollups)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor (the file opened again first, after a fatal error)."""
        if self._invalid:
            self._reopen()
        cursor: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if cursor is None or self._local.generation != self._generation:
            cursor = self.db.cursor()
            cursor.execute(f"USE {CATALOG}")
            self._local.cursor = cursor
            self._local.generation = self._generation
        return cursor

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Mark a write under way, from before its first statement to after its commit
        or rollback (every transaction and every :meth:`write` is marked)."""
        with self._writes_lock:
            self._writes_begun += 1
        try:
            yield
        finally:
            with self._writes_lock:
                self._writes_ended += 1
            self.rollups.settle()  # after the commit or rollback

    def writes_done(self) -> int | None:
        """How many writes have ended, None while one is under way: a read may keep what
        it found (:attr:`remembered`) while this number stays the same."""
        with self._writes_lock:
            return self._writes_ended if self._writes_begun == self._writes_ended else None

    def failed(self, exc: duckdb.Error) -> None:
        """Note a fatal error: DuckDB will refuse this database from now on."""
        if invalidates(exc):
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
            log.warning("saved, but the checkpoint after it failed: %s", first_line(exc))

    def _reopen(self) -> None:
        """Open the file again after a fatal error. Everything committed is in the
        file or its WAL; when it cannot be opened yet (the disk still full), the
        caller gets StoreUnavailable and the next call tries again."""
        with self._reopen_lock:
            if not self._invalid:
                return
            with contextlib.suppress(duckdb.Error):
                self.db.close()
            try:
                self.db = connect(self.path, self.memory_mb, self._threads)
            except ConfigError as exc:
                raise StoreUnavailable(
                    f"The store stopped after an error and cannot be opened again yet "
                    f"({exc.message}). Free disk space; it reopens by itself."
                ) from None
            self._generation += 1
            self._invalid = False
            log.warning("the store was opened again after a fatal error")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """The rows of a read, as dicts of their columns."""
        try:
            cursor = self.cursor().execute(sql, list(params))
            names = [column[0] for column in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        except duckdb.Error as exc:
            self.refused(exc)
            raise

    def write(self, sql: str, params: Sequence[Any] = ()) -> None:
        """One statement that changes a small table (projects, keys, users, settings),
        committed on its own. Its commit may be durable although the checkpoint DuckDB
        ran after it failed (the store's memory could not hold a row group of large
        spans): that counts as done, and the store is opened again before the next use
        (a 500 for every later statement, before)."""
        try:
            with self.writing():
                self.cursor().execute(sql, list(params))
        except duckdb.Error as exc:
            if "COMMIT succeeded and is durable" in str(exc):
                self._invalid = True
                log.warning("saved, but the checkpoint after it failed: %s", first_line(exc))
                return
            self.refused(exc)
            raise

    def refused(self, exc: duckdb.Error) -> None:
        """After an error that makes DuckDB refuse the database: StoreUnavailable (503),
        the store opened again on the next use."""
        if invalidates(exc):
            self._invalid = True
            raise StoreUnavailable(
                f"The store stopped after an error ({first_line(exc)}); it opens again by "
                "itself. Try again in a moment.",
                retry_after=1,
            ) from None

    @contextlib.contextmanager
    def transaction(self, failure: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """One write transaction on this thread's cursor, committed at the end. A DuckDB
        error rolls it back and becomes StoreUnavailable with ``failure`` (``{error}``
        in it is replaced by DuckDB's first line, ``{advice}`` by what to do about it);
        OutOfMemory when the store's memory was too small for it."""
        with self.writing():
            yield from self._transaction(failure)

    def _transaction(self, failure: str) -> Iterator[duckdb.DuckDBPyConnection]:
        con = self.cursor()
        try:
            con.execute("BEGIN TRANSACTION")
            yield con
            self._commit(con)
        except duckdb.Error as exc:
            self.failed(exc)
            rollback(con)
            message = failure.format(error=first_line(exc), advice=_advice(exc))
            if _out_of_memory(exc):
                raise OutOfMemory(message, first_line(exc)) from None
            raise StoreUnavailable(message) from None
        except BaseException:
            rollback(con)
            raise

    def checkpoint(self) -> bool:
        """Checkpoint the WAL into the file; whether it could."""
        try:
            self.cursor().execute("CHECKPOINT")
        except duckdb.Error as exc:
            self.failed(exc)
            log.warning("Checkpointing the store failed: %s", first_line(exc))
            return False
        return True

    def checkpoint_if_held(self) -> None:
        """Checkpoint the WAL if what it would free is worth it (see
        CHECKPOINT_MEMORY_SHARE). A failure is left for the next automatic checkpoint."""
        try:
            con = self.cursor()
            (held,) = one(con.execute(_HELD_UNTIL_CHECKPOINT))
            if held > CHECKPOINT_MEMORY_SHARE * self.memory_mb * 2**20:
                con.execute("CHECKPOINT")
        except duckdb.Error as exc:
            self.failed(exc)
            log.warning("Checkpointing the store while idle failed: %s", first_line(exc))

    def close(self) -> None:
        """Checkpoint and close the file (a failed checkpoint loses nothing: the WAL
        still holds every commit)."""
        with contextlib.suppress(duckdb.Error):
            self.db.execute("CHECKPOINT")
        self.db.close()


def connect(path: Path, memory_mb: int, threads: int | None) -> duckdb.DuckDBPyConnection:
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
            # No file, URL or extension beyond the data directory from here on: the SQL
            # console's queries (lamina.store.duckdb.console) run here too. The data
            # file's directory stays allowed (its temp files, the store's own writes).
            con.execute("SET enable_external_access = false")
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
            raise ConfigError(f"Cannot open the store at {path}: {first_line(exc)}") from None
        raise ConfigError(
            f"{path} is not a Lamina data file, or it is damaged ({first_line(exc)}). "
            "Point --data-dir at another directory, or restore it from a backup."
        ) from None
    except duckdb.Error as exc:
        raise ConfigError(
            f"{path} is not a Lamina data file, or it is damaged ({first_line(exc)}). "
            "Point --data-dir at another directory, or restore it from a backup."
        ) from None


def _out_of_memory(exc: duckdb.Error) -> bool:
    """Whether a statement failed for lack of the store's memory (and may fit smaller);
    not when DuckDB has stopped using the database (a checkpoint that failed for it)."""
    if invalidates(exc):
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


def invalidates(exc: duckdb.Error) -> bool:
    """Whether DuckDB refuses the database after this error until it is attached again
    (a fatal error; for an attached file, an I/O error that says so)."""
    return isinstance(exc, duckdb.FatalException) or "has been invalidated" in str(exc)


def _quoted(text: str) -> str:
    return text.replace("'", "''")


def append(con: duckdb.DuckDBPyConnection, table: str, rows: pa.Table) -> None:
    """Append an Arrow table's rows to a table of the same columns, in one statement."""
    con.register("rows_to_append", rows)
    try:
        con.execute(f"INSERT INTO {table} SELECT * FROM rows_to_append")
    finally:
        with contextlib.suppress(duckdb.Error):  # an aborted transaction: keep its error
            con.unregister("rows_to_append")


def one(result: duckdb.DuckDBPyConnection) -> Any:
    """The first row of a result, reading it to the end: a result left unfinished
    (``fetchone``) keeps its transaction open, and while one is open DuckDB never
    checkpoints its WAL (it reached 8 GB at 5M spans)."""
    rows = result.fetchall()
    return rows[0] if rows else None


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):
        con.execute("ROLLBACK")


def first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
