"""Scores in an export (see :mod:`lamina.exchange.export`): score lines of a JSONL
file, or the scores.parquet of a Parquet directory or zip, read back as they were given
(their ids, authors, sources and times kept, so importing a file twice adds each score
once). An export made before scores holds none.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from lamina.errors import BadRequest
from lamina.store.scores import Score

MiB = 1024 * 1024
_MAX_TIME = 2**63


def read_scores(path: Path) -> Iterator[list[Score]]:
    """The scores of an export (JSONL lines of kind score, or the scores.parquet of a
    Parquet directory or zip; none in an export made before scores), a chunk at a time."""
    if path.is_dir():
        if (path / "scores.parquet").is_file():
            yield from _chunked(_parquet_rows(path / "scores.parquet"))
        return
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic == b"PAR1":
        return  # a spans.parquet alone
    if magic == b"PK\x03\x04":
        from lamina.exchange import importing

        with zipfile.ZipFile(path) as archive, tempfile.TemporaryDirectory() as folder:
            if "scores.parquet" not in archive.namelist():
                return
            info = archive.getinfo("scores.parquet")
            if info.file_size > importing.MAX_UNPACK_RATIO * info.compress_size + MiB:
                raise BadRequest(f"{path} is not a Lamina export: its scores.parquet is too large.")
            target = Path(folder) / "scores.parquet"
            with archive.open(info) as source, target.open("wb") as out:
                shutil.copyfileobj(source, out, MiB)
            yield from _chunked(_parquet_rows(target))
        return
    yield from _chunked(_jsonl_scores(path))


def _jsonl_scores(path: Path) -> Iterator[Score]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if b'"score"' not in raw:  # most lines are spans: not parsed twice
                continue
            with contextlib.suppress(orjson.JSONDecodeError):
                item = orjson.loads(raw)
                if isinstance(item, dict) and item.get("kind") == "score":
                    item["_where"] = f"{path.name}, line {number}"
                    yield to_imported_score(item)


def _parquet_rows(path: Path) -> Iterator[Score]:
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several kinds for a damaged file
        raise BadRequest(f"{path} is not a readable Parquet file ({exc}).") from None
    row = 0
    for batch in source.iter_batches(batch_size=1000):
        for item in batch.to_pylist():
            row += 1
            item.pop("created_at", None)
            item["_where"] = f"{path.name}, row {row}"
            yield to_imported_score(item)


def _chunked(scores: Iterator[Score], size: int = 1000) -> Iterator[list[Score]]:
    chunk: list[Score] = []
    for item in scores:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def to_imported_score(row: Mapping[str, Any]) -> Score:
    """One exported score row as it was given (its id, author, source and time kept,
    so importing it twice adds it once); BadRequest naming the row when unusable."""
    where = str(row.get("_where", "a score"))

    def text(name: str, required: bool = False) -> str | None:
        value = row.get(name)
        if (value is None and not required) or (isinstance(value, str) and value):
            return value
        raise BadRequest(f"{where}: {name} must be text; got {str(value)[:80]!r}.")

    value = row.get("value")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise BadRequest(f"{where}: value must be a number or null; got {str(value)[:80]!r}.")
    created = row.get("created_ns")
    if not isinstance(created, int) or isinstance(created, bool) or not 0 <= created < _MAX_TIME:
        raise BadRequest(f"{where}: created_ns must be nanoseconds since 1970.")
    session_id, trace_id = text("session_id"), text("trace_id")
    if session_id is None and trace_id is None:
        raise BadRequest(f"{where}: a score needs a session_id or a trace_id.")
    return Score(
        score_id=text("score_id", True) or "",
        name=text("name", True) or "",
        value=None if value is None else float(value),
        label=text("label"),
        source=text("source") or "api",
        author=text("author"),
        session_id=session_id,
        trace_id=trace_id,
        span_id=text("span_id"),
        comment=text("comment"),
        created_ns=created,
    )
