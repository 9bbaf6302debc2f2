"""``lamina serve``: HTTP and gRPC in one process, on one asyncio loop (uvloop's).

Start-up opens the store, binds both ports and, once both listen, creates
project "default" and its first key on a new data dir (so a start that fails on
a busy port leaves no key that was never shown), then records the running
server in the data dir so the CLI can reach it. SIGINT/SIGTERM stop accepting,
write everything already acknowledged or queued, checkpoint the store and exit.

HTTP connections are limited as :mod:`lamina.serve.connections` describes; the
ports are bound as :mod:`lamina.serve.sockets` describes. With ``--workers N``
this process is a supervisor (:mod:`lamina.serve.supervisor`) and each of its
workers runs :func:`serve` in a process of its own.

The loop is uvloop's, not asyncio's default: every request's own cost (reading it,
the timers of :mod:`lamina.serve.connections`, waking a task, writing the answer)
is smaller on it (docs/decisions.md, "The server runs on uvloop").
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any, TextIO

import uvicorn
import uvloop

from lamina import operations, retention
from lamina.errors import ConfigError
from lamina.evaluation import runner
from lamina.receivers.grpc import start_grpc
from lamina.serve import process
from lamina.serve.banner import print_banner
from lamina.serve.connections import Limits, http_protocol
from lamina.serve.sockets import bind, grpc_port_error
from lamina.serve.stores import open_store
from lamina.serve.supervisor import supervise
from lamina.serve.worker import is_worker, worker_slot
from lamina.server_runtime import ServerRuntime
from lamina.settings import Settings
from lamina.store.base import Store
from lamina.web import pages
from lamina.web.app import create_app

AfterStart = Callable[[ServerRuntime, dict[str, Any]], Any]


def serve(
    settings: Settings,
    out: TextIO = sys.stdout,
    after_start: AfterStart | None = None,
) -> None:
    """Run until SIGINT or SIGTERM; ``after_start(runtime, info)`` is called once both
    ports listen (``info`` is the running-server record)."""
    process.prepare(settings)
    if settings.workers > 1:
        supervise(settings, out)
        return
    store = open_store(settings)
    try:
        _serve(settings, store, out, after_start)
    finally:
        store.close()
    if not is_worker():  # a supervisor says it for all its workers
        print(process.STOPPED, file=out, flush=True)


def _serve(
    settings: Settings,
    store: Store,
    out: TextIO,
    after_start: AfterStart | None,
) -> None:
    try:
        runtime = ServerRuntime.build(
            settings, store, admin_token=operations.admin_token(settings.data_dir)
        )
    except ValueError as exc:  # a bad price file
        raise ConfigError(str(exc)) from None
    web_pages = pages.install(runtime)
    slot = worker_slot()  # one of --workers N: the supervisor owns the port and the banner
    http_socket = slot.http_socket if slot is not None else bind(settings.host, settings.port)
    http_port = http_socket.getsockname()[1]
    stop = process.SignalStop()

    async def main() -> None:
        grpc_server = None
        grpc_port = None
        background: list[asyncio.Task[None]] = []  # cancelled at stop
        after: list[asyncio.Task[Any]] = []  # kept until it ends
        if settings.grpc_port >= 0:
            try:
                grpc_server, grpc_port = await start_grpc(
                    runtime, settings.host, settings.grpc_port, share_port=slot is not None
                )
            except (OSError, RuntimeError) as exc:
                raise grpc_port_error(settings.host, settings.grpc_port, str(exc)) from None
        info = process.server_info(settings, http_port, grpc_port)

        async def started() -> None:
            loop = asyncio.get_running_loop()
            if slot is None or slot.index == 0:  # one worker applies retention
                background.append(
                    loop.create_task(
                        retention.keep_applying(store, settings.retention_check_seconds)
                    )
                )
            if settings.evaluator_concurrency > 0:  # each worker runs some (leases)
                background.append(
                    loop.create_task(runner.keep_running(store, settings, runtime.load))
                )
            if slot is not None:
                background.append(loop.create_task(slot.stop_when_orphaned()))
                slot.ready()
            else:
                # Both ports listen now: a key made here is shown (the supervisor makes
                # it for its workers).
                project, first_key = operations.ensure_default_project(store)
                operations.write_server_file(settings.data_dir, info)
                extra = web_pages.banner_lines(info["url"])
                print_banner(out, settings, info, project.name, first_key, extra)
            if after_start is not None:
                result = after_start(runtime, info)
                if asyncio.iscoroutine(result):
                    after.append(loop.create_task(result))

        async def stopping() -> None:
            if slot is None:
                operations.remove_server_file(settings.data_dir)
            for task in background:
                task.cancel()
            if grpc_server is not None:
                await grpc_server.stop(grace=5)

        app = create_app(runtime, on_start=[started], on_stop=[stopping], pages=web_pages)
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
        stop.attach(server)
        try:
            await server.serve(sockets=[http_socket])
        finally:
            if grpc_server is not None:
                await grpc_server.stop(grace=None)
        if not server.started:
            raise ConfigError("The server did not start; see the messages above.")

    uvloop.run(main())


__all__ = ["serve"]
