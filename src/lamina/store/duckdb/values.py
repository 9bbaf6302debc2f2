"""Long values kept apart: a span's large value (lamina.store.rows.LARGE_FIELDS) of more
than CHUNK_BYTES bytes is stored as chunks of at most that many bytes, cut between
characters; the spans row keeps the first chunk (the value's head) and, in its
``cut_lengths`` column, the full length in characters of each value it holds only the
head of (NULL when every value is whole). The other chunks are rows of ``span_values``,
appended in the same transaction as their spans, in the order of their ``seq``: a
span's chunks are found by its ``seq`` (zone maps skip the rest of the table), and
``char_offset`` (where a chunk starts in the whole value, in characters) puts them in
order and lets a trace read only the chunks of its first TRACE_VALUE_CHARS characters.

DuckDB checkpoints a column a vector of 2,048 rows at a time and holds the vector's
strings in memory to do it: 2,000 values of 150 KB could not be checkpointed in a
store of 64 MB from about 51 MB of them on ("failed to pin block"), and neither could
chunks of 32 KiB (64 MiB a vector). Chunks of 16 KiB (32 MiB a vector, half the
smallest store allowed) stored 600 MB in a store of 64 MB, and any value reads back
from them in a few milliseconds (docs/decisions.md).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lamina.store.base import Row
from lamina.store.duckdb.connection import Connection
from lamina.store.rows import LARGE_FIELDS, TRACE_VALUE_CHARS, cut_columns, trace_span_row

CHUNK_BYTES = 16_384
CUT_COLUMN = "cut_lengths"
CUT_TYPE = pa.map_(pa.string(), pa.int64())
VALUES_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),  # the span's
        ("project_id", pa.string()),
        ("trace_id", pa.string()),
        ("span_id", pa.string()),
        ("field", pa.string()),  # one of LARGE_FIELDS
        ("char_offset", pa.int64()),  # where the chunk starts in the value, in characters
        ("chunk", pa.string()),
    ]
)


_OWNER = ("seq", "project_id", "trace_id", "span_id")  # the span a chunk is of
# not VALUES_SCHEMA.empty_table(): that imports pandas (0.2 s at every start)
_NO_VALUES = pa.Table.from_batches([], schema=VALUES_SCHEMA)


def chunks(text: str) -> list[tuple[int, str]]:
    """``text`` in pieces of at most CHUNK_BYTES bytes of UTF-8, cut between characters,
    each with the offset of its first character in ``text``."""
    data = text.encode()
    pieces: list[tuple[int, str]] = []
    start = offset = 0
    while start < len(data):
        end = min(start + CHUNK_BYTES, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # inside a character
            end -= 1
        piece = data[start:end].decode()
        pieces.append((offset, piece))
        offset += len(piece)
        start = end
    return pieces


def split(spans: pa.Table) -> tuple[pa.Table, pa.Table]:
    """A batch's spans (SPAN_SCHEMA, their ``seq`` given) as the ``spans`` table holds
    them, each long value cut to its head and CUT_COLUMN added, and the rest of those
    values as rows of ``span_values``. Long values are rare: each is cut in Python."""
    count = spans.num_rows
    lengths: list[dict[str, int] | None] = [None] * count
    kept: list[tuple[Any, ...]] = []  # rows of span_values
    for field in LARGE_FIELDS:
        column = spans.column(field)
        sizes = pc.binary_length(column)
        if (pc.max(sizes).as_py() or 0) <= CHUNK_BYTES:  # 32k spans, six fields: 0.5 ms
            continue
        long = pc.fill_null(pc.greater(sizes, CHUNK_BYTES), False)
        heads = []
        for row in pc.indices_nonzero(long).to_pylist():
            text = column[row].as_py()
            head, *rest = chunks(text)
            heads.append(head[1])
            lengths[row] = {**(lengths[row] or {}), field: len(text)}
            owner = [spans.column(name)[row].as_py() for name in _OWNER]
            kept += [(*owner, field, offset, chunk) for offset, chunk in rest]
        cut = pc.replace_with_mask(column.combine_chunks(), long.combine_chunks(), pa.array(heads))
        spans = spans.set_column(spans.schema.get_field_index(field), field, cut)
    if not kept:
        return spans.append_column(CUT_COLUMN, pa.nulls(count, CUT_TYPE)), _NO_VALUES
    cut_lengths = pa.array(
        [None if held is None else list(held.items()) for held in lengths], CUT_TYPE
    )
    columns = list(zip(*kept, strict=True))
    values = pa.Table.from_arrays(
        [pa.array(column, kind.type) for column, kind in zip(columns, VALUES_SCHEMA, strict=True)],
        schema=VALUES_SCHEMA,
    )
    return spans.append_column(CUT_COLUMN, cut_lengths), values


def join_values(
    connection: Connection,
    rows: list[dict[str, Any]],
    within: int | None = None,
    field: str | None = None,
) -> None:
    """Put the rest of each value kept apart back after its head, in ``rows`` (read from
    ``spans`` with ``seq`` and CUT_COLUMN, and every large field or only ``field``):
    all of it, or with ``within`` only the chunks that start in its first ``within``
    characters."""
    cut = [row for row in rows if row[CUT_COLUMN]]
    if not cut:
        return
    seqs = [row["seq"] for row in cut]
    sql = (
        "SELECT seq, field, char_offset, chunk FROM span_values WHERE seq BETWEEN ? AND ? "
        "AND list_contains(?, seq)"
    )
    params: list[Any] = [min(seqs), max(seqs), seqs]
    if within is not None:
        sql += " AND char_offset < ?"
        params.append(within)
    if field is not None:
        sql += " AND field = ?"
        params.append(field)
    # Put in order here: DuckDB sorting the chunks of 12 MB ran a store of 64 MB out
    # of memory, where reading 180 MB of them unsorted did not.
    found = sorted(
        connection.query(sql, params), key=lambda c: (c["seq"], c["field"], c["char_offset"])
    )
    parts: dict[tuple[int, str], list[str]] = defaultdict(list)
    for chunk in found:
        parts[chunk["seq"], chunk["field"]].append(chunk["chunk"])
    for row in cut:
        for name in row[CUT_COLUMN]:
            if field is None or name == field:
                row[name] = row[name] + "".join(parts[row["seq"], name])


def trace_spans(connection: Connection, rows: list[dict[str, Any]], cut_in_sql: bool) -> list[Row]:
    """A trace's spans as read from ``spans`` (with ``seq`` and CUT_COLUMN), each large
    value cut to TRACE_VALUE_CHARS characters and named in ``truncated`` when it is
    longer. ``cut_in_sql``: the rows were read with lamina.store.rows.cut_fields (spans
    stored before long values were kept apart may hold them whole)."""
    truncated = [cut_columns(row) if cut_in_sql else {} for row in rows]
    join_values(connection, rows, TRACE_VALUE_CHARS)
    spans = []
    for row, cut in zip(rows, truncated, strict=True):
        del row["seq"]
        for field, length in (row.pop(CUT_COLUMN) or {}).items():
            if length > TRACE_VALUE_CHARS:
                row[field] = row[field][:TRACE_VALUE_CHARS]
                cut[field] = length
        spans.append(trace_span_row(row, cut))
    return spans
