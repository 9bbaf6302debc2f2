"""One worker of a ``lamina serve --workers N`` server: what it gets from its supervisor.

A worker is an ordinary server process (``python -m lamina.serve``, settings in
``LAMINA_*`` variables) started by lamina.serve.supervisor, which passes it, in
the variables below, the listening HTTP socket to accept on and the pipe on
which it says it is ready. A worker does not write the running-server file or
print the banner: its supervisor does, once for all of them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from dataclasses import dataclass

log = logging.getLogger("lamina.serve.worker")

# How the supervisor talks to a worker (not settings: no one sets these by hand).
HTTP_FD_ENV = "LAMINA_WORKER_HTTP_FD"
READY_FD_ENV = "LAMINA_WORKER_READY_FD"
INDEX_ENV = "LAMINA_WORKER_INDEX"


@dataclass(frozen=True)
class WorkerSlot:
    """What a worker process got from its supervisor."""

    index: int
    http_socket: socket.socket
    ready_fd: int
    supervisor_pid: int

    def ready(self) -> None:
        try:
            os.write(self.ready_fd, b"ready\n")
        finally:
            os.close(self.ready_fd)

    async def stop_when_orphaned(self) -> None:
        """Stop this worker cleanly (as SIGTERM does) if its supervisor is gone: killed
        with SIGKILL, it could not pass the signal on."""
        while os.getppid() == self.supervisor_pid:
            await asyncio.sleep(0.5)
        log.warning("The supervisor (pid %d) is gone; this worker stops.", self.supervisor_pid)
        os.kill(os.getpid(), signal.SIGTERM)


def is_worker() -> bool:
    """Whether a supervisor started this process (as one of its workers)."""
    return bool(os.environ.get(HTTP_FD_ENV))


def worker_slot() -> WorkerSlot | None:
    """This process's slot when a supervisor started it, else None (once a process)."""
    http_fd = os.environ.get(HTTP_FD_ENV)
    if not http_fd:
        return None
    sock = socket.socket(fileno=int(http_fd))
    sock.setblocking(False)
    return WorkerSlot(
        index=int(os.environ.get(INDEX_ENV, "0")),
        http_socket=sock,
        ready_fd=int(os.environ[READY_FD_ENV]),
        supervisor_pid=os.getppid(),
    )
