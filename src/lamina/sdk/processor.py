"""The SDK's two span processors.

:class:`AssociationProcessor` writes the session, user, metadata and tags of the
current :class:`~lamina.sdk.context.Association` on every span as it starts.

:class:`ExportProcessor` hands finished spans to a background thread that
exports them in batches. It is built so that tracing never hurts the
application:

- the caller's thread only appends to a bounded queue; when the queue is full
  the span is dropped and counted, never waited for;
- a failed export (server down, slow or answering errors) drops its batch and
  counts it; the first drop is logged once, with the reason, and a recovery is
  logged when exports succeed again;
- :meth:`force_flush` and :meth:`shutdown` wait at most their timeout, whatever
  the exporter is doing (OpenTelemetry's ``BatchSpanProcessor`` exports in the
  caller's thread on flush and can block for the exporter's whole retry
  schedule).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import threading
import time
import weakref

from opentelemetry.context import (
    _SUPPRESS_INSTRUMENTATION_KEY,
    Context,
    attach,
    detach,
    set_value,
)
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from lamina.sdk import context as assoc

log = logging.getLogger("lamina.sdk")

#: The loggers of OpenTelemetry's OTLP/HTTP exporter, which log every retry and
#: failure. Their records from our export thread are folded into our own
#: once-only message (see :class:`_ExportLogFilter`).
EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.common.http",
)


class AssociationProcessor(SpanProcessor):
    """Stamps the current association's attributes on each span at its start.

    :class:`SdkProcessor` combines it with :class:`ExportProcessor`, saving a
    processor call per span.
    """

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        association = assoc.current(parent_context)
        if association is not None and association.attributes:
            span.set_attributes(association.attributes)


class ExportProcessor(SpanProcessor):
    """A bounded queue drained by one daemon thread into ``exporter``, in batches.

    After a ``fork`` the child starts with an empty queue and a thread of its own.
    """

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        max_queue_size: int,
        max_batch_size: int = 512,
        schedule_delay_seconds: float = 1.0,
        endpoint: str = "",
    ) -> None:
        self._exporter = exporter
        self._endpoint = endpoint
        self._max_queue_size = max_queue_size
        self._max_batch_size = max_batch_size
        self._delay = schedule_delay_seconds
        self._queue: collections.deque[ReadableSpan] = collections.deque()
        self._wake = threading.Event()
        self._flush_lock = threading.Lock()
        self._flush_waiters: list[_FlushRequest] = []
        self._shutdown = False
        self._stats_lock = threading.Lock()
        self.exported = 0
        self.dropped_queue_full = 0
        self.dropped_export_failed = 0
        self._in_flight = 0
        self._failing = False
        self._last_failure = ""
        self._log_filter = _ExportLogFilter(self)
        self._worker = self._start_worker()
        if hasattr(os, "register_at_fork"):
            reinit = weakref.WeakMethod(self._after_fork)
            os.register_at_fork(after_in_child=lambda: (method := reinit()) and method())

    def _start_worker(self) -> threading.Thread:
        for name in EXPORTER_LOGGERS:
            logging.getLogger(name).addFilter(self._log_filter)
        worker = threading.Thread(target=self._run, name="lamina-export", daemon=True)
        worker.start()
        return worker

    def _after_fork(self) -> None:
        """In a forked child: the parent's queue and thread are not ours."""
        self._queue.clear()
        self._wake = threading.Event()
        self._flush_lock = threading.Lock()
        self._flush_waiters = []
        self._stats_lock = threading.Lock()
        self._in_flight = 0
        if not self._shutdown:
            self._worker = self._start_worker()

    # -- caller's thread ----------------------------------------------------------

    def on_end(self, span: ReadableSpan) -> None:
        queue = self._queue
        if len(queue) >= self._max_queue_size:
            self._drop_queue_full()
            return
        if self._shutdown:  # a span that outlived Laminar.shutdown()
            return
        queue.append(span)
        if len(queue) >= self._max_batch_size:
            self._wake.set()

    def _drop_queue_full(self) -> None:
        with self._stats_lock:
            self.dropped_queue_full += 1
            first = self.dropped_queue_full == 1
        if first:
            log.warning(
                "Lamina: the span queue is full (%d spans; the server at %s is not keeping "
                "up or is unreachable), so new spans are being dropped. This is logged once; "
                "the count is logged at shutdown.",
                self._max_queue_size,
                self._endpoint,
            )

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Wait until every span queued before this call has been handed to the
        exporter, at most ``timeout_millis``. True if they were all exported
        successfully in time."""
        if self._shutdown or not self._worker.is_alive():
            return not self._queue
        request = _FlushRequest()
        with self._flush_lock:
            self._flush_waiters.append(request)
        self._wake.set()
        return request.done.wait(max(timeout_millis, 0) / 1000) and request.ok

    def shutdown(self, timeout_millis: int = 30_000) -> None:
        """Export what is queued within ``timeout_millis``, then stop for good."""
        if self._shutdown:
            return
        deadline = time.monotonic() + timeout_millis / 1000
        self.force_flush(timeout_millis)
        self._shutdown = True
        self._wake.set()
        self._exporter.shutdown()  # interrupts an export that is retrying
        self._worker.join(max(0.0, deadline - time.monotonic()))
        with self._stats_lock:
            # What the worker did not get to, or is still sending, is lost too.
            unsent = len(self._queue) + self._in_flight
            self._queue.clear()
            self._in_flight = 0
            self.dropped_export_failed += unsent
            full, failed, exported = (
                self.dropped_queue_full,
                self.dropped_export_failed,
                self.exported,
            )
        if full or failed:
            log.warning(
                "Lamina: %d spans were not delivered to %s (%d because the queue was full, "
                "%d because the export failed or did not finish in time); %d were exported.",
                full + failed,
                self._endpoint,
                full,
                failed,
                exported,
            )

    # -- export thread ------------------------------------------------------------

    @property
    def is_export_thread(self) -> bool:
        return threading.current_thread() is self._worker

    def _run(self) -> None:
        token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
        try:
            while not self._shutdown:
                self._wake.wait(self._delay)
                self._wake.clear()
                with self._flush_lock:
                    waiters, self._flush_waiters = self._flush_waiters, []
                ok = self._drain()
                for waiter in waiters:
                    waiter.ok = ok
                    waiter.done.set()
        finally:
            detach(token)
            for name in EXPORTER_LOGGERS:
                logging.getLogger(name).removeFilter(self._log_filter)

    def _drain(self) -> bool:
        """Export what is queued now (not what arrives meanwhile, so a flush
        ends). True if every batch was exported."""
        queue = self._queue
        left = len(queue)
        ok = True
        while left > 0 and not self._shutdown:
            count = min(left, self._max_batch_size)
            batch = [queue.popleft() for _ in range(count)]
            left -= count
            ok = self._export(batch) and ok
        return ok

    def _export(self, batch: list[ReadableSpan]) -> bool:
        self._last_failure = ""
        with self._stats_lock:
            self._in_flight = len(batch)
        try:
            result = self._exporter.export(batch)
        except Exception as exc:  # an exporter must not raise, but never trust that
            self._last_failure = f"{type(exc).__name__}: {exc}"
            result = SpanExportResult.FAILURE
        with self._stats_lock:
            if self._in_flight == 0:  # shutdown already counted this batch as lost
                return False
            self._in_flight = 0
            if result is SpanExportResult.SUCCESS:
                self.exported += len(batch)
            else:
                self.dropped_export_failed += len(batch)
        if result is SpanExportResult.SUCCESS:
            if self._failing:
                self._failing = False
                log.warning("Lamina: exporting to %s works again.", self._endpoint)
            return True
        if not self._failing:
            self._failing = True
            log.warning(
                "Lamina: could not export %d spans to %s (%s); they are dropped. The "
                "application is not affected. Further failures are counted, not logged, "
                "until an export succeeds.",
                len(batch),
                self._endpoint,
                self._last_failure or "no reason given",
            )
        return False

    @property
    def failing(self) -> bool:
        """Whether the last export failed."""
        return self._failing

    def note_failure(self, message: str) -> None:
        """Keep the first thing the exporter logged about this batch: the cause."""
        if not self._last_failure:
            self._last_failure = message if len(message) <= 300 else message[:297] + "..."


class _FlushRequest:
    __slots__ = ("done", "ok")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.ok = False


class _ExportLogFilter(logging.Filter):
    """Keeps the OTLP exporter's retry and failure records from our export thread
    out of the application's logs, remembering the last one as the reason to
    give in our own message. Records from other threads (an exporter the
    application runs itself) pass untouched."""

    def __init__(self, processor: ExportProcessor) -> None:
        super().__init__()
        self._processor = processor

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._processor.is_export_thread:
            return True
        with contextlib.suppress(Exception):
            self._processor.note_failure(record.getMessage())
        return False


class SdkProcessor(AssociationProcessor, ExportProcessor):
    """The SDK's one span processor: stamps associations at start, exports at end."""
