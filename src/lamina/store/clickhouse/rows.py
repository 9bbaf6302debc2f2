"""Rows between the ClickHouse store and the rest of Lamina.

In: an ingest batch's per-trace deltas in the shape of the ``traces`` table
((rank, value) tuples, metadata maps). Out: query rows as the Store protocol
returns them, identical in shape to the DuckDB store's.
"""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from lamina.store.base import Row
from lamina.store.clickhouse.schema import NO_RANK
from lamina.store.rows import duration_ms, parse_json, total_tokens

_RANKED = pa.struct([("rank", pa.int64()), ("value", pa.string())])


# -- ingest: deltas as ClickHouse rows -------------------------------------------------------------


def _ranked(value: pa.ChunkedArray, rank: pa.ChunkedArray) -> pa.StructArray:
    """(rank, value) tuples; NO_RANK and '' where there is no value."""
    missing = pc.or_(pc.is_null(value), pc.is_null(rank))
    ranks = pc.if_else(missing, pa.scalar(NO_RANK, pa.int64()), rank)
    values = pc.if_else(missing, pa.scalar("", pa.string()), value)
    return pa.StructArray.from_arrays(
        [ranks.combine_chunks(), values.combine_chunks()], fields=list(_RANKED)
    )


def trace_rows(deltas: pa.Table, spans: pa.Table) -> pa.Table:
    """The batch's per-trace deltas in the shape of the ``traces`` table."""
    latest = spans.group_by(["project_id", "trace_id"]).aggregate([("start_ns", "max")])
    where = pc.index_in(_trace_key(deltas), value_set=_trace_key(latest).combine_chunks())
    last_start = pc.take(latest.column("start_ns_max"), where)
    session = deltas.column("session_id")
    return pa.table(
        {
            "project_id": deltas.column("project_id"),
            "trace_id": deltas.column("trace_id"),
            "session_r": _ranked(session, deltas.column("session_rank")),
            "user_r": _ranked(deltas.column("user_id"), deltas.column("user_rank")),
            "name_r": _ranked(deltas.column("name"), deltas.column("name_rank")),
            "first_ns": deltas.column("start_ns"),
            "last_ns": deltas.column("end_ns"),
            "last_start_ns": last_start,
            "span_n": deltas.column("span_count"),
            "error_n": deltas.column("error_count"),
            "in_tokens": deltas.column("input_tokens"),
            "out_tokens": deltas.column("output_tokens"),
            "cost_sum": deltas.column("cost"),
            "tag_set": deltas.column("tags"),
            "meta_r": _metadata(deltas.column("metadata")),
            "input_r": _ranked(deltas.column("input_preview"), deltas.column("input_rank")),
            "output_r": _ranked(deltas.column("output_preview"), deltas.column("output_rank")),
            "session_set": _singletons(session),
        }
    )


def _trace_key(table: pa.Table) -> pa.ChunkedArray:
    return pc.binary_join_element_wise(table.column("project_id"), table.column("trace_id"), "\n")


def _singletons(values: pa.ChunkedArray) -> pa.Array:
    return pa.array(
        [[] if value is None else [value] for value in values.to_pylist()],
        pa.list_(pa.string()),
    )


_META_TYPE = pa.map_(pa.string(), _RANKED)


def _metadata(column: pa.ChunkedArray) -> pa.Array:
    """Ranked metadata JSON (``{key: [rank, value]}``) as maps of key -> (rank, JSON value)."""
    entries: list[list[tuple[str, dict[str, Any]]]] = []
    for text in column.to_pylist():
        if text == "{}" or text is None:
            entries.append([])
            continue
        ranked: dict[str, list[Any]] = orjson.loads(text)
        entries.append(
            [
                (key, {"rank": held[0], "value": orjson.dumps(held[1]).decode()})
                for key, held in ranked.items()
            ]
        )
    return pa.array(entries, _META_TYPE)


def session_links(deltas: pa.Table) -> pa.Table:
    named = deltas.filter(pc.is_valid(deltas.column("session_id")))
    return pa.table(
        {
            "project_id": named.column("project_id"),
            "session_id": named.column("session_id"),
            "trace_id": named.column("trace_id"),
        }
    )


# -- rows as the protocol returns them -------------------------------------------------------------


def trace_row(row: dict[str, Any]) -> Row:
    out = dict(row)
    out.pop("last_start_ns", None)
    keys = out.pop("meta_keys")
    values = out.pop("meta_values")
    out["duration_ms"] = duration_ms(row)
    out["status"] = "error" if row["error_count"] else "ok"
    out["total_tokens"] = total_tokens(row)
    out["tags"] = list(row["tags"] or [])
    out["metadata"] = {
        key: parse_json(value, value) for key, value in zip(keys or [], values or [], strict=True)
    }
    return out
