"""Decoding in worker processes, so the server process keeps its core for I/O and writes.

Python runs one thread at a time per process. Decoding OTLP is pure Python
work, while the store's writes mostly run inside DuckDB without the GIL; the
two compete in one process. With ``decode_workers`` > 0 each request body is
decompressed, digested, decoded, normalised and turned into a batch of spans
(:func:`lamina.otlp.body.decode_body`) in a worker process: the body crosses to
the worker as it arrived (compressed), and only Arrow buffers come back. With 0,
the same function runs in the server.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path

from lamina.errors import StoreUnavailable
from lamina.otlp.body import decode_body
from lamina.pricing import PriceTable
from lamina.spans.batch import ColumnBatch

log = logging.getLogger("lamina.ingest")

# Decode workers run this much nicer than the server: when both want a core, the
# server's writer, fold and event loop go first, each on the way to an acknowledgement
# (or to a page someone is reading), and decoding takes what is left. Three A/B pairs,
# 300k spans: 10.1-10.8k → 11.2-12.3k spans/s; 10 and 19 measured the same as 5.
WORKER_NICENESS = 5

_prices: PriceTable | None = None


def _start_worker(price_file: Path | None, server_pid: int) -> None:
    global _prices
    # The server handles Ctrl-C and SIGTERM and stops the workers itself; if the
    # server is killed outright, the worker notices and exits on its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.nice(WORKER_NICENESS)
    threading.Thread(target=_exit_with, args=(server_pid,), daemon=True).start()
    _prices = PriceTable.load(price_file)


def _exit_with(server_pid: int) -> None:
    while os.getppid() == server_pid:
        time.sleep(0.5)
    os._exit(0)


def _decode(
    body: bytes,
    content_type: str,
    project_id: str,
    encoding: str,
    max_spans: int | None,
    max_bytes: int | None,
) -> ColumnBatch:
    """decode_body() with this process's price table (what a worker runs)."""
    assert _prices is not None, "decoder not started"
    return decode_body(
        body,
        content_type,
        project_id,
        _prices.cost,
        encoding=encoding,
        max_spans=max_spans,
        max_bytes=max_bytes,
    )


class Decoder:
    def __init__(
        self,
        workers: int,
        price_file: Path | None,
        max_spans: int | None = None,
        max_bytes: int | None = None,
    ) -> None:
        self._workers = workers
        self._price_file = price_file
        self._max_spans = max_spans
        self._max_bytes = max_bytes
        self._pool: Executor | None = None
        if workers == 0:
            _start_worker_in_process(price_file)

    def start(self) -> None:
        if self._workers > 0 and self._pool is None:
            self._pool = ProcessPoolExecutor(
                self._workers,
                mp_context=get_context("spawn"),
                initializer=_start_worker,
                initargs=(self._price_file, os.getpid()),
            )
            # Start the workers now, not on the first request.
            for future in [self._pool.submit(_ready) for _ in range(self._workers)]:
                future.result(timeout=120)

    async def decode(
        self, body: bytes, content_type: str, project_id: str, encoding: str = "identity"
    ) -> ColumnBatch:
        """The body (as it arrived, compressed or not) decoded into a batch of spans."""
        args = (body, content_type, project_id, encoding, self._max_spans, self._max_bytes)
        if self._pool is None:
            return _decode(*args)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, _decode, *args)
        except BrokenProcessPool:
            log.error("a decode worker died; starting new ones")
            self._pool = None
            self.start()
            raise StoreUnavailable(
                "The server could not decode this request (a worker stopped); send it again."
            ) from None

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _ready() -> bool:
    return True


def _start_worker_in_process(price_file: Path | None) -> None:
    global _prices
    _prices = PriceTable.load(price_file)
