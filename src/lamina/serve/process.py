"""The server process's life outside its ports: how it starts (log format, a private
data dir), the running-server record it leaves in the data dir for the CLI, how
SIGINT and SIGTERM stop it, and the line it prints once stopped.
"""

from __future__ import annotations

import logging
import signal
import sys
from typing import Any

import uvicorn

from lamina import datadir
from lamina.serve.banner import server_url
from lamina.settings import Settings

# What a server prints once it has stopped (after SIGINT or SIGTERM) and closed its store.
# "Saved", not "stored": spans may wait in the journal for the next start, or be set aside
# in the quarantine (lamina quarantine list); both are on disk.
STOPPED = "Lamina stopped: every span it acknowledged is saved."


def prepare(settings: Settings) -> None:
    """Logging, a private data dir and the GIL's switch interval, before anything opens."""
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if settings.log_level.lower() != "debug":  # one line per request the server sends itself
        logging.getLogger("httpx").setLevel(logging.WARNING)
    datadir.make_private(settings.data_dir)
    # The writer thread hands the GIL back and forth with the decoding event loop
    # (DuckDB releases it while it works); a shorter switch interval keeps the
    # writer from waiting up to 5 ms each time it needs the GIL back.
    sys.setswitchinterval(0.0005)


def server_info(
    settings: Settings, http_port: int, grpc_port: int | None, workers: int | None = None
) -> dict[str, Any]:
    """The running-server record (``server.json`` in the data dir, through
    lamina.operations): where the CLI reaches this server. ``grpc_port`` is None
    when gRPC is off; ``workers`` is given by a ``--workers N`` supervisor."""
    info: dict[str, Any] = {
        "url": server_url(settings.host, http_port),
        "http_port": http_port,
        "host": settings.host,
    }
    if workers is not None:
        info["workers"] = workers
    if grpc_port is not None:
        info["grpc_port"] = grpc_port
    return info


class SignalStop:
    """SIGINT and SIGTERM ask the uvicorn server to stop, and nothing more.

    uvicorn handles SIGINT/SIGTERM while it serves, then re-raises the signal
    against the handlers it found. These handlers make that a no-op, so the
    process goes on to write what it holds, checkpoint the store and exit 0. A
    signal that arrives before :meth:`attach` (while gRPC starts) is remembered: the
    server stops as soon as it is attached."""

    def __init__(self) -> None:
        self.server: uvicorn.Server | None = None
        self.requested = False
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._stop)

    def attach(self, server: uvicorn.Server) -> None:
        self.server = server
        server.should_exit = self.requested

    def _stop(self, signum: int, frame: Any) -> None:
        self.requested = True
        if self.server is not None:
            self.server.should_exit = True
