"""The lines of a JSONL export that describe owners and their items (datasets and
their items, experiment runs and theirs), read back for an import (a file's, or the
lines of ``POST /api/v1/import``): each owner with a chunk of its items, an owner of
many items in several chunks, an owner without items once with none. Nothing from a
Parquet export or a directory."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Kinds:
    """How an export writes one kind of owner and its items."""

    owner: str  # the owner line's kind ("dataset")
    item: str  # its items' kind ("dataset_item")
    owner_key: str  # the owner line's id field ("name")
    item_key: str  # an item line's field naming its owner ("dataset")
    owner_fields: tuple[str, ...]  # what an owner line gives
    item_fields: tuple[str, ...]  # what an item line gives
    chunk: int  # items a chunk at most


def read_grouped(path: Path, kinds: Kinds) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """The owners and items of an export file (``lamina import``); none from a Parquet
    export or a directory."""
    if path.is_dir():
        return
    with path.open("rb") as handle:
        if handle.read(4) in (b"PAR1", b"PK\x03\x04"):
            return
    with path.open("rb") as handle:
        yield from group_lines(handle, kinds)


def group_lines(
    lines: Iterable[bytes], kinds: Kinds
) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """The owners and items of JSONL lines (a file, or ``POST /api/v1/import``'s body),
    each owner with a chunk of its items, in the order the items come."""
    marker = b'"' + kinds.owner.encode()
    described: dict[str, dict[str, Any]] = {}
    filled: set[str] = set()
    chunk: list[dict[str, Any]] = []
    current: str | None = None
    for raw in lines:
        if marker not in raw:  # most lines are spans: not parsed twice
            continue
        with contextlib.suppress(orjson.JSONDecodeError):
            line = orjson.loads(raw)
            if not isinstance(line, dict) or line.get("kind") not in (kinds.owner, kinds.item):
                continue
            if line["kind"] == kinds.owner:
                owner = str(line.get(kinds.owner_key))
                given = {key: line.get(key) for key in kinds.owner_fields}
                described[owner] = {**given, kinds.owner_key: owner}
                continue
            owner = str(line.get(kinds.item_key))
            if chunk and (owner != current or len(chunk) >= kinds.chunk):
                yield described.get(current or "", {kinds.owner_key: current}), chunk
                chunk = []
            current = owner
            filled.add(owner)
            chunk.append({key: line.get(key) for key in kinds.item_fields})
    if chunk:
        yield described.get(current or "", {kinds.owner_key: current}), chunk
    for owner, given in described.items():  # owners without items are made too
        if owner not in filled:
            yield given, []
