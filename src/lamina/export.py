"""The export file format: a project's (or one session's) data as JSONL or Parquet, and
back into span records for import.

JSONL is one file: a header line ``{"lamina_export": 1, ...}``, then one line per
session, trace and span, each with ``"kind"``, then a trailer line
``{"kind": "trailer", "sessions": N, "traces": N, "spans": N}``: a file without it was
cut short (a download that broke off, a disk that filled). Rows carry the JSON API's
fields, plus exact nanosecond times (``start_ns``, ``end_ns``, events' ``time_ns``)
and, for spans, their ``trace_id``. Parquet is a directory holding
``sessions.parquet``, ``traces.parquet`` and ``spans.parquet``, with the same columns
(times as UTC timestamps and nanoseconds; JSON objects as JSON text).

Import reads only the spans, in chunks bounded by count and by bytes: a store
recomputes the trace and session summaries from them, exactly as at ingest.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from lamina.errors import BadRequest
from lamina.query.present import iso
from lamina.spans.record import SpanRecord

FORMAT_VERSION = 1
KINDS = ("sessions", "traces", "spans")
FORMATS = ("jsonl", "parquet")
_KIND_OF_LINE = {"sessions": "session", "traces": "trace", "spans": "span"}
_HEX = re.compile(r"^[0-9a-f]+$")
_JSON_TEXT = ("metadata", "attributes", "events", "resource")
_MAX_TIME = 2**63
MiB = 1024 * 1024
# An import sends (or stores) spans at most this many, and this many bytes of them, at
# a time: one chunk of 2,000 spans of 150 KB (300 MB) ran the store out of memory.
IMPORT_CHUNK_SPANS = 2000
IMPORT_CHUNK_BYTES = 8 * MiB
# The spans.parquet of a zip is unpacked to the temporary directory to be read. Lamina
# stores the files in its zips as they are; a file that unpacks to more than this many
# times its packed size is not one of them (a 510 KB zip unpacked to 512 MiB).
MAX_UNPACK_RATIO = 10

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
    """``sessions.parquet``, ``traces.parquet`` and ``spans.parquet`` in ``directory``
    (made if new), each written to a new temporary file and renamed into place once
    all three are complete."""
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


# -- import -------------------------------------------------------------------------------------


class Chunks:
    """Rows gathered into chunks of at most IMPORT_CHUNK_SPANS rows and about
    IMPORT_CHUNK_BYTES bytes (a single larger row makes a chunk of its own)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.size = 0

    def add(self, row: dict[str, Any], size: int) -> list[dict[str, Any]] | None:
        """Add ``row``; the chunk it completes, if any (without ``row``)."""
        full = None
        if self.rows and self.size + size > IMPORT_CHUNK_BYTES:
            full = self.take()
        self.rows.append(row)
        self.size += size
        if len(self.rows) >= IMPORT_CHUNK_SPANS and full is None:
            full = self.take()
        return full

    def take(self) -> list[dict[str, Any]]:
        rows, self.rows, self.size = self.rows, [], 0
        return rows


def read_spans(path: Path, partial: bool = False) -> Iterator[list[dict[str, Any]]]:
    """The span rows of an export (a JSONL file, a spans.parquet, or a Parquet export
    directory), a chunk at a time (see :class:`Chunks`). A JSONL file must end with its
    trailer, the sign that it is whole, unless ``partial``: that is checked at once,
    the rows are read as the chunks are taken."""
    if path.is_dir():
        path = path / "spans.parquet"
        if not path.is_file():
            raise BadRequest(f"{path.parent} holds no spans.parquet: not a Lamina export.")
    if not path.is_file():
        raise BadRequest(f"There is no file {path}.")
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic == b"PAR1":
        return _parquet_spans(path)
    if magic == b"PK\x03\x04":
        return _zipped_spans(path)
    if not partial:
        check_complete(path)
    return _jsonl_spans(path)


def _check_version(path: Path, header: Mapping[str, Any]) -> None:
    version = header.get("lamina_export")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise BadRequest(
            f"{path} was written by a newer Lamina (export format {version}); "
            "upgrade Lamina to import it."
        )


def check_complete(path: Path) -> None:
    """Refuse a JSONL export that does not end with its trailer, or whose lines are not
    as many as the trailer counts."""
    with path.open("rb") as handle:
        with contextlib.suppress(orjson.JSONDecodeError):
            first = orjson.loads(handle.readline(64 * 1024))
            if isinstance(first, dict) and first.get("lamina_export") is not None:
                _check_version(path, first)  # a newer format may end differently
        handle.seek(0, os.SEEK_END)
        end = handle.tell()
        handle.seek(max(0, end - 4096))
        tail = handle.read().rstrip(b"\n").rsplit(b"\n", 1)[-1]
        handle.seek(0)
        lines = sum(block.count(b"\n") for block in iter(lambda: handle.read(MiB), b""))
    try:
        trailer = orjson.loads(tail)
    except orjson.JSONDecodeError:
        trailer = None
    if not isinstance(trailer, dict) or trailer.get("kind") != "trailer":
        raise BadRequest(
            f"{path} does not end with the trailer line that ends a complete Lamina "
            "export, so it was probably cut short (or it was written by hand, or by an "
            "older Lamina). To import the spans it does hold, run the import again with "
            "--partial."
        )
    sessions, traces, spans = counts = [trailer.get(kind) for kind in KINDS]
    whole = [n for n in counts if isinstance(n, int) and not isinstance(n, bool)]
    if len(whole) != len(counts) or lines != 2 + sum(whole):
        raise BadRequest(
            f"{path} has {lines:,} lines, but its trailer line counts sessions: "
            f"{sessions}, traces: {traces}, spans: {spans} (and a header and itself): the "
            "file was changed or damaged after the export. To import the spans it does "
            "hold, run the import again with --partial."
        )


def _zipped_spans(path: Path) -> Iterator[list[dict[str, Any]]]:
    """The spans.parquet of a zip (the session page's Parquet download), unpacked to
    the temporary directory: refused when it would unpack to far more than it packs,
    or would not fit there."""
    try:
        with zipfile.ZipFile(path) as archive, tempfile.TemporaryDirectory() as folder:
            if "spans.parquet" not in archive.namelist():
                raise BadRequest(f"{path} holds no spans.parquet: not a Lamina export.")
            info = archive.getinfo("spans.parquet")
            if info.file_size > MAX_UNPACK_RATIO * info.compress_size + MiB:
                raise BadRequest(
                    f"{path} is not a Lamina export: its spans.parquet would unpack to "
                    f"{info.file_size:,} bytes from {info.compress_size:,} (Lamina's own "
                    f"zips never unpack to more than they hold). Refused."
                )
            target = Path(folder) / "spans.parquet"
            free = shutil.disk_usage(folder).free
            if info.file_size > free:
                raise BadRequest(_no_room(path, info.file_size, folder, "it has"))
            try:
                with archive.open(info) as source, target.open("wb") as out:
                    shutil.copyfileobj(source, out, MiB)
            except OSError as exc:
                raise BadRequest(_no_room(path, info.file_size, folder, exc.strerror)) from None
            yield from _parquet_spans(target)
    except zipfile.BadZipFile as exc:
        raise BadRequest(f"{path} is not a readable zip file ({exc}).") from None


def _no_room(path: Path, size: int, folder: str, why: str | None) -> str:
    where = Path(folder).parent
    return (
        f"Cannot unpack the spans.parquet of {path} ({size:,} bytes) into the temporary "
        f"directory {where} ({why or 'no room'}). Set TMPDIR to a directory with room for "
        "it, or unzip it yourself and import the spans.parquet file."
    )


def _jsonl_spans(path: Path) -> Iterator[list[dict[str, Any]]]:
    chunks = Chunks()
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
            if item.get("lamina_export") is not None:
                _check_version(path, item)
                continue
            if item.get("kind") == "span":
                item["_where"] = f"{path.name}, line {number}"
                full = chunks.add(item, len(raw))
                if full is not None:
                    yield full
    if chunks.rows:
        yield chunks.take()


def _parquet_spans(path: Path) -> Iterator[list[dict[str, Any]]]:
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several kinds for a damaged file
        raise BadRequest(f"{path} is not a readable Parquet file ({exc}).") from None
    if "span_id" not in source.schema_arrow.names:
        raise BadRequest(f"{path} holds no spans (no span_id column): not a spans export.")
    row = 0
    chunks = Chunks()
    # A few rows at a time: the chunks are gathered by bytes, and rows may be large.
    for batch in source.iter_batches(batch_size=64):
        for item in batch.to_pylist():
            row += 1
            item.pop("start_time", None)
            item.pop("end_time", None)
            item["_where"] = f"{path.name}, row {row}"
            full = chunks.add(item, len(orjson.dumps(item)))
            if full is not None:
                yield full
    if chunks.rows:
        yield chunks.take()


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
