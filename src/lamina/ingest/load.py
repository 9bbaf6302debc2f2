"""How hard ingest is pressed: the share of recent time its requests queued behind
each other.

Every span request passes :meth:`IngestLoad.request` from its decode to its commit.
While two or more are in flight at once, senders wait behind each other's requests:
nearly all the time when they send flat out, but also part of the time when the server
keeps up, since the group commit makes requests wait for each other by design (so the
runner also gives way then; docs/performance.md, session 16). Background work that can
wait, the evaluator runner, asks :meth:`IngestLoad.pressed` and gives way: on 2 cores,
judging sessions beside an ingest running flat out cost that ingest 60% of its rate
(docs/performance.md, session 15).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

# In flight at once: ingest is pressed (a sender waits behind another's request).
QUEUED = 2
# Ingest counts as pressed while requests are queued now, or were for at least this
# share of the last WINDOW_SECONDS.
PRESSED_SHARE = 0.5
WINDOW_SECONDS = 1.0


class IngestLoad:
    """Counts span requests in flight (from the event loop) and the time two or more
    were; read from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight = 0
        self._queued_since: float | None = None  # when the current stretch began
        self._queued_seconds = 0.0  # of stretches ended
        # (when, queued seconds then) at the start of the last two windows
        now = time.monotonic()
        self._windows = [(now, 0.0), (now, 0.0)]

    @contextlib.contextmanager
    def request(self) -> Iterator[None]:
        """Around one span request, from its decode to its commit."""
        with self._lock:
            self._in_flight += 1
            if self._in_flight == QUEUED:
                self._queued_since = time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                if self._in_flight == QUEUED and self._queued_since is not None:
                    self._queued_seconds += time.monotonic() - self._queued_since
                    self._queued_since = None
                self._in_flight -= 1

    def pressed(self) -> bool:
        """Whether requests are queued now, or were for PRESSED_SHARE or more of the
        time since one to two WINDOW_SECONDS ago."""
        with self._lock:
            if self._queued_since is not None:
                return True
            now = time.monotonic()
            queued = self._queued_seconds
            if now - self._windows[1][0] >= WINDOW_SECONDS:  # a new window begins
                self._windows = [self._windows[1], (now, queued)]
            since, queued_then = self._windows[0]
            return now > since and (queued - queued_then) / (now - since) >= PRESSED_SHARE


__all__ = ["IngestLoad"]
