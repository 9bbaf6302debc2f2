"""Reading an export back (see :mod:`lamina.exchange.export` for the format): the span
rows of a JSONL file, a Parquet directory or the session page's Parquet zip, and each
row as a span of the project it is imported into.

Import reads the spans, in chunks bounded by count and by bytes: a store recomputes
the trace and session summaries from them, exactly as at ingest. Scores are read
after them and stored as they were given (same ids, so importing twice adds them once).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from lamina.errors import BadRequest
from lamina.exchange.export import FORMAT_VERSION, KINDS
from lamina.exchange.scores import to_imported_score
from lamina.spans.batch import ColumnBatch, from_rows
from lamina.store.scores import Score

_HEX = re.compile(r"^[0-9a-f]+$")
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
# The most spans one import request (POST /api/v1/import) may hold.
MAX_IMPORT_SPANS = 10_000
# What an import request's lines may be, besides spans and scores (passed over here).
# Comment lines are read by lamina.exchange.comments.comments_of_lines, dataset lines by
# lamina.exchange.datasets.datasets_of_lines.
_OTHER_LINES = (
    "session",
    "trace",
    "trailer",
    "comment",
    "dataset",
    "dataset_item",
    "experiment",
    "experiment_item",
)
# The most scores one import request may hold.
MAX_IMPORT_SCORES = 10_000


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


def _check_version(source: Path | str, header: Mapping[str, Any]) -> None:
    version = header.get("lamina_export")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise BadRequest(
            f"{source} was written by a newer Lamina (export format {version}); "
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
    # an export made before scores (or comments, or datasets) counts none
    counts = [trailer.get(kind, None if kind in KINDS[:3] else 0) for kind in KINDS]
    whole = [n for n in counts if isinstance(n, int) and not isinstance(n, bool)]
    if len(whole) != len(counts) or lines != 2 + sum(whole):
        raise BadRequest(
            f"{path} has {lines:,} lines, but its trailer line counts "
            + ", ".join(f"{kind}: {n}" for kind, n in zip(KINDS, counts, strict=True))
            + " (and a header and itself): the "
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


def to_span(project_id: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """One exported span row as a span of ``project_id`` (a row for
    :func:`lamina.spans.batch.from_rows`); BadRequest when unusable."""
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
    return dict(
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


def to_batch(project_id: str, rows: Sequence[Mapping[str, Any]]) -> tuple[ColumnBatch, int]:
    """Exported span rows as one batch of ``project_id``'s spans, and how many traces
    they are in; BadRequest (naming the row) when one is unusable."""
    if len(rows) > MAX_IMPORT_SPANS:
        raise BadRequest(f"Import at most {MAX_IMPORT_SPANS:,} spans at a time.")
    spans = [to_span(project_id, row) for row in rows]
    return from_rows(spans), len({span["trace_id"] for span in spans})


def rows_of_lines(body: bytes) -> tuple[list[dict[str, Any]], list[Score]]:
    """The span rows and the scores of an import request's body: lines of an export
    (JSONL), of which the header, sessions, traces and trailer are passed over."""
    rows = []
    scores = []
    for number, raw in enumerate(body.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            item = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"Line {number}: not JSON ({exc}).") from None
        if not isinstance(item, dict):
            raise BadRequest(f"Line {number}: not a JSON object.")
        kind = item.get("kind")
        if item.get("lamina_export") is not None:
            _check_version("The export in this request", item)
            continue
        if kind in _OTHER_LINES:
            continue
        item["_where"] = f"line {number}"
        if kind == "score":
            scores.append(to_imported_score(item))
            if len(scores) > MAX_IMPORT_SCORES:
                raise BadRequest(f"Import at most {MAX_IMPORT_SCORES:,} scores at a time.")
            continue
        if kind != "span":
            raise BadRequest(
                f'Line {number}: "kind" must be "span", "score" or "comment" (or session, '
                f"trace or trailer, which are passed over); got "
                f"{orjson.dumps(kind).decode()[:80]}."
            )
        rows.append(item)
    return rows, scores
