"""The HTTP application: OTLP/HTTP, the JSON API and the pages."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from lamina.errors import LaminaError, Overloaded
from lamina.receivers import http as otlp
from lamina.server_runtime import ServerRuntime
from lamina.web import admin, api, comments, datasets, laminar, metrics, scores, shares
from lamina.web import console as console_api
from lamina.web import evaluators as evaluator_api
from lamina.web import experiments as experiment_api
from lamina.web import users as user_api
from lamina.web.api import JSONResponse
from lamina.web.direct import Direct

log = logging.getLogger("lamina.web")

Hook = Callable[[], Awaitable[None]]


async def health(request: Request) -> Response:
    """200 while acknowledged spans are being stored; 503 with the reason while they
    cannot be (they wait in the journal). Writes the store set aside because it could
    not hold them (see lamina.store.duckdb.quarantine) are named, with a warning."""
    runtime: ServerRuntime = request.app.state.runtime
    failure = runtime.store.write_failure()
    body: dict[str, Any] = {
        "status": "ok" if failure is None else "failing",
        "queued_spans": runtime.batcher.queued_spans,
        "spans_written": runtime.batcher.stats.spans_written,
    }
    if failure is not None:
        body["reason"] = failure
    if quarantined := runtime.store.quarantined_ids():
        body["quarantined"] = quarantined
        body["warning"] = (
            f"{len(quarantined)} write(s) did not fit in the store's memory and were set aside "
            "in the data directory's quarantine folder; see `lamina quarantine list`."
        )
    return JSONResponse(body, 200 if failure is None else 503)


def error_response(request: Request, error: LaminaError) -> Response:
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, Overloaded) else None
    renderer = request.app.state.error_page
    if renderer is not None and not request.url.path.startswith(("/api/", "/v1/")):
        page: Response = renderer(request, error)
        return page
    return JSONResponse(error.to_json(), error.status, headers)


async def _lamina_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LaminaError)
    return error_response(request, exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error = LaminaError(exc.detail if exc.status_code != 404 else _nothing_at(request))
    error.status = exc.status_code  # type: ignore[misc]
    error.code = "not_found" if exc.status_code == 404 else "http_error"  # type: ignore[misc]
    return error_response(request, error)


def _nothing_at(request: Request) -> str:
    """A 404's message: under /v1/ (Laminar's API beside OTLP's), the call a Laminar SDK
    made that Lamina does not serve (its browser sessions, signals, CLI), named."""
    if request.url.path.startswith("/v1/"):
        return (
            f"Lamina does not serve {request.method} {request.url.path[:200]}: this part of "
            "Laminar's API is not in Lamina (docs/compatibility.md, 'Moving from Laminar', "
            "lists the calls it serves)."
        )
    return "There is nothing at this address."


async def _client_gone(request: Request, exc: Exception) -> Response:
    """The client closed the connection, or was cut off for sending too slowly
    (lamina.serve.connections), while its body was read: no one is left to answer, and
    nothing went wrong here worth a traceback in the log: one line at debug."""
    log.debug(
        "%s %s: the client left before sending its whole body", request.method, request.url.path
    )
    return Response(status_code=400)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(request, LaminaError("Something went wrong on the server; see its log."))


class Pages(Protocol):
    """What the web pages plug into the app (see lamina.web.pages.install)."""

    routes: list[BaseRoute]
    middleware: list[Middleware]

    def error_page(self, request: Request, error: LaminaError) -> Response: ...

    def banner_lines(self, url: str) -> list[str]:
        """Lines `lamina serve` prints at start (a first sign-in link, say)."""


def create_app(
    runtime: ServerRuntime,
    on_start: list[Hook] | None = None,
    on_stop: list[Hook] | None = None,
    pages: Pages | None = None,
) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await asyncio.to_thread(runtime.decoder.start)
        runtime.batcher.start()
        runtime.scores.start()
        for hook in on_start or []:
            await hook()
        try:
            yield
        finally:
            for hook in on_stop or []:
                await hook()
            runtime.batcher.stop()
            runtime.scores.stop()
            runtime.decoder.stop()

    # The router tries routes in order: the ones a client calls many times a second
    # (spans, scores) come first, so they are found without trying the rest.
    routes: list[BaseRoute] = [
        *otlp.routes,
        *scores.routes,
        Route("/healthz", health),
        *api.routes,
        *evaluator_api.routes,
        *comments.routes,
        *metrics.routes,
        *console_api.routes,
        *user_api.routes,
        *shares.routes,
        *datasets.routes,
        *experiment_api.routes,
        *laminar.routes,
        *admin.routes,
        *(pages.routes if pages is not None else []),
    ]
    handlers: dict[Any, Any] = {
        LaminaError: _lamina_error,
        HTTPException: _http_error,
        ClientDisconnect: _client_gone,
        Exception: _unexpected,
    }
    app = Starlette(
        routes=routes,
        # innermost, Direct: the score requests' shortcut past the router
        middleware=[
            *(pages.middleware if pages is not None else []),
            Middleware(Direct, endpoints=scores.direct),
        ],
        exception_handlers=handlers,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.pages = pages
    app.state.error_page = pages.error_page if pages is not None else None
    return app
