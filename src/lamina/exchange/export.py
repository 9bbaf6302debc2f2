"""The export file format: a project's (or one session's) data as JSONL or Parquet.

JSONL is one file: a header line ``{"lamina_export": 1, ...}``, then one line per
session, trace, span, score, comment, dataset and dataset item, experiment and
experiment item (those four of a project's export only: lamina.exchange.datasets and
lamina.exchange.experiments), each with ``"kind"``, then a trailer line ``{"kind":
"trailer", "sessions": N, "traces": N, "spans": N, "scores": N, "comments": N,
"datasets": N, "dataset_items": N, "experiments": N, "experiment_items": N}``: a file
without it was cut short (a download that broke off, a disk that filled). Rows carry the
JSON API's fields, plus exact nanosecond times (``start_ns``, ``end_ns``, events'
``time_ns``, scores' and comments' ``created_ns``) and, for spans, their ``trace_id``.
Parquet is a directory holding ``sessions.parquet``, ``traces.parquet``,
``spans.parquet``, ``scores.parquet`` and ``comments.parquet``, with the same columns
(times as UTC timestamps and nanoseconds; JSON objects as JSON text), and no datasets.
Exports made before scores (or comments, or datasets) have no count or file of them.
Stars are not exported.

:func:`export_page` reads the store a page at a time; the JSON API's download and
``lamina export`` write the pages with :func:`jsonl_lines` or :func:`write_parquet`.
:mod:`lamina.exchange.importing` reads the files back.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson

from lamina.errors import BadRequest, NotFound
from lamina.exchange import datasets, experiments
from lamina.query.present import moment
from lamina.store.base import ExportKind, Store
from lamina.store.comments import CommentQuery
from lamina.store.queries import MAX_LIMIT, Cursor
from lamina.store.scores import ScoreQuery

FORMAT_VERSION = 1
KINDS = (
    "sessions",
    "traces",
    "spans",
    "scores",
    "comments",
    "datasets",
    "dataset_items",
    "experiments",
    "experiment_items",
)
# The kinds a Parquet export has a file of (datasets are JSONL only).
PARQUET_KINDS = KINDS[:5]
FORMATS = ("jsonl", "parquet")
_KIND_OF_LINE = {
    "sessions": "session",
    "traces": "trace",
    "spans": "span",
    "scores": "score",
    "comments": "comment",
    "datasets": "dataset",
    "dataset_items": "dataset_item",
    "experiments": "experiment",
    "experiment_items": "experiment_item",
}
# Kinds read from the store's own lists (their pages' cursors are "created"), not pages
# of stored rows; a session's are asked for even when it has no traces left.
_LISTED = ("scores", "comments", "datasets", "dataset_items", "experiments", "experiment_items")
_JSON_TEXT = ("metadata", "attributes", "events", "resource")
MAX_EXPORT_PAGE = 5000
# A page of an export holds at most about this much span text (and one span at
# least), however many spans that is: 2,000 spans of 150 KB in one page ran the
# store out of memory (256 MB) before the first span was sent.
EXPORT_PAGE_BYTES = 8 * 1024 * 1024

# A page of export lines of one kind (see export_page): (kind, after) -> page.
Fetch = Callable[[str, str | None], Mapping[str, Any]]
# Pages of export lines, every kind in order: (kind, lines).
Rows = Iterator[tuple[str, list[Any]]]


def iso(ns: int | None) -> str | None:
    """An export line's time: ISO-8601 in UTC, as the JSON API writes it."""
    found = moment(ns)
    return None if found is None else found.isoformat().replace("+00:00", "Z")


def line(kind: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored row (see ``Store.export_page``) as an export line."""
    out: dict[str, Any] = {"kind": _KIND_OF_LINE[kind], **row}
    out["start_time"] = iso(row.get("start_ns"))
    out["end_time"] = iso(row.get("end_ns"))
    if kind == "spans":
        out["events"] = [
            {**event, "time": iso(event.get("time_ns"))} if isinstance(event, dict) else event
            for event in row.get("events") or []
        ]
    return out


def export_page(
    store: Store,
    project_id: str,
    kind: str,
    after: str | None = None,
    limit: int = 1000,
    session_id: str | None = None,
) -> dict[str, Any]:
    """One page of export lines of one kind, and the next cursor."""
    if kind not in KINDS:
        raise BadRequest(f"Cannot export {kind!r}: choose one of {', '.join(KINDS)}.")
    if not 1 <= limit <= MAX_EXPORT_PAGE:
        raise BadRequest(f"limit must be between 1 and {MAX_EXPORT_PAGE}.")
    if (
        session_id is not None
        and after is None
        and kind not in _LISTED
        and store.get_session(project_id, session_id) is None
    ):
        raise NotFound(f'No session "{session_id}" in this project.')
    if kind == "scores":
        return _scores_page(store, project_id, after, limit, session_id)
    if kind == "comments":
        return _comments_page(store, project_id, after, limit, session_id)
    if kind == "datasets":
        return datasets.datasets_page(store, project_id, session_id)
    if kind == "dataset_items":
        return datasets.items_page(store, project_id, after, limit, session_id)
    if kind == "experiments":
        return experiments.experiments_page(store, project_id, session_id)
    if kind == "experiment_items":
        return experiments.items_page(store, project_id, after, limit, session_id)
    page = store.export_page(
        project_id,
        ExportKind(kind),
        after=after,
        limit=limit,
        session_id=session_id,
        max_bytes=EXPORT_PAGE_BYTES if kind == "spans" else None,
    )
    return {
        "items": [line(kind, row) for row in page.items],
        "next_cursor": page.next_cursor,
    }


def _scores_page(
    store: Store, project_id: str, after: str | None, limit: int, session_id: str | None
) -> dict[str, Any]:
    """A page of the project's (or the session's) scores, newest first."""
    cursor = Cursor.decode(after, "created") if after else None
    query = ScoreQuery(limit=min(limit, MAX_LIMIT), cursor=cursor, session_id=session_id)
    page = store.list_scores(project_id, query)
    items = [
        {"kind": "score", **asdict(item), "created_at": iso(item.created_ns)} for item in page.items
    ]
    return {"items": items, "next_cursor": page.next_cursor}


def _comments_page(
    store: Store, project_id: str, after: str | None, limit: int, session_id: str | None
) -> dict[str, Any]:
    """A page of the project's (or the session's) comments, oldest first."""
    cursor = Cursor.decode(after, "created") if after else None
    query = CommentQuery(limit=min(limit, MAX_LIMIT), cursor=cursor, session_id=session_id)
    page = store.list_comments(project_id, query)
    items = [
        {"kind": "comment", **asdict(item), "created_at": iso(item.created_ns)}
        for item in page.items
    ]
    return {"items": items, "next_cursor": page.next_cursor}


def header(project: str, session_id: str | None = None) -> dict[str, Any]:
    import time

    out: dict[str, Any] = {
        "lamina_export": FORMAT_VERSION,
        "project": project,
        "exported_at": iso(time.time_ns()),
    }
    if session_id is not None:
        out["session_id"] = session_id
    return out


def pages(fetch: Fetch, kinds: tuple[str, ...] = KINDS) -> Rows:
    """Every page of every kind, in order: (kind, export lines)."""
    for kind in kinds:
        after: str | None = None
        while True:
            page = fetch(kind, after)
            yield kind, list(page["items"])
            after = page["next_cursor"]
            if after is None:
                break


def jsonl_lines(first: Mapping[str, Any], rows: Rows) -> Iterator[bytes]:
    """The JSONL file, a chunk of lines per page, and the trailer once every page has
    been read (never when a page fails: the file then shows it was cut short)."""
    yield orjson.dumps(first) + b"\n"
    counts = dict.fromkeys(KINDS, 0)
    for kind, items in rows:
        if items:
            counts[kind] += len(items)
            yield b"".join(orjson.dumps(item) + b"\n" for item in items)
    yield orjson.dumps({"kind": "trailer", **counts}) + b"\n"


def write_file(target: Path, chunks: Iterator[bytes]) -> None:
    """``chunks`` into ``target``, through a new temporary file beside it (made with
    O_EXCL and O_NOFOLLOW, so nothing planted there is followed or overwritten),
    renamed over ``target`` once complete. Readable by its owner only: an export holds
    every prompt."""
    target = target.absolute()
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
        os.replace(name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise


# -- Parquet --------------------------------------------------------------------------------


def _schemas() -> dict[str, Any]:
    import pyarrow as pa

    time = pa.timestamp("ns", tz="UTC")
    text, integer, number = pa.string(), pa.int64(), pa.float64()
    texts = pa.list_(pa.string())
    common = [
        ("start_time", time),
        ("end_time", time),
        ("start_ns", integer),
        ("end_ns", integer),
        ("duration_ms", number),
        ("input_tokens", integer),
        ("output_tokens", integer),
        ("cost", number),
    ]
    return {
        "sessions": pa.schema(
            [
                ("session_id", text),
                ("trace_count", integer),
                ("span_count", integer),
                *common,
                ("active_duration_ms", number),
                ("total_tokens", integer),
                ("user_ids", texts),
                ("error_count", integer),
                ("first_input", text),
                ("last_output", text),
            ]
        ),
        "traces": pa.schema(
            [
                ("trace_id", text),
                ("session_id", text),
                ("user_id", text),
                ("name", text),
                *common,
                ("status", text),
                ("span_count", integer),
                ("error_count", integer),
                ("total_tokens", integer),
                ("tags", texts),
                ("metadata", text),
                ("input_preview", text),
                ("output_preview", text),
            ]
        ),
        "scores": pa.schema(
            [
                ("score_id", text),
                ("name", text),
                ("value", number),
                ("label", text),
                ("source", text),
                ("author", text),
                ("session_id", text),
                ("trace_id", text),
                ("span_id", text),
                ("comment", text),
                ("created_ns", integer),
                ("created_at", time),
            ]
        ),
        "comments": pa.schema(
            [
                ("comment_id", text),
                ("session_id", text),
                ("trace_id", text),
                ("span_id", text),
                ("body", text),
                ("author", text),
                ("author_id", text),
                ("created_ns", integer),
                ("created_at", time),
            ]
        ),
        # a dataset's items (GET /api/v1/datasets/{name}/items?format=parquet); values
        # as JSON text, as the JSONL lines hold them parsed
        "dataset_items": pa.schema(
            [
                ("dataset", text),
                ("item_id", text),
                ("input", text),
                ("expected_output", text),
                ("metadata", text),
                ("source", text),
                ("created_ns", integer),
                ("created_at", time),
                ("updated_ns", integer),
                ("updated_at", time),
            ]
        ),
        "spans": pa.schema(
            [
                ("trace_id", text),
                ("span_id", text),
                ("parent_span_id", text),
                ("name", text),
                ("span_type", text),
                *common,
                ("status", text),
                ("status_message", text),
                ("session_id", text),
                ("user_id", text),
                ("input", text),
                ("output", text),
                ("model", text),
                ("provider", text),
                ("tags", texts),
                ("metadata", text),
                ("attributes", text),
                ("events", text),
                ("resource", text),
                ("service_name", text),
            ]
        ),
    }


def _parquet_row(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    if row.get("kind") == "dataset_item":
        for name in ("input", "expected_output", "metadata", "source"):
            value = row.get(name)
            out[name] = None if value is None else orjson.dumps(value).decode()
        out["created_at"], out["updated_at"] = row.get("created_ns"), row.get("updated_ns")
        return out
    if row.get("kind") in ("score", "comment"):
        out["created_at"] = row.get("created_ns")
        return out
    out["start_time"] = row.get("start_ns")
    out["end_time"] = row.get("end_ns")
    for name in _JSON_TEXT:
        if name in out and not isinstance(out[name], str):
            out[name] = orjson.dumps(out[name]).decode()
    return out


def write_parquet(directory: Path, rows: Rows, kinds: tuple[str, ...] = PARQUET_KINDS) -> None:
    """``sessions.parquet``, ``traces.parquet`` and ``spans.parquet`` in ``directory``
    (made if new), each written to a new temporary file and renamed into place once
    all three are complete; the files of ``kinds`` (a dataset's: ``dataset_items``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if directory.exists() and not directory.is_dir():
        raise BadRequest(
            f"{directory} is a file, and a Parquet export is a directory of three files. "
            "Choose a new name, or an existing directory, with --output."
        )
    schemas = _schemas()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    files: dict[str, tuple[Path, Any, Any]] = {}  # kind -> (temporary file, handle, writer)
    try:
        for kind, items in rows:
            if kind not in kinds:  # a project's datasets: JSONL only (lamina.exchange.datasets)
                continue
            if kind not in files:
                fd, name = tempfile.mkstemp(dir=directory, prefix=f".{kind}.", suffix=".partial")
                handle = os.fdopen(fd, "wb")
                writer = pq.ParquetWriter(handle, schemas[kind], compression="zstd")
                files[kind] = (Path(name), handle, writer)
            if items:
                table = pa.Table.from_pylist([_parquet_row(i) for i in items], schemas[kind])
                files[kind][2].write_table(table)
        for _, handle, writer in files.values():
            writer.close()
            handle.close()
        for kind, (path, _, _) in files.items():
            os.replace(path, directory / f"{kind}.parquet")
    except BaseException:
        for path, handle, writer in files.values():
            with contextlib.suppress(Exception):
                writer.close()
            handle.close()
            path.unlink(missing_ok=True)
        raise
