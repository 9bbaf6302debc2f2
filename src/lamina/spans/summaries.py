"""Per-trace summaries of a batch of spans, merged into the stored ones at ingest.

Each batch yields one delta per trace it touches. A store merges a delta into
the trace's stored summary with commutative rules (sums, least/greatest, and
"lowest rank wins" for the fields that come from one span), so a trace's spans
may arrive in any order, across any number of requests, and the summary ends
the same. A rank is the span's start time, lowered by 2**62 for the root span:
the root's name and previews win over any other span's, and otherwise the
earliest span's do. A span that failed without an output offers its error
as its output (see :mod:`lamina.spans.preview`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import pyarrow as pa

from lamina.spans.preview import error_preview, input_preview, output_preview

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


def trace_deltas(spans: Mapping[str, Sequence[Any]], first_seq: int) -> dict[str, Sequence[Any]]:
    """One delta for each trace the spans touch, in order of first appearance, as the
    columns of TRACE_SCHEMA (what Arrow builds a table from fastest). ``spans`` holds
    the span columns (SPAN_SCHEMA's names, without ``seq``), one value a span."""
    traces: dict[tuple[str, str], list[int]] = {}
    for offset, key in enumerate(zip(spans["project_id"], spans["trace_id"], strict=True)):
        offsets = traces.get(key)
        if offsets is None:
            traces[key] = [offset]
        else:
            offsets.append(offset)
    columns = [spans[name] for name in _DELTA_INPUTS]
    rows = [
        _delta(columns, offsets, first_seq + offsets[0], first_seq + offsets[-1])
        for offsets in traces.values()
    ]
    if not rows:
        return {name: () for name in TRACE_COLUMNS}
    return dict(zip(TRACE_COLUMNS, zip(*rows, strict=True), strict=True))


# The span columns a delta reads, in the order _delta unpacks them.
_DELTA_INPUTS = (
    "project_id",
    "trace_id",
    "parent_span_id",
    "name",
    "start_ns",
    "end_ns",
    "status",
    "status_message",
    "session_id",
    "user_id",
    "input",
    "output",
    "input_tokens",
    "output_tokens",
    "cost",
    "tags",
    "metadata",
    "events",
)


def _delta(
    columns: list[Sequence[Any]], offsets: list[int], min_seq: int, max_seq: int
) -> tuple[Any, ...]:
    """The summary of one trace's spans (at ``offsets`` in the columns), a row of
    TRACE_SCHEMA.

    One pass with local variables: this runs for every span at ingest."""
    (
        projects,
        traces,
        parents,
        names,
        starts,
        ends,
        statuses,
        status_messages,
        sessions,
        users,
        inputs,
        outputs,
        input_counts,
        output_counts,
        costs,
        tag_lists,
        metadatas,
        event_lists,
    ) = columns
    first = offsets[0]
    start_ns, end_ns = starts[first], ends[first]
    name = names[first]
    name_rank = start_ns - ROOT_BONUS if parents[first] is None else start_ns
    errors = 0
    session_id = session_rank = user_id = user_rank = None
    input_tokens = output_tokens = cost = None
    input_text = input_rank = output_at = output_rank = None
    tags: set[str] = set()
    metadata: dict[str, list[Any]] = {}
    for at in offsets:
        start = starts[at]
        span_rank = start - ROOT_BONUS if parents[at] is None else start
        if statuses[at] == "error":
            errors += 1
        if start < start_ns:
            start_ns = start
        if ends[at] > end_ns:
            end_ns = ends[at]
        if span_rank < name_rank:
            name, name_rank = names[at], span_rank
        # Session and user rank by start time alone: a root span has no say.
        value = sessions[at]
        if value and (session_rank is None or start < session_rank):
            session_id, session_rank = value, start
        value = users[at]
        if value and (user_rank is None or start < user_rank):
            user_id, user_rank = value, start
        value = inputs[at]
        if value is not None and (input_rank is None or span_rank < input_rank):
            input_text, input_rank = value, span_rank
        if (outputs[at] is not None or statuses[at] == "error") and (
            output_rank is None or span_rank < output_rank
        ):
            output_at, output_rank = at, span_rank
        value = input_counts[at]
        if value is not None:
            input_tokens = value if input_tokens is None else input_tokens + value
        value = output_counts[at]
        if value is not None:
            output_tokens = value if output_tokens is None else output_tokens + value
        value = costs[at]
        if value is not None:
            cost = value if cost is None else cost + value
        if tag_lists[at]:
            tags.update(tag_lists[at])
        if metadatas[at]:
            _rank_metadata(metadata, metadatas[at], span_rank)
    return (
        projects[first],
        traces[first],
        session_id,
        session_rank,
        user_id,
        user_rank,
        name,
        name_rank,
        start_ns,
        end_ns,
        len(offsets),
        errors,
        input_tokens,
        output_tokens,
        cost,
        sorted(tags),
        orjson.dumps(metadata).decode() if metadata else "{}",
        input_preview(input_text),
        input_rank,
        _output_preview(outputs, statuses, status_messages, event_lists, output_at),
        output_rank,
        min_seq,
        max_seq,
    )


def _output_preview(
    outputs: Sequence[Any],
    statuses: Sequence[Any],
    messages: Sequence[Any],
    events: Sequence[Any],
    at: int | None,
) -> str | None:
    """The preview of the span at ``at``'s output, or of its error when it has none."""
    if at is None:
        return None
    if outputs[at] is not None:
        return output_preview(outputs[at])
    return error_preview(events[at], messages[at])


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
