"""``lamina serve``: HTTP and gRPC in one process, on one asyncio loop.

Start-up opens the store, binds both ports and, once both listen, creates
project "default" and its first key on a new data dir (so a start that fails on
a busy port leaves no key that was never shown), then records the running
server in the data dir so the CLI can reach it. SIGINT/SIGTERM stop accepting,
write everything already acknowledged or queued, checkpoint the store and exit.

HTTP connections are limited as :mod:`lamina.serve.connections` describes. The gRPC
port is bound without SO_REUSEPORT, so a second server cannot share it by
accident (the kernel would split the connections between the two); only the
workers of one ``--workers N`` server share it.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any, TextIO

import uvicorn

from lamina import datadir, operations, retention
from lamina.errors import ConfigError
from lamina.receivers.grpc import start_grpc
from lamina.runtime import Runtime
from lamina.serve.connections import Limits, http_protocol
from lamina.serve.supervisor import is_worker, worker_slot
from lamina.settings import Settings
from lamina.store.base import Store
from lamina.store.clickhouse.client import parse_store
from lamina.store.duckdb.store import DuckDBStore
from lamina.web.app import Pages, create_app

log = logging.getLogger("lamina.serve.server")
# What a server prints once it has stopped (after SIGINT or SIGTERM) and closed its store.
# "Saved", not "stored": spans may wait in the journal for the next start, or be set aside
# in the quarantine (lamina quarantine list); both are on disk.
STOPPED = "Lamina stopped: every span it acknowledged is saved."


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this: without it, keep-alive responses written
    # in two parts wait ~40 ms for the client's delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"Cannot listen on {host}:{port} ({exc.strerror}). Is another server running? "
            "Choose another port with --port."
        ) from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def grpc_port_error(host: str, port: int, reason: str) -> ConfigError:
    """The error for a gRPC port this server cannot have; ``reason`` is used when
    binding the port again does not say why."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = exc.strerror or reason
    return ConfigError(
        f"Cannot listen for OTLP/gRPC on {host}:{port} ({reason}). Is another server "
        "running? Choose another port with --grpc-port, or -1 to turn gRPC off."
    )


def serve(
    settings: Settings,
    out: TextIO = sys.stdout,
    after_start: Callable[[Runtime, dict[str, Any]], Any] | None = None,
) -> None:
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
    if settings.workers > 1:
        from lamina.serve.supervisor import supervise

        supervise(settings, out)
        return
    store = open_store(settings)
    try:
        _serve(settings, store, out, after_start)
    finally:
        store.close()
    if not is_worker():  # a supervisor says it for all its workers
        print(STOPPED, file=out, flush=True)


def open_store(settings: Settings) -> Store:
    """The DuckDB file in the data dir, or the ClickHouse store ``--store`` names."""
    address = parse_store(settings.store)
    if address.kind == "duckdb":
        return DuckDBStore(
            settings.data_dir,
            settings.store_memory_mb,
            settings.threads_for_store,
            unstored_limit=settings.max_queue_spans,
        )
    from lamina.store.clickhouse.store import ClickHouseStore

    return ClickHouseStore(address)


def _serve(
    settings: Settings,
    store: Store,
    out: TextIO,
    after_start: Callable[[Runtime, dict[str, Any]], Any] | None,
) -> None:
    try:
        runtime = Runtime.build(settings, store)
    except ValueError as exc:  # a bad price file
        raise ConfigError(str(exc)) from None
    runtime.extras["admin_token"] = operations.admin_token(settings.data_dir)
    pages = _pages(runtime)
    slot = worker_slot()  # one of --workers N: the supervisor owns the port and the banner
    http_socket = slot.http_socket if slot is not None else bind(settings.host, settings.port)
    http_port = http_socket.getsockname()[1]
    info: dict[str, Any] = {
        "url": f"http://{_url_host(settings.host)}:{http_port}",
        "http_port": http_port,
        "host": settings.host,
    }

    async def main() -> None:
        grpc_server = None
        background: list[asyncio.Task[None]] = []
        if settings.grpc_port >= 0:
            try:
                grpc_server, info["grpc_port"] = await start_grpc(
                    runtime, settings.host, settings.grpc_port, share_port=slot is not None
                )
            except (OSError, RuntimeError) as exc:
                raise grpc_port_error(settings.host, settings.grpc_port, str(exc)) from None

        async def started() -> None:
            if slot is None or slot.index == 0:  # one worker applies retention
                background.append(
                    asyncio.get_running_loop().create_task(
                        retention.keep_applying(store, settings.retention_check_seconds)
                    )
                )
            if slot is not None:
                background.append(asyncio.get_running_loop().create_task(slot.stop_when_orphaned()))
                slot.ready()
            else:
                # Both ports listen now: a key made here is shown (the supervisor makes
                # it for its workers).
                project, first_key = operations.ensure_default_project(store)
                operations.write_server_file(settings.data_dir, info)
                extra = pages.banner_lines(info["url"]) if pages is not None else []
                _banner(out, settings, info, project.name, first_key, extra)
            if after_start is not None:
                result = after_start(runtime, info)
                if asyncio.iscoroutine(result):
                    asyncio.get_running_loop().create_task(result)

        async def stopping() -> None:
            if slot is None:
                operations.remove_server_file(settings.data_dir)
            for task in background:
                task.cancel()
            if grpc_server is not None:
                await grpc_server.stop(grace=5)

        app = create_app(runtime, on_start=[started], on_stop=[stopping], pages=pages)
        debug = settings.log_level.lower() == "debug"
        config = uvicorn.Config(
            app,
            log_level="debug" if debug else "warning",
            access_log=debug,
            lifespan="on",
            timeout_graceful_shutdown=10,
            http=http_protocol(Limits.of(settings)),
            ws="none",
            timeout_keep_alive=settings.keep_alive_seconds,
            server_header=False,
        )
        server = uvicorn.Server(config)
        stopper["server"] = server
        try:
            await server.serve(sockets=[http_socket])
        finally:
            if grpc_server is not None:
                await grpc_server.stop(grace=None)
        if not server.started:
            raise ConfigError("The server did not start; see the messages above.")

    # uvicorn handles SIGINT/SIGTERM while it serves, then re-raises the signal
    # against the handlers it found. These handlers make that a no-op, so the
    # process goes on to checkpoint the store and exit 0; a signal that arrives
    # before uvicorn starts asks it to stop as soon as it runs.
    stopper: dict[str, uvicorn.Server] = {}

    def stop(signum: int, frame: Any) -> None:
        server = stopper.get("server")
        if server is not None:
            server.should_exit = True

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    asyncio.run(main())


def _banner(
    out: TextIO,
    settings: Settings,
    info: dict[str, Any],
    project: str,
    first_key: str | None,
    extra: list[str],
) -> None:
    url = info["url"]
    grpc_text = f"{settings.host}:{info['grpc_port']}" if "grpc_port" in info else "off"
    lines = [f"Lamina is running: {url}   OTLP/HTTP: {url}/v1/traces   OTLP/gRPC: {grpc_text}"]
    if first_key is not None:
        lines.append(f'Project "{project}" API key: {first_key}   (shown once)')
    lines.extend(extra)
    address = parse_store(settings.store)
    if address.kind != "duckdb":
        lines.append(f"Store: {address.describe()}")
    lines.append(f"Data directory: {settings.data_dir.resolve()}")
    print("\n".join(lines), file=out, flush=True)


def _pages(runtime: Runtime) -> Pages | None:
    """The web pages, when this build has them."""
    import importlib.util

    if importlib.util.find_spec("lamina.web.pages") is None:
        return None
    from lamina.web import pages

    install = getattr(pages, "install", None)  # TODO: call directly once the pages land
    return install(runtime) if install is not None else None


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
