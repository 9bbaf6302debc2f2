"""The export file format: a project's (or one session's) data as JSONL or Parquet, and
back into span records for import.

JSONL is one file: a header line ``{"lamina_export": 1, ...}``, then one line per
session, trace and span, each with ``"kind"``. Rows carry the JSON API's fields, plus
exact nanosecond times (``start_ns``, ``end_ns``, events' ``time_ns``) and, for spans,
their ``trace_id``. Parquet is a directory holding ``sessions.parquet``,
``traces.parquet`` and ``spans.parquet``, with the same columns (times as UTC
timestamps and nanoseconds; JSON objects as JSON text).

Import reads only the spans: a store recomputes the trace and session summaries from
them, exactly as at ingest.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from lamina.errors import BadRequest
from lamina.query.present import iso
from lamina.spans import SpanRecord

FORMAT_VERSION = 1
KINDS = ("sessions", "traces", "spans")
FORMATS = ("jsonl", "parquet")
_KIND_OF_LINE = {"sessions": "session", "traces": "trace", "spans": "span"}
_HEX = re.compile(r"^[0-9a-f]+$")
_JSON_TEXT = ("metadata", "attributes", "events", "resource")
_MAX_TIME = 2**63

# A page of rows of one kind, from Operations.export_page: (kind, after) -> page.
Fetch = Callable[[str, str | None], Mapping[str, Any]]


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


def pages(fetch: Fetch, kinds: tuple[str, ...] = KINDS) -> Iterator[tuple[str, list[Any]]]:
    """Every page of every kind, in order: (kind, export lines)."""
    for kind in kinds:
        after: str | None = None
        while True:
            page = fetch(kind, after)
            yield kind, list(page["items"])
            after = page["next_cursor"]
            if after is None:
                break


def jsonl_lines(first: Mapping[str, Any], rows: Iterator[tuple[str, list[Any]]]) -> Iterator[bytes]:
    """The JSONL file, a chunk of lines per page."""
    yield orjson.dumps(first) + b"\n"
    for _, items in rows:
        if items:
            yield b"".join(orjson.dumps(item) + b"\n" for item in items)


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
    out["start_time"] = row.get("start_ns")
    out["end_time"] = row.get("end_ns")
    for name in _JSON_TEXT:
        if name in out and not isinstance(out[name], str):
            out[name] = orjson.dumps(out[name]).decode()
    return out


def write_parquet(directory: Path, rows: Iterator[tuple[str, list[Any]]]) -> None:
    """``sessions.parquet``, ``traces.parquet`` and ``spans.parquet`` in ``directory``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schemas = _schemas()
    directory.mkdir(parents=True, exist_ok=True)
    writers: dict[str, Any] = {}
    try:
        for kind, items in rows:
            writer = writers.get(kind)
            if writer is None:
                writer = writers[kind] = pq.ParquetWriter(
                    directory / f"{kind}.parquet", schemas[kind], compression="zstd"
                )
            if items:
                table = pa.Table.from_pylist([_parquet_row(i) for i in items], schemas[kind])
                writer.write_table(table)
    finally:
        for writer in writers.values():
            writer.close()


# -- import -------------------------------------------------------------------------------------


def read_spans(path: Path, chunk: int = 2000) -> Iterator[list[dict[str, Any]]]:
    """The span rows of an export (a JSONL file, a spans.parquet, or a Parquet export
    directory), ``chunk`` at a time."""
    if path.is_dir():
        path = path / "spans.parquet"
        if not path.is_file():
            raise BadRequest(f"{path.parent} holds no spans.parquet: not a Lamina export.")
    if not path.is_file():
        raise BadRequest(f"There is no file {path}.")
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic == b"PAR1":
        yield from _parquet_spans(path, chunk)
    elif magic == b"PK\x03\x04":
        yield from _zipped_spans(path, chunk)
    else:
        yield from _jsonl_spans(path, chunk)


def _zipped_spans(path: Path, chunk: int) -> Iterator[list[dict[str, Any]]]:
    """The spans.parquet of a zip (the session page's Parquet download)."""
    try:
        with zipfile.ZipFile(path) as archive, tempfile.TemporaryDirectory() as folder:
            if "spans.parquet" not in archive.namelist():
                raise BadRequest(f"{path} holds no spans.parquet: not a Lamina export.")
            archive.extract("spans.parquet", folder)
            yield from _parquet_spans(Path(folder) / "spans.parquet", chunk)
    except zipfile.BadZipFile as exc:
        raise BadRequest(f"{path} is not a readable zip file ({exc}).") from None


def _jsonl_spans(path: Path, chunk: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                item = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise BadRequest(f"{path}, line {number}: not JSON ({exc}).") from None
            if not isinstance(item, dict):
                raise BadRequest(f"{path}, line {number}: not a JSON object.")
            version = item.get("lamina_export")
            if version is not None:
                if not isinstance(version, int) or version > FORMAT_VERSION:
                    raise BadRequest(
                        f"{path} was written by a newer Lamina (export format {version}); "
                        "upgrade Lamina to import it."
                    )
                continue
            if item.get("kind") == "span":
                item["_where"] = f"{path.name}, line {number}"
                batch.append(item)
                if len(batch) >= chunk:
                    yield batch
                    batch = []
    if batch:
        yield batch


def _parquet_spans(path: Path, chunk: int) -> Iterator[list[dict[str, Any]]]:
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several kinds for a damaged file
        raise BadRequest(f"{path} is not a readable Parquet file ({exc}).") from None
    if "span_id" not in source.schema_arrow.names:
        raise BadRequest(f"{path} holds no spans (no span_id column): not a spans export.")
    row = 0
    for batch in source.iter_batches(batch_size=chunk):
        items = batch.to_pylist()
        for item in items:
            row += 1
            item.pop("start_time", None)
            item.pop("end_time", None)
            item["_where"] = f"{path.name}, row {row}"
        yield items


def to_record(project_id: str, row: Mapping[str, Any]) -> SpanRecord:
    """One exported span row as a record of ``project_id``; BadRequest when unusable."""
    where = str(row.get("_where", "a span"))

    def fail(problem: str) -> BadRequest:
        return BadRequest(f"{where}: {problem}")

    def hex_id(name: str, digits: int, required: bool = True) -> str | None:
        value = row.get(name)
        if value in (None, "") and not required:
            return None
        if not isinstance(value, str) or len(value) != digits or not _HEX.match(value.lower()):
            raise fail(f"{name} must be {digits} hex digits; got {value!r}.")
        return value.lower()

    def nanos(name: str) -> int:
        value = row.get(f"{name}_ns")
        if value is None and isinstance(row.get(f"{name}_time"), str):
            from datetime import UTC, datetime

            with contextlib.suppress(ValueError):
                moment = datetime.fromisoformat(row[f"{name}_time"].replace("Z", "+00:00"))
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=UTC)
                value = int(moment.timestamp() * 1_000_000) * 1000
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < _MAX_TIME:
            raise fail(f"{name}_ns must be nanoseconds since 1970; got {value!r}.")
        return value

    def text(name: str) -> str | None:
        value = row.get(name)
        if value is None or isinstance(value, str):
            return value
        raise fail(f"{name} must be text; got {value!r}.")

    def count(name: str) -> int | None:
        value = row.get(name)
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        raise fail(f"{name} must be a whole number; got {value!r}.")

    def json_text(name: str, default: str) -> str:
        value = row.get(name)
        if value is None:
            return default
        if isinstance(value, str):
            try:
                value = orjson.loads(value)
            except orjson.JSONDecodeError:
                raise fail(f"{name} must be JSON.") from None
        if name == "events" and isinstance(value, list):
            value = [
                {k: v for k, v in e.items() if k != "time"} if isinstance(e, dict) else e
                for e in value
            ]
        return orjson.dumps(value).decode()

    trace_id = hex_id("trace_id", 32)
    span_id = hex_id("span_id", 16)
    assert trace_id is not None and span_id is not None
    start_ns, end_ns = nanos("start"), nanos("end")
    cost = row.get("cost")
    if cost is not None and (not isinstance(cost, int | float) or isinstance(cost, bool)):
        raise fail(f"cost must be a number; got {cost!r}.")
    tags = row.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise fail("tags must be a list of text.")
    metadata = orjson.loads(json_text("metadata", "{}"))
    if not isinstance(metadata, dict):
        raise fail("metadata must be an object.")
    status = row.get("status")
    return SpanRecord(
        project_id=project_id,
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=hex_id("parent_span_id", 16, required=False),
        name=text("name") or "",
        span_type=text("span_type") or "DEFAULT",
        start_ns=start_ns,
        end_ns=max(start_ns, end_ns),
        status=status if status in ("ok", "error", "unset") else "unset",
        status_message=text("status_message") or "",
        session_id=text("session_id"),
        user_id=text("user_id"),
        input=text("input"),
        output=text("output"),
        model=text("model"),
        provider=text("provider"),
        input_tokens=count("input_tokens"),
        output_tokens=count("output_tokens"),
        cost=float(cost) if cost is not None else None,
        tags=tuple(tags),
        metadata={str(k): str(v) for k, v in metadata.items()},
        attributes=json_text("attributes", "{}"),
        events=json_text("events", "[]"),
        resource=json_text("resource", "{}"),
        service_name=text("service_name"),
    )
