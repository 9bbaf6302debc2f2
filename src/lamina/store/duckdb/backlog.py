"""The backlog: writes journaled and answered, not yet stored in DuckDB, oldest first.

Their batches stay in the journal's files (lamina.store.duckdb.journal); the backlog
holds only which entries each write took, its counts, and its request digests, and
cuts it into parts, one a transaction (see lamina.store.duckdb.storer).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from lamina.spans.batch import streams
from lamina.store.duckdb.journal import Journal

# A request a client sent: the project, the request's digest, and when it was journaled.
Digest = tuple[str, str, int]


@dataclass(frozen=True, slots=True)
class Journaled:
    """One write, journaled as entries ``first_id`` to ``last_id`` (``bytes`` of them),
    and the request digests to record for it. Its batches stay in the journal's
    files until they are stored."""

    first_id: int
    last_id: int
    spans: int
    bytes: int
    digests: list[Digest]


def first_part(
    taken: Sequence[Journaled], max_spans: int, max_bytes: int, max_writes: int | None = None
) -> Sequence[Journaled]:
    """The first writes of ``taken`` that hold ``max_spans`` spans (the write that
    reaches it included) but no more than ``max_bytes`` bytes, nor ``max_writes``
    writes; at least one write: what one transaction stores."""
    spans = size = 0
    for count, journaled in enumerate(taken):
        if count and (size + journaled.bytes > max_bytes or count == max_writes):
            return taken[:count]
        spans += journaled.spans
        size += journaled.bytes
        if spans >= max_spans:
            return taken[: count + 1]
    return taken


def by_entry(journal: Journal, journaled: Journaled) -> list[Journaled]:
    """One write's entries as writes of their own (to store them apart), each with
    its request's digest (any other digest goes with the first)."""
    entries = journal.entries(journaled.first_id, journaled.last_id)
    if len(entries) < 2:  # damaged on disk meanwhile: left whole
        return [journaled]
    left = list(journaled.digests)
    pieces = []
    for entry_id, batch in entries:
        mine = [d for d in left if d[1] == batch.digest]
        left = [d for d in left if d[1] != batch.digest]
        pieces.append(
            Journaled(entry_id, entry_id, batch.count, sum(map(len, streams(batch))), mine)
        )
    pieces[0].digests.extend(left)
    return pieces


class Backlog:
    """The writes not yet stored, and their spans and bytes. The counts include the
    writes taken out to be stored until :meth:`stored` counts them off (or they are put
    back), so that while the storer works they still hold up writes and reads. Not
    thread-safe: the storer calls it under its write lock."""

    def __init__(self) -> None:
        self.writes: list[Journaled] = []
        self.spans = 0
        self.bytes = 0
        self.since = time.monotonic()  # when the oldest write not being stored came

    def add(self, journaled: Journaled) -> None:
        if not self.writes:
            self.since = time.monotonic()
        self.writes.append(journaled)
        self.spans += journaled.spans
        self.bytes += journaled.bytes

    def upto(self, entry_id: int | None) -> list[Journaled]:
        """The writes journaled up to entry ``entry_id`` (all of them: None)."""
        count = len(self.writes)
        if entry_id is not None:
            count = next(
                (i for i, journaled in enumerate(self.writes) if journaled.last_id > entry_id),
                count,
            )
        return self.writes[:count]

    def take(self, count: int) -> None:
        """Take the first ``count`` writes out to be stored."""
        del self.writes[:count]

    def put_back(self, taken: Sequence[Journaled]) -> None:
        """Writes taken out and not stored, first again."""
        self.writes[:0] = taken

    def stored(self, part: Sequence[Journaled]) -> None:
        """Count off writes taken out and stored (or set aside)."""
        self.spans -= sum(journaled.spans for journaled in part)
        self.bytes -= sum(journaled.bytes for journaled in part)

    def split(self, whole: Journaled, pieces: Sequence[Journaled]) -> None:
        """Count a write taken out as the pieces it was split into."""
        self.spans += sum(piece.spans for piece in pieces) - whole.spans
        self.bytes += sum(piece.bytes for piece in pieces) - whole.bytes
