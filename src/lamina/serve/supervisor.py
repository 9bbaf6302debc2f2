"""``lamina serve --workers N``: N server processes on one machine, one set of ports.

The supervisor (this process) binds the HTTP port, then prepares the shared
store once (schema, project "default" and its first key: made once the ports are
this server's, so a start refused for a busy port makes no key it never shows),
and hands the listening socket to each worker, which accepts on it: the kernel
gives each connection to one worker, and a worker that stops or dies leaves
nothing unanswered in a queue of its own. gRPC servers cannot take a socket, so
the workers bind the gRPC port themselves with SO_REUSEPORT, and the supervisor
holds the port meanwhile (bound, never listening) so it stays theirs; it first
checks that no one else holds it, since SO_REUSEPORT would share it with any
other server that set it too.

Workers are ordinary servers (lamina.serve.worker: ``python -m lamina.serve``,
settings in ``LAMINA_*`` variables) that do not write the running-server file or
print the banner, and tell the supervisor when they are ready through a pipe. SIGTERM or
SIGINT is passed to every worker, which stops accepting, writes everything it
acknowledged or queued, and exits; the supervisor exits when all have. A worker
that exits on its own is started again (after a pause that grows while it keeps
dying young).

Only a shared store can have several writers: see :func:`lamina.serve.stores.check_store`.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, fields, replace
from typing import Any, TextIO

from lamina import operations
from lamina.errors import ConfigError
from lamina.serve.banner import print_banner
from lamina.serve.process import STOPPED, server_info
from lamina.serve.sockets import bind, hold_port
from lamina.serve.stores import check_store, open_store
from lamina.serve.worker import HTTP_FD_ENV, INDEX_ENV, READY_FD_ENV
from lamina.settings import Settings
from lamina.store.base import Project

log = logging.getLogger("lamina.serve.supervisor")

START_TIMEOUT = 90.0  # seconds for every worker to be ready
STOP_TIMEOUT = 60.0  # seconds a worker has to write what it holds and exit
YOUNG = 10.0  # a worker that dies younger than this is restarted after a growing pause


@dataclass
class Worker:
    index: int
    process: subprocess.Popen[bytes]
    ready_fd: int  # the supervisor's end of the worker's ready pipe (-1 once read)
    started: float
    ready: bool = False


class Supervisor:
    def __init__(self, settings: Settings, out: TextIO) -> None:
        self.settings = settings
        self.out = out
        self.workers: list[Worker] = []
        self.stopping = False
        self.failures = 0  # workers that died young in a row
        self.http_socket: socket.socket | None = None
        self.grpc_hold: socket.socket | None = None
        self.http_port = 0
        self.grpc_port = -1

    # -- start -------------------------------------------------------------------------------
    def run(self) -> int:
        settings = self.settings
        self.http_socket = bind(settings.host, settings.port)
        self.http_port = self.http_socket.getsockname()[1]
        if settings.grpc_port >= 0:
            self.grpc_hold = hold_port(settings.host, settings.grpc_port)
            self.grpc_port = self.grpc_hold.getsockname()[1]
        project, first_key = _prepare_store(settings)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._on_signal)
        try:
            for index in range(settings.workers):
                self.workers.append(self._spawn(index))
            if not self._wait_ready():
                self._stop_all()
                raise ConfigError("The server did not start; see the messages above.")
            info = self._info()
            operations.write_server_file(settings.data_dir, info)
            self._banner(info, project.name, first_key)
            return self._watch()
        finally:
            operations.remove_server_file(settings.data_dir)
            for held in (self.http_socket, self.grpc_hold):
                if held is not None:
                    held.close()

    def _spawn(self, index: int) -> Worker:
        assert self.http_socket is not None
        read_fd, write_fd = os.pipe()
        env = {**os.environ, **self._worker_env(index)}
        env[HTTP_FD_ENV] = str(self.http_socket.fileno())
        env[READY_FD_ENV] = str(write_fd)
        env[INDEX_ENV] = str(index)
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "lamina.serve"],
                env=env,
                pass_fds=(self.http_socket.fileno(), write_fd),
            )
        finally:
            os.close(write_fd)
        log.debug("Started worker %d (pid %d).", index, process.pid)
        return Worker(index, process, read_fd, time.monotonic())

    def _worker_env(self, index: int) -> dict[str, str]:
        """Every setting as its LAMINA_* variable, for one worker process."""
        settings = self.settings
        worker = replace(
            settings,
            workers=1,
            port=self.http_port,
            grpc_port=self.grpc_port,
            decode_workers=settings.workers_for_decoding,
            demo=settings.demo and index == 0,  # the demo data is sent once
        )
        env: dict[str, str] = {}
        for spec in fields(Settings):
            value: Any = getattr(worker, spec.name)
            name = spec.metadata["env"]
            if value is None:
                env[name] = ""
            elif isinstance(value, bool):
                env[name] = "true" if value else "false"
            else:
                env[name] = str(value)
        return env

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while not all(worker.ready for worker in self.workers):
            if self.stopping or time.monotonic() > deadline:
                return False
            waiting = {w.ready_fd: w for w in self.workers if not w.ready and w.ready_fd >= 0}
            readable, _, _ = select.select(list(waiting), [], [], 0.2)
            for fd in readable:
                if not self._read_ready(waiting[fd]):
                    return False
            if any(w.process.poll() is not None and not w.ready for w in self.workers):
                return False
        return True

    def _read_ready(self, worker: Worker) -> bool:
        """Read the worker's ready message; False when it closed the pipe without one."""
        message = os.read(worker.ready_fd, 64)
        os.close(worker.ready_fd)
        worker.ready_fd = -1
        worker.ready = message.startswith(b"ready")
        return worker.ready

    def _info(self) -> dict[str, Any]:
        grpc_port = self.grpc_port if self.grpc_port >= 0 else None
        return server_info(self.settings, self.http_port, grpc_port, self.settings.workers)

    def _banner(self, info: dict[str, Any], project: str, first_key: str | None) -> None:
        pids = ", ".join(str(worker.process.pid) for worker in self.workers)
        extra = [f"Workers: {len(self.workers)} server processes (pids {pids})"]
        if first_key is not None:
            extra.append(
                "First sign-in: create an administrator with `lamina users create EMAIL --admin` "
                "(with LAMINA_STORE set to this store)"
            )
        print_banner(self.out, self.settings, info, project, first_key, extra)

    # -- run ---------------------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: Any) -> None:
        self.stopping = True

    def _watch(self) -> int:
        """Restart workers that exit on their own until asked to stop; then stop them."""
        while not self.stopping:
            time.sleep(0.1)
            for position, worker in enumerate(self.workers):
                if worker.ready_fd >= 0 and select.select([worker.ready_fd], [], [], 0)[0]:
                    self._read_ready(worker)
                code = worker.process.poll()
                if code is None or self.stopping:
                    continue
                self._close_ready(worker)
                age = time.monotonic() - worker.started
                self.failures = self.failures + 1 if age < YOUNG else 0
                pause = min(30.0, 0.5 * 2 ** (self.failures - 1)) if self.failures else 0.0
                print(
                    f"Lamina worker {worker.index} (pid {worker.process.pid}) exited with code "
                    f"{code}; starting another" + (f" in {pause:.1f} s." if pause else "."),
                    file=sys.stderr,
                    flush=True,
                )
                if pause and self._sleep(pause):
                    break
                self.workers[position] = self._spawn(worker.index)
        return self._stop_all()

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless asked to stop; True when asked."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.stopping:
            time.sleep(0.05)
        return self.stopping

    def _stop_all(self) -> int:
        """SIGTERM every worker; wait for each to write what it holds and exit."""
        for worker in self.workers:
            if worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        result = 0
        for worker in self.workers:
            try:
                code = worker.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(
                    f"Lamina worker {worker.index} (pid {worker.process.pid}) did not stop in "
                    f"{STOP_TIMEOUT:.0f} s; killing it. Spans it had not acknowledged are "
                    "not lost: their senders send them again.",
                    file=sys.stderr,
                    flush=True,
                )
                worker.process.kill()
                code = worker.process.wait()
            self._close_ready(worker)
            if code not in (0, -signal.SIGTERM):
                result = 1
        return result

    @staticmethod
    def _close_ready(worker: Worker) -> None:
        if worker.ready_fd >= 0:
            os.close(worker.ready_fd)
            worker.ready_fd = -1


def _prepare_store(settings: Settings) -> tuple[Project, str | None]:
    """The schema, project "default" and (on a new store) its first key, to show."""
    store = open_store(settings)
    try:
        project, first_key = operations.ensure_default_project(store)
    finally:
        store.close()
    operations.admin_token(settings.data_dir)  # made once, before the workers read it
    return project, first_key


def supervise(settings: Settings, out: TextIO) -> None:
    """Run ``settings.workers`` servers; exit when they have stopped."""
    check_store(settings)
    code = Supervisor(settings, out).run()
    if code:
        sys.exit(code)
    print(STOPPED, file=out, flush=True)


__all__ = ["Supervisor", "supervise"]
