"""The JSON API, v1: sessions and traces, authenticated by a project API key.

Every handler resolves the key to its project first, then asks the query
layer (the same functions the pages use). A session or trace of another
project is a 404, never a 403.

A signed-in browser may call the API without a key; for a DELETE it must also
send its CSRF token in ``X-CSRF-Token`` (the one its forms carry), and an
``Origin`` header, if any, must name this server.
"""

from __future__ import annotations

import hmac
import shutil
import tempfile
import zipfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import Route

from lamina import lifecycle
from lamina.errors import BadRequest, Forbidden
from lamina.exchange import export
from lamina.query import present
from lamina.runtime import Runtime

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
CSRF_HEADER = "x-csrf-token"


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=str)


Handler = Callable[[Runtime, str, Request], Any]


def _endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        runtime: Runtime = request.app.state.runtime
        project_id = await project_of(request)
        result = await run_in_threadpool(handler, runtime, project_id, request)
        return JSONResponse(result)

    return endpoint


async def project_of(request: Request) -> str:
    """The project a request may read: from its API key, or the signed-in browser."""
    runtime: Runtime = request.app.state.runtime
    browser = runtime.extras.get("browser_project")
    if browser is not None and request.headers.get("authorization") is None:
        project: str = await browser(request)
        if request.method not in SAFE_METHODS:
            _check_browser_write(request)
        return project
    return await run_in_threadpool(runtime.keys.project_for, request.headers.get("authorization"))


def _check_browser_write(request: Request) -> None:
    """A change asked for by a signed-in browser must come from our own page."""
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower():
        raise Forbidden("This request came from another site, so it was refused.")
    visitor = request.scope.get("lamina.visitor")  # set by the pages' sign-in check
    expected = str(getattr(visitor, "csrf", "") or "")
    sent = request.headers.get(CSRF_HEADER, "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden(
            "Send the page's CSRF token in the X-CSRF-Token header (or use an API key)."
        )


def _sessions(runtime: Runtime, project_id: str, request: Request) -> Any:
    metadata = request.query_params.getlist("metadata")
    return present.list_sessions(runtime.store, project_id, request.query_params, metadata)


def _session(runtime: Runtime, project_id: str, request: Request) -> Any:
    return present.get_session(runtime.store, project_id, request.path_params["session_id"])


def _traces(runtime: Runtime, project_id: str, request: Request) -> Any:
    metadata = request.query_params.getlist("metadata")
    return present.list_traces(runtime.store, project_id, request.query_params, metadata)


def _trace(runtime: Runtime, project_id: str, request: Request) -> Any:
    return present.get_trace(runtime.store, project_id, request.path_params["trace_id"])


def _span_value(runtime: Runtime, project_id: str, request: Request) -> Any:
    path = request.path_params
    return present.span_value(
        runtime.store, project_id, path["trace_id"], path["span_id"], path["field"]
    )


def _delete_session(runtime: Runtime, project_id: str, request: Request) -> Any:
    session_id = request.path_params["session_id"]
    return lifecycle.delete_session(runtime.store, project_id, session_id)


def _delete_trace(runtime: Runtime, project_id: str, request: Request) -> Any:
    return lifecycle.delete_trace(runtime.store, project_id, request.path_params["trace_id"])


async def _export(request: Request) -> Response:
    """The project's (or one session's) data as a download (see lamina.exchange.export): one JSONL
    file, or the three Parquet files of ``lamina export --format parquet`` in a zip."""
    runtime: Runtime = request.app.state.runtime
    project_id = await project_of(request)
    file_format = request.query_params.get("format", "jsonl")
    if file_format not in export.FORMATS:
        raise BadRequest("format must be jsonl or parquet.")
    session_id = request.query_params.get("session_id") or None

    def fetch(kind: str, after: str | None) -> dict[str, Any]:
        return export.export_page(runtime.store, project_id, kind, after, 2000, session_id)

    if session_id is not None:  # a missing session is a 404, before the download starts
        await run_in_threadpool(fetch, "sessions", None)
    project = await run_in_threadpool(runtime.store.find_project, project_id)
    project_name = project.name if project else project_id
    stem = f"session-{session_id}" if session_id is not None else f"lamina-{project_name}"
    if file_format == "parquet":
        folder = await run_in_threadpool(_parquet_zip, export.pages(fetch))
        return FileResponse(
            folder / "export.zip",
            media_type="application/zip",
            headers={"Content-Disposition": attachment(stem, ".parquet.zip")},
            background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
        )
    header = export.header(project_name, session_id)
    return StreamingResponse(
        export.jsonl_lines(header, export.pages(fetch)),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": attachment(stem, ".jsonl")},
    )


def _parquet_zip(rows: Iterator[tuple[str, list[Any]]]) -> Path:
    """A temporary folder holding export.zip: sessions, traces and spans.parquet."""
    folder = Path(tempfile.mkdtemp(prefix="lamina-export-"))
    try:
        export.write_parquet(folder / "tables", rows)
        # Parquet is compressed already (zstd): store the files as they are
        with zipfile.ZipFile(folder / "export.zip", "w", zipfile.ZIP_STORED) as archive:
            for kind in export.KINDS:
                archive.write(folder / "tables" / f"{kind}.parquet", f"{kind}.parquet")
        shutil.rmtree(folder / "tables")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder


def attachment(stem: str, extension: str) -> str:
    """A Content-Disposition for a download: a plain ASCII name, and the exact one."""
    plain = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in stem)
    exact = quote(stem[:120], safe="")
    return (
        f'attachment; filename="{plain[:120]}{extension}"; '
        f"filename*=UTF-8''{exact}{quote(extension)}"
    )


async def _openapi(request: Request) -> Response:
    from lamina.web.openapi import document

    return JSONResponse(document())


routes = [
    Route("/api/v1/openapi.json", _openapi),
    Route("/api/v1/export", _export),
    Route("/api/v1/sessions", _endpoint(_sessions)),
    Route("/api/v1/sessions/{session_id:path}", _endpoint(_session)),
    Route("/api/v1/sessions/{session_id:path}", _endpoint(_delete_session), methods=["DELETE"]),
    Route("/api/v1/traces", _endpoint(_traces)),
    Route("/api/v1/traces/{trace_id}", _endpoint(_trace)),
    Route("/api/v1/traces/{trace_id}", _endpoint(_delete_trace), methods=["DELETE"]),
    Route("/api/v1/traces/{trace_id}/spans/{span_id}/{field}", _endpoint(_span_value)),
]
