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

Workers are ordinary servers (``python -m lamina.serve.supervisor``, settings in
``LAMINA_*`` variables) that do not write the running-server file or print the
banner, and tell the supervisor when they are ready through a pipe. SIGTERM or
SIGINT is passed to every worker, which stops accepting, writes everything it
acknowledged or queued, and exits; the supervisor exits when all have. A worker
that exits on its own is started again (after a pause that grows while it keeps
dying young).

Only a shared store can have several writers: see :func:`check_store`.
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
from lamina.settings import Settings
from lamina.store.base import Project
from lamina.store.clickhouse.client import parse_store

log = logging.getLogger("lamina.serve.supervisor")

# How the supervisor talks to a worker (not settings: no one sets these by hand).
HTTP_FD_ENV = "LAMINA_WORKER_HTTP_FD"
READY_FD_ENV = "LAMINA_WORKER_READY_FD"
INDEX_ENV = "LAMINA_WORKER_INDEX"

START_TIMEOUT = 90.0  # seconds for every worker to be ready
STOP_TIMEOUT = 60.0  # seconds a worker has to write what it holds and exit
YOUNG = 10.0  # a worker that dies younger than this is restarted after a growing pause


def check_store(settings: Settings) -> None:
    """Refuse ``--workers`` above 1 on a store that only one process can open."""
    if settings.workers <= 1:
        return
    kind = parse_store(settings.store).kind
    if kind == "clickhouse":
        return
    what = (
        "the embedded DuckDB file in the data dir"
        if kind == "duckdb"
        else "chDB (--store chdb://), whose engine runs inside one process"
    )
    raise ConfigError(
        f"--workers {settings.workers} needs a store that several processes can share, and "
        f"this server keeps its data in {what}, which only one process can open at a time. "
        "Run with --workers 1 (one process already uses every core for decoding), or keep "
        "the data in a ClickHouse server: --store clickhouse://USER:PASS@HOST:8123/DB."
    )


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
        from lamina.serve.server import bind

        settings = self.settings
        self.http_socket = bind(settings.host, settings.port)
        self.http_port = self.http_socket.getsockname()[1]
        if settings.grpc_port >= 0:
            self.grpc_hold = _hold_port(settings.host, settings.grpc_port)
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
                [sys.executable, "-m", "lamina.serve.supervisor"],
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
        from lamina.serve.server import _url_host

        info: dict[str, Any] = {
            "url": f"http://{_url_host(self.settings.host)}:{self.http_port}",
            "http_port": self.http_port,
            "host": self.settings.host,
            "workers": self.settings.workers,
        }
        if self.grpc_port >= 0:
            info["grpc_port"] = self.grpc_port
        return info

    def _banner(self, info: dict[str, Any], project: str, first_key: str | None) -> None:
        from lamina.serve.server import _banner

        pids = ", ".join(str(worker.process.pid) for worker in self.workers)
        extra = [f"Workers: {len(self.workers)} server processes (pids {pids})"]
        if first_key is not None:
            extra.append(
                "First sign-in: create an administrator with `lamina users create EMAIL --admin` "
                "(with LAMINA_STORE set to this store)"
            )
        _banner(self.out, self.settings, info, project, first_key, extra)

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


def _hold_port(host: str, port: int) -> socket.socket:
    """Bind (never listen) with SO_REUSEPORT: the workers' gRPC servers bind it too.

    A socket with SO_REUSEPORT shares the port with any other that set it (another
    ``--workers`` server, an older Lamina), so a port of someone else's is found first
    by binding it without."""
    from lamina.serve.server import grpc_port_error

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if port != 0:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                raise grpc_port_error(host, port, exc.strerror or str(exc)) from None
    held = socket.socket(family, socket.SOCK_STREAM)
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        held.bind((host, port))
    except OSError as exc:
        held.close()
        raise grpc_port_error(host, port, exc.strerror or str(exc)) from None
    return held


def _prepare_store(settings: Settings) -> tuple[Project, str | None]:
    """The schema, project "default" and (on a new store) its first key, to show."""
    from lamina.serve.server import open_store

    store = open_store(settings)
    try:
        project, first_key = operations.ensure_default_project(store)
    finally:
        store.close()
    operations.admin_token(settings.data_dir)  # made once, before the workers read it
    return project, first_key


def supervise(settings: Settings, out: TextIO) -> None:
    """Run ``settings.workers`` servers; exit when they have stopped."""
    from lamina.serve.server import STOPPED

    check_store(settings)
    code = Supervisor(settings, out).run()
    if code:
        sys.exit(code)
    print(STOPPED, file=out, flush=True)


# -- a worker ------------------------------------------------------------------------------


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
        import asyncio

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


def _worker_main() -> None:
    from lamina import demo
    from lamina.errors import LaminaError
    from lamina.serve.server import serve

    try:
        settings = Settings.load()
        serve(settings, after_start=demo.load_on_start if settings.demo else None)
    except LaminaError as exc:
        print(f"Error: {exc.message}", file=sys.stderr, flush=True)
        sys.exit(2 if exc.code == "config_error" else 1)


if __name__ == "__main__":
    _worker_main()


__all__ = ["Supervisor", "WorkerSlot", "check_store", "supervise", "worker_slot"]
