"""Comments in an export (see :mod:`lamina.exchange.export`): comment lines of a JSONL
file, or the comments.parquet of a Parquet directory or zip, read back as they were
written (their ids, authors and times kept, so importing a file twice adds each comment
once). A comment is stored only on a session or trace the project has by then (the
export's spans come first); stars are not exported (they belong to this server's
users). An export imported with the admin token keeps who wrote each comment;
imported otherwise, the comments are the sender's. An export made before comments holds
none.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from lamina.errors import BadRequest
from lamina.query.comments import ADMIN, Commenter
from lamina.store.base import Store
from lamina.store.comments import MAX_BODY_CHARS, Comment

MiB = 1024 * 1024
_MAX_TIME = 2**63
CHUNK = 1000


def to_imported_comment(row: Mapping[str, Any]) -> Comment:
    """One exported comment row as it was written; BadRequest naming the row when
    unusable."""
    where = str(row.get("_where", "a comment"))

    def text(name: str, required: bool = False) -> str | None:
        value = row.get(name)
        if (value is None and not required) or (isinstance(value, str) and value):
            return value
        raise BadRequest(f"{where}: {name} must be text; got {str(value)[:80]!r}.")

    created = row.get("created_ns")
    if not isinstance(created, int) or isinstance(created, bool) or not 0 <= created < _MAX_TIME:
        raise BadRequest(f"{where}: created_ns must be nanoseconds since 1970.")
    body = text("body", True) or ""
    if len(body) > MAX_BODY_CHARS:
        raise BadRequest(f"{where}: a comment holds at most {MAX_BODY_CHARS:,} characters.")
    session_id, trace_id = text("session_id"), text("trace_id")
    if session_id is None and trace_id is None:
        raise BadRequest(f"{where}: a comment needs a session_id or a trace_id.")
    return Comment(
        comment_id=text("comment_id", True) or "",
        session_id=session_id,
        trace_id=trace_id,
        span_id=text("span_id"),
        body=body,
        author=text("author"),
        author_id=text("author_id") or "admin",
        created_ns=created,
    )


def comments_of_lines(body: bytes) -> list[Comment]:
    """The comment lines of an import request's body (its other lines are read by
    lamina.exchange.importing.rows_of_lines)."""
    found = []
    for number, raw in enumerate(body.splitlines(), 1):
        if b'"comment"' not in raw:
            continue
        with contextlib.suppress(orjson.JSONDecodeError):
            item = orjson.loads(raw)
            if isinstance(item, dict) and item.get("kind") == "comment":
                item["_where"] = f"line {number}"
                found.append(to_imported_comment(item))
    return found


def written_by(comments: Sequence[Comment], commenter: Commenter) -> list[Comment]:
    """The comments as an import by ``commenter`` stores them: as written (author,
    who may delete) with the admin token, which moves a project's data between servers;
    else as the sender's own, so that a key cannot write in someone else's name."""
    if commenter.author_id == ADMIN:
        return list(comments)
    return [
        replace(item, author=commenter.author, author_id=commenter.author_id) for item in comments
    ]


def store_comments(store: Store, project_id: str, comments: Sequence[Comment]) -> int:
    """Store the comments whose session or trace the project has; how many it has now
    of them (one already stored counts: the import is done)."""
    return sum(store.add_comment(project_id, item) is not None for item in comments)


def read_comments(path: Path) -> Iterator[list[Comment]]:
    """The comments of an export file (JSONL), Parquet directory or zip, a chunk at a
    time; none in an export made before comments."""
    if path.is_dir():
        if (path / "comments.parquet").is_file():
            yield from _chunked(_parquet_rows(path / "comments.parquet"))
        return
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic == b"PAR1":
        return  # a spans.parquet alone
    if magic == b"PK\x03\x04":
        from lamina.exchange import importing

        with zipfile.ZipFile(path) as archive, tempfile.TemporaryDirectory() as folder:
            if "comments.parquet" not in archive.namelist():
                return
            info = archive.getinfo("comments.parquet")
            if info.file_size > importing.MAX_UNPACK_RATIO * info.compress_size + MiB:
                raise BadRequest(
                    f"{path} is not a Lamina export: its comments.parquet is too large."
                )
            target = Path(folder) / "comments.parquet"
            with archive.open(info) as source, target.open("wb") as out:
                shutil.copyfileobj(source, out, MiB)
            yield from _chunked(_parquet_rows(target))
        return
    yield from _chunked(_jsonl_comments(path))


def _jsonl_comments(path: Path) -> Iterator[Comment]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if b'"comment"' not in raw:  # most lines are spans: not parsed twice
                continue
            with contextlib.suppress(orjson.JSONDecodeError):
                item = orjson.loads(raw)
                if isinstance(item, dict) and item.get("kind") == "comment":
                    item["_where"] = f"{path.name}, line {number}"
                    yield to_imported_comment(item)


def _parquet_rows(path: Path) -> Iterator[Comment]:
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several kinds for a damaged file
        raise BadRequest(f"{path} is not a readable Parquet file ({exc}).") from None
    row = 0
    for batch in source.iter_batches(batch_size=CHUNK):
        for item in batch.to_pylist():
            row += 1
            item.pop("created_at", None)
            item["_where"] = f"{path.name}, row {row}"
            yield to_imported_comment(item)


def _chunked(items: Iterator[Comment]) -> Iterator[list[Comment]]:
    chunk: list[Comment] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
