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
    return record.start_ns - ROOT_BONUS if record.parent_span_id is None else record.start_ns


def trace_deltas(records: Sequence[SpanRecord], first_seq: int) -> dict[str, Sequence[Any]]:
    """One delta for each trace the records touch, in order of first appearance, as the
    columns of TRACE_SCHEMA (what Arrow builds a table from fastest)."""
    traces: dict[tuple[str, str], list[int]] = {}
    for offset, record in enumerate(records):
        key = (record.project_id, record.trace_id)
        offsets = traces.get(key)
        if offsets is None:
            traces[key] = [offset]
        else:
            offsets.append(offset)
    rows = [
        _delta([records[at] for at in offsets], first_seq + offsets[0], first_seq + offsets[-1])
        for offsets in traces.values()
    ]
    if not rows:
        return {name: () for name in TRACE_COLUMNS}
    return dict(zip(TRACE_COLUMNS, zip(*rows, strict=True), strict=True))


def _delta(spans: list[SpanRecord], min_seq: int, max_seq: int) -> tuple[Any, ...]:
    """The summary of one trace's spans, a row of TRACE_SCHEMA.

    One pass with local variables: this runs for every span at ingest."""
    first = spans[0]
    name, name_rank = first.name, rank(first)
    start_ns, end_ns = first.start_ns, first.end_ns
    errors = 0
    session_id = session_rank = user_id = user_rank = None
    input_tokens = output_tokens = cost = None
    input_text = input_rank = output_text = output_rank = None
    tags: set[str] = set()
    metadata: dict[str, list[Any]] = {}
    for span in spans:
        at = span.start_ns
        span_rank = at - ROOT_BONUS if span.parent_span_id is None else at
        if span.status == "error":
            errors += 1
        if at < start_ns:
            start_ns = at
        if span.end_ns > end_ns:
            end_ns = span.end_ns
        if span_rank < name_rank:
            name, name_rank = span.name, span_rank
        # Session and user rank by start time alone: a root span has no say.
        if span.session_id and (session_rank is None or at < session_rank):
            session_id, session_rank = span.session_id, at
        if span.user_id and (user_rank is None or at < user_rank):
            user_id, user_rank = span.user_id, at
        if span.input is not None and (input_rank is None or span_rank < input_rank):
            input_text, input_rank = span.input, span_rank
        if span.output is not None and (output_rank is None or span_rank < output_rank):
            output_text, output_rank = span.output, span_rank
        if span.input_tokens is not None:
            input_tokens = (
                span.input_tokens if input_tokens is None else input_tokens + span.input_tokens
            )
        if span.output_tokens is not None:
            output_tokens = (
                span.output_tokens if output_tokens is None else output_tokens + span.output_tokens
            )
        if span.cost is not None:
            cost = span.cost if cost is None else cost + span.cost
        if span.tags:
            tags.update(span.tags)
        if span.metadata:
            _rank_metadata(metadata, span.metadata, span_rank)
    return (
        first.project_id,
        first.trace_id,
        session_id,
        session_rank,
        user_id,
        user_rank,
        name,
        name_rank,
        start_ns,
        end_ns,
        len(spans),
        errors,
        input_tokens,
        output_tokens,
        cost,
        sorted(tags),
        orjson.dumps(metadata).decode() if metadata else "{}",
        preview(input_text),
        input_rank,
        preview(output_text),
        output_rank,
        min_seq,
        max_seq,
    )


def _rank_metadata(ranked: dict[str, list[Any]], metadata: dict[str, str], span_rank: int) -> None:
    """For each key the lowest (rank, value): the same winner in any order of arrival."""
    for name, value in metadata.items():
        held = ranked.get(name)
        if held is None or (span_rank, value) < (held[0], held[1]):
            ranked[name] = [span_rank, value]


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
