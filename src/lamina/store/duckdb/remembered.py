"""What the lists' pages read besides their rows, kept between writes.

A page of sessions or traces reads, after its rows, each row's score summary, each
session's explicit end and the project's idle time (lamina.store.duckdb.scores): two
small statements that cost about as much as the page itself (2-3 ms at 1M spans and
100k scores, with DuckDB scanning the totals for the page's ids). The Sessions tab
asks for the same page every two seconds while it is open, and people page back and
forth; so what those statements found is kept here and answered again, while nothing
was written to the store since.

Correctness rests on :meth:`Connection.writes_done`: a number that changes when any
write ends and is None while one is under way. A read takes it before its statements
and keeps what they found only if it is still the same number after them, so nothing
read beside a write is kept, and every write (spans, scores, ends, deletes, settings)
forgets everything kept before it. Kept values are few (a page's ids) and bounded.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

Key = tuple[str, ...]  # what a value is kept by: its kind, project id and owner
# More kept values than this and all are forgotten (a few pages' worth is the use).
LIMIT = 20_000


class Remembered:
    """Values read between two writes, by key; all forgotten once a write ends."""

    def __init__(self, limit: int = LIMIT) -> None:
        self._lock = threading.Lock()
        self._writes: int | None = None  # the writes_done the values were read at
        self._values: dict[Key, Any] = {}
        self._limit = limit

    def known(self, writes: int | None, keys: Iterable[Key]) -> dict[Key, Any]:
        """The kept values of ``keys`` read at ``writes`` (a write since: none)."""
        if writes is None:
            return {}
        with self._lock:
            if self._writes != writes:
                return {}
            return {key: self._values[key] for key in keys if key in self._values}

    def keep(self, writes: int | None, now: int | None, values: Mapping[Key, Any]) -> None:
        """Keep ``values``, read after ``writes`` was taken, if no write began or
        ended before ``now`` was (``now``: writes_done after the read)."""
        if writes is None or now != writes:
            return
        with self._lock:
            if self._writes != writes:
                self._values.clear()
                self._writes = writes
            if len(self._values) + len(values) > self._limit:
                self._values.clear()
            self._values.update(values)
