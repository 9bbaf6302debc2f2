"""Decoding in worker processes, so the server process keeps its core for I/O and writes.

Python runs one thread at a time per process. Decoding OTLP is pure Python
work, while the store's writes mostly run inside DuckDB without the GIL; the
two compete in one process. With ``decode_workers`` > 0 each request body is
decompressed, digested, decoded, normalised and turned into column batches in a
worker process: the body crosses to the worker as it arrived (compressed), and
only Arrow buffers come back. With 0, the same function runs in the server.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
import zlib
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from lamina.errors import BadRequest, PayloadTooLarge, StoreUnavailable
from lamina.otlp.decode import decode_request as decode_message
from lamina.otlp.decode import parse_json, parse_protobuf, rejection
from lamina.otlp.wire import count_spans, decode_wire
from lamina.pricing import PriceTable
from lamina.spans.batch import ColumnBatch, from_columns, records_to_columns, request_digest

log = logging.getLogger("lamina.ingest")

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
# The Content-Encodings a body may arrive in.
ENCODINGS = ("identity", "", "gzip", "deflate")
GZIP_MAGIC = b"\x1f\x8b"  # how each gzip member begins
_INFLATE_SLICE = 64 * 1024


@dataclass(frozen=True, slots=True)
class Decoded:
    columns: ColumnBatch | None
    rejected: int
    error_message: str

    @property
    def count(self) -> int:
        return self.columns.count if self.columns is not None else 0


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


def decode_body(
    body: bytes,
    content_type: str,
    project_id: str,
    max_spans: int | None = None,
    encoding: str = "identity",
    max_bytes: int | None = None,
) -> Decoded:
    """Decompress, parse, decode and normalise one export request body into column
    batches, tagged with the digest of the request (see ``request_digest``).

    A body that inflates past ``max_bytes`` is refused as it inflates. A request of
    more than ``max_spans`` spans is refused once parsed, before the far dearer
    decoding: 15 MB of tiny spans took 20 s and 500 MB to decode."""
    assert _prices is not None, "decoder not started"
    if encoding in ("gzip", "deflate"):
        body = inflate(body, max_bytes, gzip=encoding == "gzip")
    digest = request_digest(project_id, body)
    # One path from here: a JSON body is parsed and serialised to protobuf.
    request = None if content_type == PROTOBUF else parse_json(body)
    wire = body if request is None else request.SerializeToString()
    if max_spans is not None:
        count = count_spans(wire)
        if count < 0:  # not readable by the fast path: upb words the error, if any
            request = request or parse_protobuf(wire)
            count = sum(len(s.spans) for rs in request.resource_spans for s in rs.scope_spans)
        if count > max_spans:
            raise PayloadTooLarge(
                f"This request holds {count} spans; the server accepts at most {max_spans} "
                "in one request. Send smaller batches."
            )
    decoded = decode_wire(wire, project_id, _prices.cost)
    if decoded is not None:
        spans, rejected, errors = decoded.spans, decoded.rejected, decoded.errors
    else:  # a request out of the fast path's reach: upb and decode.py
        batch = decode_message(request or parse_protobuf(wire), project_id, _prices.cost)
        spans, rejected, errors = records_to_columns(batch.records), batch.rejected, batch.errors
    columns = from_columns(spans, digest) if spans["trace_id"] else None
    return Decoded(columns, rejected, rejection(rejected, errors))


def inflate(body: bytes, limit: int | None, gzip: bool) -> bytes:
    """A gzip or deflate body decompressed, refusing to inflate past ``limit`` bytes.

    A gzip body may hold several members one after another (RFC 1952; ``cat a.gz
    b.gz`` makes one): each is inflated and the results joined, as ``gzip -d``
    does. Any other bytes after the compressed data are refused, never dropped.
    The body is fed in slices of ``_INFLATE_SLICE`` bytes: zlib copies the input
    left after each member, which for a body of many tiny members would otherwise
    cost the square of its size."""
    name = "gzip" if gzip else "deflate"
    wbits = 16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS
    view = memoryview(body)
    inflater = zlib.decompressobj(wbits)
    parts: list[bytes] = []
    size = 0
    pending: bytes | memoryview = b""  # input given to no inflater yet, or left by one
    taken = 0  # bytes of ``body`` moved into ``pending`` so far
    while True:
        if not pending:
            if taken == len(body):
                break
            pending = view[taken : taken + _INFLATE_SLICE]
            taken += len(pending)
        try:
            part = inflater.decompress(pending, 0 if limit is None else limit - size + 1)
        except zlib.error as exc:
            raise BadRequest(f"The body is not valid {name} data: {exc}.") from None
        size += len(part)
        parts.append(part)
        if limit is not None and size > limit:
            raise PayloadTooLarge(body_too_large(limit, decompressed=True))
        if not inflater.eof:
            pending = b""  # all of it was taken (output stopped short of the limit)
            continue
        pending = inflater.unused_data
        if len(pending) < len(GZIP_MAGIC) and taken < len(body):
            pending += view[taken : taken + _INFLATE_SLICE]
            taken += len(pending) - len(inflater.unused_data)
        if not pending:
            break
        if not gzip or not pending.startswith(GZIP_MAGIC):
            extra = len(pending) + len(body) - taken
            raise BadRequest(
                f"The body goes on for {extra} byte{'' if extra == 1 else 's'} after its "
                f"{name} data ends; send only the compressed body."
            )
        inflater = zlib.decompressobj(wbits)  # the next gzip member
    if not inflater.eof:
        raise BadRequest("The compressed body ends early; send the whole body.")
    return b"".join(parts)


def body_too_large(limit: int, decompressed: bool = False) -> str:
    where = "after decompression " if decompressed else ""
    return (
        f"The request body is larger than {limit} bytes {where}(LAMINA_MAX_BODY_BYTES). "
        "Send smaller batches."
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
    ) -> Decoded:
        """The body (as it arrived, compressed or not) decoded into column batches."""
        args = (body, content_type, project_id, self._max_spans, encoding, self._max_bytes)
        if self._pool is None:
            return decode_body(*args)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, decode_body, *args)
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
