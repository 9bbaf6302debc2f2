"""A bound on the request bytes the server holds at once.

The ingest queue bounds decoded spans; this bounds the bodies (as they arrived,
compressed or not) still being read or waiting to be decoded, so many large
concurrent requests cannot exhaust memory before they ever reach the queue. A
body is decompressed only in the decoder, one at a time per decode worker, and
never past the body limit. Requests over the budget
are refused with 429 and Retry-After, like a full queue.

Both receivers count in one budget. OTLP/HTTP takes each chunk as it arrives.
gRPC hands over a message only whole, so an OTLP/gRPC call reserves the body
limit before it asks for its message and keeps the message's size once read
(``receivers/grpc.py``); past the budget it is RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

import threading

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
