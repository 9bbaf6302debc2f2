"""Scores acknowledged before they are stored in DuckDB: the scores' journal.

``add_scores`` answers once its scores are appended to a file in the data directory
and synced, the scores of every call waiting meanwhile in one sync (a group commit),
not once a DuckDB transaction stored them: that transaction costs 20-40 ms whether it
holds one score or a thousand (the totals' statements, lamina.store.duckdb.scores), so
a client giving one score a request (a thumbs-up handler) waited that long each time
and four of them gave 46 scores/s. Journaled scores are stored in DuckDB, every call
gathered since the last time in one transaction: before any read (so a score shows as
soon as its answer is sent), before any delete, once :data:`STORE_SCORES` have
gathered, and on closing. On opening, the scores a stop left in the journal are
stored first. Storing is idempotent (a score whose id is stored is skipped), so a
crash between storing scores and deleting their file stores nothing twice.

The journal is a directory of files. The file being written is sealed (closed; the
next entry starts a new one) when its scores are taken to be stored, and deleted, with
its directory synced, once they are committed: under the store lock, which a delete
holds too, so a delete never runs between a score's commit and its file's removal,
and a replay never brings back a score deleted after it was stored.

An entry is a header (magic, length, CRC-32 of the body) and the body: the call's
project id and its scores' fields, as JSON. An entry a crash cut short was never
acknowledged (its sync had not returned) and is skipped.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from lamina.errors import StoreUnavailable
from lamina.store.duckdb.connection import Connection
from lamina.store.duckdb.journal import sync_directory
from lamina.store.duckdb.scores import SCORE_FIELDS, Added, add
from lamina.store.scores import Score

log = logging.getLogger("lamina.store")
SCORE_JOURNAL_DIR = "score-journal"
SUFFIX = ".scores"
MAGIC = b"LMS1"
_HEADER = struct.Struct("<4sII")  # magic, length of the body, its CRC-32
# Journaled scores are stored in DuckDB once this many gathered (or before a read): a
# transaction of 2,000 costs little more than one of one, and the scores waiting are
# held in memory. They are stored by the writer's own thread, so the call that makes
# them this many is not kept waiting 20-40 ms for the transaction; only a call that
# finds that thread LAGGING times behind stores them itself (holding the scores in
# memory within bounds when DuckDB is slower than the scores arrive).
STORE_SCORES = 2_000
LAGGING = 4


@dataclass
class _Waiting:
    """One call's scores, waiting to be journaled with those of the calls beside it."""

    added: Added
    done: bool = False
    error: BaseException | None = None


class ScoreJournal:
    """The journal's files (see the module's text). Not thread-safe: the writer calls
    it under its sync lock."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._fd: int | None = None
        self._path: Path | None = None
        self._sealed: list[Path] = []  # written and closed, not yet deleted
        numbers = [int(path.stem) for path in directory.glob(f"*{SUFFIX}") if path.stem.isdigit()]
        self._next = max(numbers, default=0) + 1

    def replay(self) -> list[Added]:
        """The calls in the files a stop left, in order (each file then counts as sealed)."""
        found: list[Added] = []
        for path in sorted(self.directory.glob(f"*{SUFFIX}")):
            found += _entries(path)
            self._sealed.append(path)
        return found

    def append(self, calls: Sequence[Added]) -> None:
        """Write the calls and sync them to disk. On failure (a full disk, say) they are
        cut off again (or their file closed, never written again) and StoreUnavailable
        says why."""
        if self._fd is None:
            self._open()
        assert self._fd is not None
        buffers: list[bytes] = []
        for project_id, scores in calls:
            body = orjson.dumps(
                [project_id, [[getattr(score, name) for name in SCORE_FIELDS] for score in scores]]
            )
            buffers += [_HEADER.pack(MAGIC, len(body), zlib.crc32(body)), body]
        data = b"".join(buffers)
        end = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            written = 0
            while written < len(data):
                written += os.write(self._fd, data[written:])
            os.fdatasync(self._fd)
        except OSError as exc:
            try:
                os.ftruncate(self._fd, end)
            except OSError:
                self.seal()  # nothing more follows what may be left of them
            raise StoreUnavailable(
                f"The store could not save scores ({exc.strerror or exc}). Free disk space "
                "or fix the data directory, then send them again.",
                retry_after=5,
            ) from None

    def seal(self) -> list[Path]:
        """Close the file being written (the next entry starts a new one); every file
        written and not yet deleted."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            assert self._path is not None
            self._sealed.append(self._path)
        return list(self._sealed)

    def forget(self, paths: Sequence[Path]) -> None:
        """Delete sealed files whose scores are committed, durably."""
        for path in paths:
            path.unlink(missing_ok=True)
        self._sealed = [path for path in self._sealed if path not in paths]
        if paths:
            sync_directory(self.directory)

    def close(self) -> None:
        self.seal()

    def _open(self) -> None:
        path = self.directory / f"{self._next:012d}{SUFFIX}"
        try:
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
            sync_directory(self.directory)  # the new file's name is durable too
        except OSError as exc:
            raise StoreUnavailable(
                f"The store could not open its scores' journal at {path} "
                f"({exc.strerror or exc}). Free disk space or fix the data directory, "
                "then send them again.",
                retry_after=5,
            ) from None
        self._next += 1
        self._path = path


def _entries(path: Path) -> list[Added]:
    data = path.read_bytes()
    found: list[Added] = []
    at = 0
    while at < len(data):
        header = data[at : at + _HEADER.size]
        body = b""
        if len(header) == _HEADER.size:
            magic, length, crc = _HEADER.unpack(header)
            body = data[at + _HEADER.size : at + _HEADER.size + length]
        if len(header) < _HEADER.size or magic != MAGIC or len(body) < length:
            log.warning(
                "The scores' journal %s ends with %d bytes that are not a whole entry: a "
                "write cut short by a crash, never acknowledged. Skipping them.",
                path.name,
                len(data) - at,
            )
            break
        if zlib.crc32(body) != crc:
            log.warning("An entry of the scores' journal %s is damaged; skipping it.", path.name)
        else:
            project_id, rows = orjson.loads(body)
            found.append((project_id, [Score(*row) for row in rows]))
        at += _HEADER.size + length
    return found


class ScoreWriter:
    """Journals scores (a sync for every call waiting), and stores them in DuckDB later
    (see the module's text) from its own thread. Safe to share between threads."""

    def __init__(self, connection: Connection, store_lock: threading.Lock, data_dir: Path) -> None:
        self._connection = connection
        self._store_lock = store_lock
        self._journal = ScoreJournal(data_dir / SCORE_JOURNAL_DIR)
        self._sync_lock = threading.Lock()  # the journal, and what it holds unstored
        self._mutex = threading.Lock()  # the calls waiting for a sync
        self._queue: list[_Waiting] = []
        self._journaled: list[Added] = self._journal.replay()
        self._count = sum(len(scores) for _, scores in self._journaled)
        # Scores taken from the journal are being stored (under the store lock): a read
        # must wait for their commit as for the journaled ones.
        self._storing = False
        self._full = threading.Event()  # STORE_SCORES journaled: store them
        self._stopping = False
        self._thread = threading.Thread(
            target=self._store_when_full, name="lamina-score-store", daemon=True
        )
        self._thread.start()

    def add(self, project_id: str, scores: Sequence[Score]) -> None:
        """Durable when this returns, and seen by every read that starts after it;
        raises what the sync that held them raised."""
        if not scores:
            return
        mine = _Waiting((project_id, scores))
        with self._mutex:
            self._queue.append(mine)
        with self._sync_lock:
            if not mine.done:  # else a call before it journaled it meanwhile
                with self._mutex:
                    taken, self._queue = self._queue, []
                try:
                    self._journal.append([waiting.added for waiting in taken])
                    self._journaled += [waiting.added for waiting in taken]
                    self._count += sum(len(waiting.added[1]) for waiting in taken)
                except BaseException as exc:
                    for waiting in taken:
                        waiting.error = exc
                finally:
                    for waiting in taken:
                        waiting.done = True
            count = self._count
        if mine.error is not None:
            raise mine.error
        if count >= LAGGING * STORE_SCORES:
            self.settle()
        elif count >= STORE_SCORES:
            self._full.set()

    def _store_when_full(self) -> None:
        while True:
            self._full.wait()
            self._full.clear()
            if self._stopping:
                return
            try:
                self.settle()
            except StoreUnavailable as exc:  # the next read or close stores them
                log.warning("%s The scores are safe in their journal.", exc.message)

    def settle(self) -> None:
        """Store what is journaled, or wait for what is being stored (for a read, which
        must see it); the caller does not hold the store lock."""
        if self._journaled or self._storing:
            with self._store_lock:
                self.store_journaled()

    def store_journaled(self) -> None:
        """Store every journaled score in one transaction and delete the files that held
        them; the caller holds the store lock. On failure they stay journaled."""
        self._storing = True  # before they leave the journaled list
        try:
            with self._sync_lock:
                taken, self._journaled, self._count = self._journaled, [], 0
                sealed = self._journal.seal()
            try:
                if taken:
                    add(self._connection, taken)
            except BaseException:
                with self._sync_lock:
                    self._journaled[:0] = taken
                    self._count += sum(len(scores) for _, scores in taken)
                raise
            self._journal.forget(sealed)
        finally:
            self._storing = False

    def stop(self) -> None:
        """End the storing thread; the caller does not hold the store lock."""
        self._stopping = True
        self._full.set()
        self._thread.join()

    def close(self) -> None:
        """After :meth:`stop` and :meth:`store_journaled`, or with what it could not
        store left for the next opening."""
        with self._sync_lock:
            self._journal.close()
