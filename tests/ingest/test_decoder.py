"""The decode workers, as processes beside the server."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from bench.workload import batches

from lamina.ingest.decoder import WORKER_NICENESS, Decoder
from lamina.otlp.body import PROTOBUF
from tests.processes import children


def _workers() -> list[int]:
    """This process's pool workers (not multiprocessing's resource tracker)."""
    return [
        pid
        for pid in children(os.getpid())
        if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def test_decoding_gives_way_to_the_server() -> None:
    """Workers run nicer than the process that started them, so the server's writer and
    event loop get a core first; and they still decode."""
    decoder = Decoder(2, None)
    decoder.start()
    try:
        batch = batches(600)[0]
        decoded = asyncio.run(decoder.decode(batch.body, PROTOBUF, "prj", "gzip"))
        assert decoded.count == batch.spans
        workers = _workers()
        assert len(workers) == 2
        mine = os.getpriority(os.PRIO_PROCESS, 0)
        for pid in workers:
            assert os.getpriority(os.PRIO_PROCESS, pid) == min(19, mine + WORKER_NICENESS)
    finally:
        decoder.stop()
