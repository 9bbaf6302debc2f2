"""The ingest batcher: a bounded queue in front of the store's single writer.

Receivers call :meth:`IngestBatcher.enqueue` with a request's decoded spans (a
column batch) and await what it returns. A writer thread takes everything queued
(up to a batch size), writes it in one transaction (group commit) and only then
resolves the waiting requests, so a request is acknowledged only once its spans
are durable and visible. A transaction costs the store a few milliseconds
whatever its size, so while other requests are still being decoded the writer
waits a moment (``GATHER_SECONDS``) for them to join it. When the queue holds
``max_queue_spans``, new requests are refused with
:class:`~lamina.errors.Overloaded` (429 / RESOURCE_EXHAUSTED, retry later)
rather than buffered: memory stays bounded under any load.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass

from lamina.errors import LaminaError, Overloaded, PayloadTooLarge, StoreUnavailable
from lamina.ingest.grouped import resolve, write_group
from lamina.spans.batch import ColumnBatch
from lamina.store.base import Store

log = logging.getLogger("lamina.ingest")
# How long the writer waits for requests being decoded to join a transaction, and
# how many queued spans end the wait: the DuckDB store spends 43 µs of CPU a span
# at 512 spans a transaction, 25 µs at 2,048. Senders wait for their answer, so while
# the writer gathers every request in flight nothing is decoded meanwhile; stopping
# at 1,024 lets some senders have their answer and send again while the rest is
# written (four A/B pairs, 4 senders of 512 spans: 3.5-17% more spans a second than
# 2,048; 512 was slower than both).
GATHER_SECONDS = 0.02
GATHER_SPANS = 1024


@dataclass(slots=True)
class _Pending:
    batch: ColumnBatch
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
        self._arriving = 0  # requests being decoded (see arriving())
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

    @contextlib.contextmanager
    def arriving(self) -> Iterator[None]:
        """Around decoding a request: its spans are on their way, so the writer waits a
        moment for them before committing what is queued (:meth:`_take`)."""
        with self._cond:
            self._arriving += 1
        try:
            yield
        finally:
            with self._cond:
                self._arriving -= 1
                self._cond.notify()

    def enqueue(self, batch: ColumnBatch) -> Awaitable[None]:
        """Queue the batch (or refuse it at once); the result resolves once committed."""
        count = batch.count
        if not count:
            return _done()
        if count > self._max_queue:
            raise PayloadTooLarge(
                f"This request holds {count} spans; the server accepts at most "
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
            if self._queued_spans + count > self._max_queue:
                self.stats.requests_refused += 1
                raise Overloaded(
                    "The server is receiving spans faster than it can store them; "
                    "retry after a short wait.",
                    retry_after=1,
                )
            self._queue.append(_Pending(batch, future, loop))
            self._queued_spans += count
            self._cond.notify()
        return asyncio.shield(future)

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
            gather_until = time.monotonic() + GATHER_SECONDS
            while (
                self._arriving
                and self._queued_spans < min(GATHER_SPANS, self._max_batch)
                and not self._stopping
                and (left := gather_until - time.monotonic()) > 0
            ):
                self._cond.wait(left)
            taken: list[_Pending] = []
            count = 0
            while self._queue and (
                not taken or count + self._queue[0].batch.count <= self._max_batch
            ):
                item = self._queue.popleft()
                taken.append(item)
                count += item.batch.count
            self._queued_spans -= count
            return taken

    def _run(self) -> None:
        while True:
            taken = self._take()
            if taken is None:
                return
            # one request's spans can break a group commit for everyone (a value the
            # store rejects): write_group then writes each apart, so only that one fails
            outcomes = write_group(taken, lambda items: self._write([i.batch for i in items]))
            if all(outcome is not None for outcome in outcomes):
                # Nothing could be written: the store itself is in trouble.
                self._failed_until = time.monotonic() + 2.0
            for item, outcome in zip(taken, outcomes, strict=True):
                # RuntimeError: the request's event loop has closed, nobody is waiting.
                with contextlib.suppress(RuntimeError):
                    item.loop.call_soon_threadsafe(resolve, item.future, outcome)

    def _write(self, batches: list[ColumnBatch]) -> LaminaError | None:
        count = sum(batch.count for batch in batches)
        try:
            self._store.write_columns(batches)
        except LaminaError as exc:
            error = exc
        except Exception as exc:  # never let the writer die: answer every request
            log.exception("writing %d spans failed", count)
            error = StoreUnavailable(f"The store could not save spans: {exc}")
        else:
            self.stats.spans_written += count
            self.stats.batches_written += 1
            return None
        self.stats.write_errors += 1
        log.error("writing %d spans failed: %s", count, error.message)
        return error


async def _done() -> None:
    return None
