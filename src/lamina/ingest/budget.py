"""A bound on the request bytes the server holds at once.

The ingest queue bounds decoded spans; this bounds the bodies (as they arrived,
compressed or not) still being read or waiting to be decoded, so many large
concurrent requests cannot exhaust memory before they ever reach the queue. A
body is decompressed only in the decoder, one at a time per decode worker, and
never past the body limit. Requests over the budget are refused with 429 and
Retry-After (RESOURCE_EXHAUSTED over gRPC), like a full queue.

Both receivers count in one budget, each request through a :class:`Hold`
(``lamina.receivers.common``). OTLP/HTTP takes each chunk as it arrives. gRPC
hands over a message only whole, so an OTLP/gRPC call takes the body limit before
it asks for its message and keeps only the message's size once read.
"""

from __future__ import annotations

import threading
from types import TracebackType

from lamina.errors import Overloaded


class ByteBudget:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._used = 0
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        return self._used

    def take(self, size: int) -> None:
        with self._lock:
            if self._used + size > self.limit and self._used > 0:
                raise Overloaded(
                    "The server is holding as many request bodies as it can; "
                    "retry after a short wait.",
                    retry_after=1,
                )
            self._used += size

    def give_back(self, size: int) -> None:
        with self._lock:
            self._used = max(0, self._used - size)

    def hold(self) -> Hold:
        """What one request holds of the budget: ``with budget.hold() as hold: ...``."""
        return Hold(self)


class Hold:
    """The bytes of a budget one request holds, all given back when it ends."""

    def __init__(self, budget: ByteBudget) -> None:
        self._budget = budget
        self.size = 0

    def take(self, size: int) -> None:
        """Hold ``size`` more bytes; Overloaded if the budget is spent."""
        self._budget.take(size)
        self.size += size

    def keep(self, size: int) -> None:
        """Hold only ``size`` of the bytes held (a message smaller than the room taken)."""
        assert size <= self.size, "a hold keeps at most what it took"
        self._budget.give_back(self.size - size)
        self.size = size

    def __enter__(self) -> Hold:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._budget.give_back(self.size)
        self.size = 0
