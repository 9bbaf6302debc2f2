"""Per-trace summaries of a batch of spans, merged into the stored ones at ingest.

Each batch yields one delta per trace it touches. A store merges a delta into
the trace's stored summary with commutative rules (sums, least/greatest, and
"lowest rank wins" for the fields that come from one span), so a trace's spans
may arrive in any order, across any number of requests, and the summary ends
the same. A rank is the span's start time, lowered by 2**62 for the root span:
the root's name and previews win over any other span's, and otherwise the
earliest span's do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import pyarrow as pa

from lamina.query.preview import preview
from lamina.spans import SpanRecord

ROOT_BONUS = 2**62

TRACE_SCHEMA = pa.schema(
    [
        ("project_id", pa.string()),
        ("trace_id", pa.string()),
        ("session_id", pa.string()),
        ("session_rank", pa.int64()),
        ("user_id", pa.string()),
        ("user_rank", pa.int64()),
        ("name", pa.string()),
        ("name_rank", pa.int64()),
        ("start_ns", pa.int64()),
        ("end_ns", pa.int64()),
        ("span_count", pa.int64()),
        ("error_count", pa.int64()),
        ("input_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("cost", pa.float64()),
        ("tags", pa.list_(pa.string())),
        ("metadata", pa.string()),
        ("input_preview", pa.string()),
        ("input_rank", pa.int64()),
        ("output_preview", pa.string()),
        ("output_rank", pa.int64()),
        ("min_seq", pa.int64()),
        ("max_seq", pa.int64()),
    ]
)
TRACE_COLUMNS = tuple(TRACE_SCHEMA.names)


def rank(record: SpanRecord) -> int:
    return record.start_ns - ROOT_BONUS if record.is_root else record.start_ns


def _add(total: Any, value: Any) -> Any:
    if value is None:
        return total
    return value if total is None else total + value


def trace_deltas(records: Sequence[SpanRecord], first_seq: int) -> list[dict[str, Any]]:
    deltas: dict[tuple[str, str], dict[str, Any]] = {}
    metadata: dict[tuple[str, str], dict[str, list[Any]]] = {}
    for offset, record in enumerate(records):
        seq = first_seq + offset
        key = (record.project_id, record.trace_id)
        span_rank = rank(record)
        delta = deltas.get(key)
        if delta is None:
            delta = deltas[key] = {
                "project_id": record.project_id,
                "trace_id": record.trace_id,
                "session_id": None,
                "session_rank": None,
                "user_id": None,
                "user_rank": None,
                "name": record.name,
                "name_rank": span_rank,
                "start_ns": record.start_ns,
                "end_ns": record.end_ns,
                "span_count": 0,
                "error_count": 0,
                "input_tokens": None,
                "output_tokens": None,
                "cost": None,
                "tags": set(),
                "metadata": None,
                "input_preview": None,
                "input_rank": None,
                "output_preview": None,
                "output_rank": None,
                "min_seq": seq,
                "max_seq": seq,
            }
            metadata[key] = {}
        delta["span_count"] += 1
        delta["max_seq"] = seq
        if record.status == "error":
            delta["error_count"] += 1
        delta["start_ns"] = min(delta["start_ns"], record.start_ns)
        delta["end_ns"] = max(delta["end_ns"], record.end_ns)
        if span_rank < delta["name_rank"]:
            delta["name"], delta["name_rank"] = record.name, span_rank
        _take_ranked(delta, "session_id", "session_rank", record.session_id, record.start_ns)
        _take_ranked(delta, "user_id", "user_rank", record.user_id, record.start_ns)
        if record.input is not None and _lower(span_rank, delta["input_rank"]):
            delta["input_preview"], delta["input_rank"] = record.input, span_rank
        if record.output is not None and _lower(span_rank, delta["output_rank"]):
            delta["output_preview"], delta["output_rank"] = record.output, span_rank
        delta["input_tokens"] = _add(delta["input_tokens"], record.input_tokens)
        delta["output_tokens"] = _add(delta["output_tokens"], record.output_tokens)
        delta["cost"] = _add(delta["cost"], record.cost)
        delta["tags"].update(record.tags)
        ranked = metadata[key]
        for name, value in record.metadata.items():
            held = ranked.get(name)
            if held is None or (span_rank, value) < (held[0], held[1]):
                ranked[name] = [span_rank, value]
    out = []
    for key, delta in deltas.items():
        delta["tags"] = sorted(delta["tags"])
        delta["metadata"] = orjson.dumps(metadata[key]).decode() if metadata[key] else "{}"
        delta["input_preview"] = preview(delta["input_preview"])
        delta["output_preview"] = preview(delta["output_preview"])
        out.append(delta)
    return out


def _lower(candidate: int, current: int | None) -> bool:
    return current is None or candidate < current


def _take_ranked(
    delta: dict[str, Any], field: str, rank_field: str, value: str | None, at: int
) -> None:
    if value and _lower(at, delta[rank_field]):
        delta[field], delta[rank_field] = value, at


def merge_metadata(stored: str, incoming: str) -> str:
    """Two ranked metadata objects as one: for each key the lowest (rank, value) wins."""
    merged: dict[str, list[Any]] = orjson.loads(stored)
    for name, held in orjson.loads(incoming).items():
        current = merged.get(name)
        if current is None or (held[0], held[1]) < (current[0], current[1]):
            merged[name] = held
    return orjson.dumps(merged).decode()


def plain_metadata(ranked: dict[str, Any]) -> dict[str, Any]:
    """``{key: [rank, value]}`` as ``{key: value}``."""
    return {name: held[1] for name, held in ranked.items()}
