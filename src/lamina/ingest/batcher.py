"""The ingest batcher: a bounded queue in front of the store's single writer.

Receivers call :meth:`IngestBatcher.submit` with a request's decoded spans and
await it. A writer thread takes everything queued (up to a batch size), writes
it in one transaction (group commit) and only then resolves the waiting
requests, so a request is acknowledged only once its spans are durable and
visible. When the queue holds ``max_queue_spans``, new requests are refused
with :class:`~lamina.errors.Overloaded` (429 / RESOURCE_EXHAUSTED, retry
later) rather than buffered: memory stays bounded under any load.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from lamina.errors import LaminaError, Overloaded, PayloadTooLarge, StoreUnavailable
from lamina.spans import SpanRecord
from lamina.store.base import Store

log = logging.getLogger("lamina.ingest")


@dataclass(slots=True)
class _Pending:
    records: Sequence[SpanRecord]
    future: asyncio.Future[None]
    loop: asyncio.AbstractEventLoop


@dataclass(slots=True)
class IngestStats:
    spans_written: int = 0
    batches_written: int = 0
    requests_refused: int = 0
    write_errors: int = 0


class IngestBatcher:
    def __init__(self, store: Store, max_queue_spans: int, max_batch_spans: int) -> None:
        self._store = store
        self._max_queue = max_queue_spans
        self._max_batch = max_batch_spans
        self._queue: deque[_Pending] = deque()
        self._queued_spans = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.stats = IngestStats()
        # After a failed write, refuse new work for a moment instead of
        # hammering a store that cannot write (for example a full disk).
        self._failed_until = 0.0

    @property
    def queued_spans(self) -> int:
        return self._queued_spans

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="lamina-writer", daemon=True)
        self._thread.start()

    async def submit(self, records: Sequence[SpanRecord]) -> None:
        """Queue the records and wait until they are committed."""
        if not records:
            return
        if len(records) > self._max_queue:
            raise PayloadTooLarge(
                f"This request holds {len(records)} spans; the server accepts at most "
                f"{self._max_queue} in one request. Send smaller batches."
            )
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._cond:
            if self._stopping:
                raise StoreUnavailable("The server is shutting down; send these spans again.")
            if time.monotonic() < self._failed_until:
                raise StoreUnavailable(
                    "The store could not write recently (is the disk full?); "
                    "retry in a few seconds.",
                    retry_after=5,
                )
            if self._queued_spans + len(records) > self._max_queue:
                self.stats.requests_refused += 1
                raise Overloaded(
                    "The server is receiving spans faster than it can store them; "
                    "retry after a short wait.",
                    retry_after=1,
                )
            self._queue.append(_Pending(records, future, loop))
            self._queued_spans += len(records)
            self._cond.notify()
        await asyncio.shield(future)

    def stop(self, timeout: float = 30.0) -> None:
        """Write everything already queued, then stop the writer."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def _take(self) -> list[_Pending] | None:
        with self._cond:
            while not self._queue and not self._stopping:
                self._cond.wait()
            if not self._queue:
                return None
            taken: list[_Pending] = []
            count = 0
            while self._queue and (
                not taken or count + len(self._queue[0].records) <= self._max_batch
            ):
                item = self._queue.popleft()
                taken.append(item)
                count += len(item.records)
            self._queued_spans -= count
            return taken

    def _run(self) -> None:
        while True:
            taken = self._take()
            if taken is None:
                return
            records: list[SpanRecord] = []
            for item in taken:
                records.extend(item.records)
            error: LaminaError | None = None
            try:
                self._store.write_spans(records)
                self.stats.spans_written += len(records)
                self.stats.batches_written += 1
            except LaminaError as exc:
                error = exc
            except Exception as exc:  # never let the writer die: answer every request
                log.exception("writing %d spans failed", len(records))
                error = StoreUnavailable(f"The store could not save spans: {exc}")
            if error is not None:
                self.stats.write_errors += 1
                self._failed_until = time.monotonic() + 2.0
                log.error("ingest write failed: %s", error.message)
            for item in taken:
                # RuntimeError: the request's event loop has closed, nobody is waiting.
                with contextlib.suppress(RuntimeError):
                    item.loop.call_soon_threadsafe(_resolve, item.future, error)


def _resolve(future: asyncio.Future[None], error: LaminaError | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
