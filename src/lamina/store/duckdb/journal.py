"""The journal: acknowledged batches on their way into the DuckDB file.

A DuckDB transaction of a thousand spans costs about twice as much CPU a span as
one of 16,384 or more: DuckDB writes each full row group of a large append
straight into the file, compressed once, where a small one goes through its WAL
(uncompressed) and is compressed again at the next checkpoint. Senders wait for
their answer, so the spans of one answer cannot wait for 16,384 more. The store
therefore writes each batch here first (appended to a file and synced, many
batches a sync) and answers; it moves batches into DuckDB in large transactions
later (:class:`lamina.store.duckdb.storer.Storer`), and before any read.

The journal is a directory of segment files. Every entry has an id, one more
than the last; the store records in DuckDB, in the transaction that stores
them, the id of the last entry it stored. A segment is sealed (new entries go
to a new one) when the store takes its entries, which it then reads back from
the sealed segments (the operating system's page cache holds them, not the
server's memory), and deleted once they are stored. On opening, the entries
after the recorded id are stored again; an entry cut short by a crash was never
acknowledged (its sync had not returned) and is dropped.

An entry: a header (magic, id, length, CRC-32 of the rest) and the batch: its
request digest and its two Arrow tables as IPC streams, the form in which the
batch came from the decode worker.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from lamina.errors import StoreUnavailable
from lamina.spans.batch import ColumnBatch, from_streams, streams

log = logging.getLogger("lamina.store")
MAGIC = b"LMJ1"
_HEADER = struct.Struct("<4sQII")  # magic, entry id, length of the rest, its CRC-32
_SIZES = struct.Struct("<III")  # lengths of the digest, the spans stream, the traces stream
SUFFIX = ".journal"


class Journal:
    """Append-only segments of batches in ``directory``. Not thread-safe: the store
    calls it under its write lock, except :meth:`read`, which reads only sealed
    segments (never written again) and may run beside an append."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._fd: int | None = None  # the open segment, created on the first append
        self._next_id = 1
        self._last_id = 0  # the last entry written
        # Sealed segments and the id of the last entry in each.
        self._sealed: list[tuple[Path, int]] = []
        # Ids of entries whose append failed and could not be cut off again: never
        # acknowledged, never read back (see append).
        self._abandoned: set[int] = set()

    def replay(self, stored_id: int) -> Iterator[tuple[int, ColumnBatch]]:
        """The entries after ``stored_id`` in the segments on disk, in order. Call once,
        before the first append; afterwards every segment read counts as sealed."""
        last = stored_id
        for path in sorted(self.directory.glob(f"*{SUFFIX}")):
            for entry_id, batch in _entries(path):
                last = max(last, entry_id)
                if entry_id > stored_id:
                    yield entry_id, batch
            self._sealed.append((path, last))
        self._next_id = last + 1
        self._last_id = last

    @property
    def last_id(self) -> int:
        return self._last_id

    def append(self, batches: Sequence[ColumnBatch]) -> tuple[int, int]:
        """Write the batches and sync them to disk: the id of the last, and the bytes
        written. On failure (a full disk, say) nothing of them stays in the journal
        and StoreUnavailable says why."""
        if self._fd is None:
            self._open()
        assert self._fd is not None
        buffers: list[bytes] = []
        entry_id = self._next_id
        for batch in batches:
            digest = (batch.digest or "").encode()
            spans, traces = streams(batch)
            sizes = _SIZES.pack(len(digest), len(spans), len(traces))
            crc = zlib.crc32(traces, zlib.crc32(spans, zlib.crc32(digest, zlib.crc32(sizes))))
            length = len(sizes) + len(digest) + len(spans) + len(traces)
            buffers += [_HEADER.pack(MAGIC, entry_id, length, crc), sizes, digest, spans, traces]
            entry_id += 1
        end = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            _write_all(self._fd, buffers)
            os.fdatasync(self._fd)
        except OSError as exc:
            try:  # leave no partial entry for the next append to follow
                os.ftruncate(self._fd, end)
            except OSError:
                # The segment may keep them whole: their ids are not used again, and
                # this process never reads them back.
                self._abandoned.update(range(self._next_id, entry_id))
                self._next_id = entry_id
                self._close()  # the next append starts a new segment
            raise StoreUnavailable(
                f"The store could not save spans ({exc.strerror or exc}). Free disk space "
                "or fix the data directory; senders should retry.",
                retry_after=5,
            ) from None
        self._next_id = entry_id
        self._last_id = entry_id - 1
        return self._last_id, sum(len(buffer) for buffer in buffers)

    def read(self, first_id: int, last_id: int) -> list[ColumnBatch]:
        """The batches of entries ``first_id`` to ``last_id``, which must be in sealed
        segments. An entry damaged on disk since it was written is left out with
        those after it in its segment (the store says how many spans it missed)."""
        return [batch for _, batch in self.entries(first_id, last_id)]

    def entries(self, first_id: int, last_id: int) -> list[tuple[int, ColumnBatch]]:
        """The ids and batches of entries ``first_id`` to ``last_id`` (see :meth:`read`)."""
        found: list[tuple[int, ColumnBatch]] = []
        previous_last = 0
        for path, last in list(self._sealed):  # a copy: the writer may seal another
            if last >= first_id and previous_last < last_id:
                found += (
                    (entry_id, batch)
                    for entry_id, batch in _entries(path, first_id, last_id, replaying=False)
                    if entry_id not in self._abandoned
                )
            previous_last = last
        return found

    def raw_entry(self, entry_id: int) -> bytes | None:
        """One entry's bytes (header and body) as a sealed segment holds them; None if
        it is not there whole."""
        previous_last = 0
        for path, last in list(self._sealed):
            if previous_last < entry_id <= last:
                with path.open("rb") as file:
                    while header := file.read(_HEADER.size):
                        if len(header) < _HEADER.size:
                            break
                        magic, found, length, crc = _HEADER.unpack(header)
                        if magic != MAGIC or found > entry_id:
                            break
                        if found < entry_id:
                            file.seek(length, os.SEEK_CUR)
                            continue
                        body = file.read(length)
                        if len(body) == length and zlib.crc32(body) == crc:
                            return header + body
                        break
            previous_last = last
        return None

    def seal(self) -> None:
        """New entries go to a new segment (the store has taken everything so far)."""
        if self._fd is not None:
            self._close()

    def forget(self, stored_id: int) -> None:
        """Delete the sealed segments whose entries are all stored."""
        kept = []
        for path, last in self._sealed:
            if last <= stored_id:
                path.unlink(missing_ok=True)
            else:
                kept.append((path, last))
        self._sealed = kept

    def close(self) -> None:
        if self._fd is not None:
            self._close()

    def _open(self) -> None:
        # Named by the id of its first entry, then a count: a segment a failed append
        # left behind keeps its name (and sorts before this one).
        for attempt in range(10_000):
            path = self.directory / f"{self._next_id:020d}-{attempt:04d}{SUFFIX}"
            try:
                self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
                sync_directory(self.directory)  # the new file's name is durable too
                break
            except FileExistsError:
                continue
            except OSError as exc:
                if self._fd is not None:
                    os.close(self._fd)
                    self._fd = None
                raise StoreUnavailable(
                    f"The store could not open its journal at {path} ({exc.strerror or exc}). "
                    "Free disk space or fix the data directory; senders should retry.",
                    retry_after=5,
                ) from None
        else:
            raise StoreUnavailable(f"The store's journal directory {self.directory} is full.")
        self._path = path

    def _close(self) -> None:
        assert self._fd is not None
        os.close(self._fd)
        self._fd = None
        self._sealed.append((self._path, self._last_id))


def _write_all(fd: int, buffers: list[bytes]) -> None:
    views = [memoryview(buffer) for buffer in buffers if buffer]
    while views:
        written = os.writev(fd, views[:512])  # at most IOV_MAX (1,024) buffers a call
        while views and written >= len(views[0]):
            written -= len(views[0])
            views.pop(0)
        if written:
            views[0] = views[0][written:]


def sync_directory(directory: Path) -> None:
    """Make the names of a directory's new or removed files durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _entries(
    path: Path, first_id: int = 0, last_id: int | None = None, replaying: bool = True
) -> Iterator[tuple[int, ColumnBatch]]:
    """The whole entries of a segment from ``first_id`` to ``last_id`` (the others are
    skipped, their bodies not read); reading stops at the first damaged one, which on
    replaying is a write a crash cut short (said in a warning)."""
    size = path.stat().st_size
    with path.open("rb") as file:
        at = 0
        while at < size:
            header = file.read(_HEADER.size)
            if len(header) < _HEADER.size:
                if replaying:
                    _damaged(path, at, "it ends inside an entry's header")
                return
            magic, entry_id, length, crc = _HEADER.unpack(header)
            if last_id is not None and entry_id > last_id:
                return  # a segment's ids only grow
            if magic == MAGIC and entry_id < first_id:
                file.seek(length, os.SEEK_CUR)
                at += _HEADER.size + length
                continue
            body = file.read(length)
            if magic != MAGIC or len(body) < length or zlib.crc32(body) != crc:
                if replaying:
                    _damaged(path, at, "an entry is cut short or damaged")
                return
            digest_size, spans_size, _ = _SIZES.unpack_from(body)
            spans_at = _SIZES.size + digest_size
            traces_at = spans_at + spans_size
            digest = body[_SIZES.size : spans_at].decode() or None
            yield entry_id, from_streams(body[spans_at:traces_at], body[traces_at:], digest)
            at += _HEADER.size + length


def read_entries(path: Path) -> list[ColumnBatch]:
    """The batches of the whole entries in a file of entries (a segment, or an entry
    set aside in the quarantine)."""
    return [batch for _, batch in _entries(path, replaying=False)]


def _damaged(path: Path, at: int, why: str) -> None:
    # Entries are synced before they are acknowledged, and appends only ever add to
    # the end: a damaged tail is a write a crash cut short, never acknowledged.
    log.warning(
        "The journal %s ends with %d bytes that are not a whole entry (%s): a write cut "
        "short by a crash, never acknowledged. Skipping them.",
        path.name,
        path.stat().st_size - at,
        why,
    )
