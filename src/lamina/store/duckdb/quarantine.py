"""Journal entries set aside: acknowledged spans the store could not hold.

An entry of the journal (one write's spans) is stored in DuckDB in one transaction.
When even that one entry cannot be stored for lack of the store's memory (spans of
many megabytes each, a small ``--store-memory-mb``), retrying it for ever would hold
up every entry after it, for every project. The store moves it here instead: its
bytes, exactly as the journal held them, in a file of their own under
``<data dir>/quarantine/`` (readable only by the data dir's owner), with a note of
why; it then counts the entry as stored elsewhere and goes on with the next.

Nothing acknowledged is lost: `lamina quarantine retry` journals the entry's spans
again (after the server was given more memory, say), `lamina quarantine drop`
deletes them. A file is named after its entry's id.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import orjson

from lamina.errors import NotFound, StoreUnavailable
from lamina.spans.batch import ColumnBatch
from lamina.store.base import Quarantined
from lamina.store.duckdb.journal import SUFFIX, Journal, read_entries, sync_directory

log = logging.getLogger("lamina.store")

NOTE = ".json"  # beside each entry: why, and when


class Quarantine:
    """The directory of entries set aside. Not thread-safe: the store calls it under
    its store lock."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def put(self, entry_id: int, raw: bytes, reason: str) -> Path:
        """Keep an entry's bytes (header and body, as in the journal), synced to disk."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"{entry_id:020d}"
        note = {"reason": reason, "quarantined_ns": time.time_ns()}
        _write_synced(self.directory / f"{name}{NOTE}", orjson.dumps(note))
        path = self.directory / f"{name}{SUFFIX}"
        _write_synced(path, raw)
        sync_directory(self.directory)
        return path

    def take(
        self, journal: Journal, first_id: int, last_id: int, spans: int, reason: str
    ) -> list[tuple[int, Path]]:
        """Keep the journal's entries ``first_id`` to ``last_id`` (one write's ``spans``
        spans) that it can still read back: their ids and files. StoreUnavailable when
        they cannot be written here (they are still in the journal)."""
        found = [
            (entry_id, raw)
            for entry_id in range(first_id, last_id + 1)
            if (raw := journal.raw_entry(entry_id)) is not None
        ]
        if not found:
            log.error(
                "%d acknowledged spans could not be read back from the journal in %s (its "
                "files were changed or damaged on disk).",
                spans,
                journal.directory,
            )
        try:
            return [(entry_id, self.put(entry_id, raw, reason)) for entry_id, raw in found]
        except OSError as exc:
            raise StoreUnavailable(
                "The store could not set aside spans it cannot hold in "
                f"{self.directory} ({exc.strerror or exc}). Free disk space; "
                "they are safe in the journal."
            ) from None

    def ids(self) -> list[str]:
        """The ids of the entries set aside, oldest first (their files are not read)."""
        if not self.directory.is_dir():
            return []
        return [_id(path) for path in sorted(self.directory.glob(f"*{SUFFIX}"))]

    def entries(self) -> list[Quarantined]:
        """Every entry set aside, oldest first."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in sorted(self.directory.glob(f"*{SUFFIX}")):
            batches = read_entries(path)
            try:
                note = orjson.loads((path.with_suffix(NOTE)).read_bytes())
            except (OSError, orjson.JSONDecodeError):
                note = {}
            projects = {
                str(p) for batch in batches for p in batch.spans.column("project_id").unique()
            }
            found.append(
                Quarantined(
                    id=_id(path),
                    spans=sum(batch.count for batch in batches),
                    bytes=path.stat().st_size,
                    project_ids=sorted(projects),
                    quarantined_ns=int(note.get("quarantined_ns", path.stat().st_mtime_ns)),
                    reason=str(note.get("reason", "")),
                )
            )
        return found

    def read(self, entry_id: str) -> list[ColumnBatch]:
        """The batches of one entry set aside."""
        return read_entries(self._path(entry_id))

    def drop(self, entry_id: str) -> None:
        path = self._path(entry_id)
        path.unlink()
        path.with_suffix(NOTE).unlink(missing_ok=True)
        sync_directory(self.directory)

    def _path(self, entry_id: str) -> Path:
        if entry_id.isascii() and entry_id.isdigit() and len(entry_id) <= 20:
            path = self.directory / f"{int(entry_id):020d}{SUFFIX}"
            if path.is_file():
                return path
        raise NotFound(
            f'No quarantined entry "{entry_id}". `lamina quarantine list` shows the ids.'
        )


def _id(path: Path) -> str:
    return path.name.removesuffix(SUFFIX).lstrip("0") or "0"


def _write_synced(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
