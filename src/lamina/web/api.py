"""The JSON API, v1: a project's sessions and traces, its export and import.

Every handler resolves the caller's project first (:func:`lamina.web.access.project_of`:
from a project API key, or named by the admin token or a signed-in browser), then asks
the query layer (the same functions the pages use). A session or trace of another
project is a 404, never a 403. :mod:`lamina.web.admin` holds the managing routes.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import zipfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import Route

from lamina import lifecycle
from lamina.errors import BadRequest
from lamina.evaluation import datasets as dataset_checks
from lamina.evaluation import experiments as run_checks
from lamina.exchange import comments as imported_comments
from lamina.exchange import datasets as exported_datasets
from lamina.exchange import experiments as exported_experiments
from lamina.exchange import export, importing
from lamina.query import present
from lamina.query import scores as judged
from lamina.query.scores import Giver
from lamina.server_runtime import ServerRuntime
from lamina.store.base import Store
from lamina.web.access import commenter_of, giver_of, project_of, viewer_of
from lamina.web.bodies import read_body

MiB = 1024 * 1024
# An import request's body: `lamina import` sends chunks of at most about 8 MiB.
MAX_IMPORT_BODY = 64 * MiB


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return present.json_bytes(content)


Handler = Callable[[ServerRuntime, str, Request], Any]


def _endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        runtime: ServerRuntime = request.app.state.runtime
        project_id = await project_of(request)
        result = await run_in_threadpool(handler, runtime, project_id, request)
        return JSONResponse(result)

    return endpoint


def _listing(read: Callable[..., Any]) -> Callable[[Request], Awaitable[Response]]:
    """A list of sessions or traces, with the signed-in user's stars (see
    lamina.query.comments)."""

    async def endpoint(request: Request) -> Response:
        runtime: ServerRuntime = request.app.state.runtime
        project_id = await project_of(request)
        viewer = await viewer_of(request)
        metadata = request.query_params.getlist("metadata")
        result = await run_in_threadpool(
            read, runtime.store, project_id, request.query_params, metadata, viewer
        )
        return JSONResponse(result)

    return endpoint


def _session(runtime: ServerRuntime, project_id: str, request: Request) -> Any:
    return present.get_session(runtime.store, project_id, request.path_params["session_id"])


def _trace(runtime: ServerRuntime, project_id: str, request: Request) -> Any:
    return present.get_trace(runtime.store, project_id, request.path_params["trace_id"])


def _span_value(runtime: ServerRuntime, project_id: str, request: Request) -> Any:
    path = request.path_params
    return present.span_value(
        runtime.store, project_id, path["trace_id"], path["span_id"], path["field"]
    )


def _delete_session(runtime: ServerRuntime, project_id: str, request: Request) -> Any:
    session_id = request.path_params["session_id"]
    return lifecycle.delete_session(runtime.store, project_id, session_id)


def _delete_trace(runtime: ServerRuntime, project_id: str, request: Request) -> Any:
    return lifecycle.delete_trace(runtime.store, project_id, request.path_params["trace_id"])


async def _export(request: Request) -> Response:
    """The project's (or one session's) data as a download (see lamina.exchange.export): one JSONL
    file, or the three Parquet files of ``lamina export --format parquet`` in a zip."""
    runtime: ServerRuntime = request.app.state.runtime
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


async def _import(request: Request) -> Response:
    """Store the span lines of an export (JSONL) in the project, through the ingest
    batcher as OTLP spans are: answered once they are committed, all or none; then
    its score lines, as they were given (checked first, lamina.query.scores), its
    comment lines (on the sessions and traces the project then has; as written with the
    admin token, else as the sender's), and its datasets and experiment runs with their
    items (checked first: lamina.evaluation.datasets and .experiments)."""
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    giver = await giver_of(request, project_id)
    commenter = await commenter_of(request, project_id)
    body, taken = await read_body(
        request,
        runtime,
        MAX_IMPORT_BODY,
        f"An import request may hold at most {MAX_IMPORT_BODY // MiB} MiB of lines. "
        "`lamina import` sends its spans in chunks well below that: a single span this "
        "large cannot be imported.",
    )
    try:
        batch, traces, scores = await run_in_threadpool(
            _import_batch, runtime.store, project_id, body, giver
        )
        datasets, runs = await run_in_threadpool(_import_owned, body)
        comments = await run_in_threadpool(imported_comments.comments_of_lines, body)
        comments = imported_comments.written_by(comments, commenter)
        del body  # not held while the batch waits for its commit
        if batch.count:
            await runtime.batcher.enqueue(batch)
    finally:
        runtime.bodies.give_back(taken)
    if scores:
        await run_in_threadpool(runtime.store.add_scores, project_id, scores)
    stored = 0
    if comments:
        stored = await run_in_threadpool(
            imported_comments.store_comments, runtime.store, project_id, comments
        )
    made = ran = (0, 0)
    if datasets:
        made = await run_in_threadpool(
            dataset_checks.store_imported, runtime.store, project_id, datasets
        )
    if runs:
        ran = await run_in_threadpool(run_checks.store_imported, runtime.store, project_id, runs)
    return JSONResponse(
        {
            "spans": batch.count,
            "traces": traces,
            "scores": len(scores),
            "comments": stored,
            "datasets": made[0],
            "dataset_items": made[1],
            "experiments": ran[0],
            "experiment_items": ran[1],
        }
    )


def _import_owned(body: bytes) -> tuple[list[dataset_checks.Imported], list[Any]]:
    """The dataset and experiment lines (each kind's items too), checked before anything
    is stored."""
    now = time.time_ns()
    datasets = dataset_checks.imported(exported_datasets.datasets_of_lines(body), now)
    runs = run_checks.imported(exported_experiments.experiments_of_lines(body), now)
    return datasets, runs


def _import_batch(
    store: Store, project_id: str, body: bytes, giver: Giver
) -> tuple[Any, int, list[Any]]:
    spans, scores = importing.rows_of_lines(body)
    if scores:  # a refused score refuses the spans too
        scores = judged.check_imported(scores, judged.configs(store, project_id), giver)
    batch, traces = importing.to_batch(project_id, spans)
    return batch, traces, scores


def _parquet_zip(rows: Iterator[tuple[str, list[Any]]]) -> Path:
    """A temporary folder holding export.zip: sessions, traces, spans and scores.parquet."""
    folder = Path(tempfile.mkdtemp(prefix="lamina-export-"))
    try:
        export.write_parquet(folder / "tables", rows)
        # Parquet is compressed already (zstd): store the files as they are
        with zipfile.ZipFile(folder / "export.zip", "w", zipfile.ZIP_STORED) as archive:
            for kind in export.PARQUET_KINDS:
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
    Route("/api/v1/import", _import, methods=["POST"]),
    Route("/api/v1/sessions", _listing(present.list_sessions)),
    Route("/api/v1/sessions/{session_id:path}", _endpoint(_session)),
    Route("/api/v1/sessions/{session_id:path}", _endpoint(_delete_session), methods=["DELETE"]),
    Route("/api/v1/traces", _listing(present.list_traces)),
    Route("/api/v1/traces/{trace_id}", _endpoint(_trace)),
    Route("/api/v1/traces/{trace_id}", _endpoint(_delete_trace), methods=["DELETE"]),
    Route("/api/v1/traces/{trace_id}/spans/{span_id}/{field}", _endpoint(_span_value)),
]
