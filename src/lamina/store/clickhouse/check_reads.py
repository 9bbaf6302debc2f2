"""What a batch of checks reads in the ClickHouse store (lamina.evaluation.checks):
chosen traces, or every turn of chosen sessions, each trace's row without its previews
and the spans of the kinds its checks look at, with only the fields they read
(Store.check_traces, Store.check_sessions), as the DuckDB store reads them."""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from typing import Any

from lamina.store.base import Row
from lamina.store.clickhouse.connection import Connection
from lamina.store.clickhouse.reads import found_traces, trace_row
from lamina.store.rows import (
    CHECK_LARGE_FIELDS,
    check_span_condition,
    check_span_fields,
    check_span_row,
    cut_columns,
    cut_fields,
    first_and_last,
)

_PREVIEWS = ("input_preview", "output_preview")


@functools.cache
def _check_spans(payloads: tuple[str, ...], spans_of: tuple[str, ...] | None) -> str:
    """The spans of chosen traces as a check reads them (of input and output,
    ``payloads``; of the CHECK_SPAN_KINDS ``spans_of``, unless None)."""
    fields = check_span_fields(payloads)
    fields = cut_fields(fields, "lengthUTF8({f})", "substringUTF8({f}, 1, {n})")
    return (
        f"SELECT trace_id, {fields} FROM spans WHERE project_id = {{project:String}} "
        "AND start_ns >= {first:Int64} AND start_ns <= {last:Int64} "
        f"AND trace_id IN {{traces:Array(String)}}{check_span_condition(spans_of)} "
        "ORDER BY trace_id, start_ns, seq"
    )


def check_traces(
    db: Connection,
    project_id: str,
    trace_ids: Sequence[str],
    payloads: Sequence[str] = CHECK_LARGE_FIELDS,
    spans_of: Collection[str] | None = None,
) -> list[Row]:
    """:meth:`Store.check_traces`."""
    wanted, found, _ = found_traces(db, project_id, trace_ids)
    traces = [found[t] for t in wanted if t in found]
    return _with_spans(db, project_id, traces, payloads, spans_of)


def check_sessions(
    db: Connection,
    project_id: str,
    session_ids: Sequence[str],
    payloads: Sequence[str] = CHECK_LARGE_FIELDS,
    spans_of: Collection[str] | None = None,
    most_turns: int = 200,
) -> dict[str, list[Row]]:
    """:meth:`Store.check_sessions`."""
    wanted = list(dict.fromkeys(session_ids))
    if not wanted:
        return {}
    of_session: dict[str, list[str]] = {}
    for row in db.query(
        "SELECT DISTINCT session_id, trace_id FROM session_traces "
        "WHERE project_id = {project:String} AND session_id IN {ids:Array(String)}",
        {"project": project_id, "ids": wanted},
    ):
        of_session.setdefault(row["session_id"], []).append(row["trace_id"])
    every = [trace_id for ids in of_session.values() for trace_id in ids]
    _, found, _ = found_traces(db, project_id, every)
    turns: dict[str, list[Row]] = {}
    for session_id, ids in of_session.items():
        rows = sorted(
            (found[trace_id] for trace_id in ids if trace_id in found),
            key=lambda row: (row["start_ns"], row["trace_id"]),
        )
        if rows:
            turns[session_id] = first_and_last(rows, most_turns)
    kept = [row for rows in turns.values() for row in rows]
    by_id = {t["trace_id"]: t for t in _with_spans(db, project_id, kept, payloads, spans_of)}
    return {
        session_id: [by_id[row["trace_id"]] for row in rows] for session_id, rows in turns.items()
    }


def _with_spans(
    db: Connection,
    project_id: str,
    traces: list[Row],
    payloads: Sequence[str],
    spans_of: Collection[str] | None,
) -> list[Row]:
    """``traces`` (rows of sql.many_traces) with their spans as a check reads them (found
    within the time the traces span), and without their previews."""
    if not traces:
        return []
    params: dict[str, Any] = {
        "project": project_id,
        "traces": [row["trace_id"] for row in traces],
        "first": min(row["start_ns"] for row in traces),
        "last": max(max(row["end_ns"], row["last_start_ns"]) for row in traces),
    }
    read = tuple(field for field in CHECK_LARGE_FIELDS if field in payloads)
    spans: dict[str, list[Row]] = {trace["trace_id"]: [] for trace in traces}
    kinds = None if spans_of is None else tuple(sorted(spans_of))
    for span in db.query(_check_spans(read, kinds), params):
        owner = span.pop("trace_id")
        spans[owner].append(check_span_row(span, cut_columns(span, read)))
    out = []
    for trace in traces:
        row = trace_row(trace)
        for preview in _PREVIEWS:
            row.pop(preview, None)
        out.append({**row, "spans": spans[trace["trace_id"]]})
    return out
