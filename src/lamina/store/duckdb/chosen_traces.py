"""Chosen traces and their spans, in DuckDB: several traces' rows by their ids, and
the spans of chosen traces by the ranges of sequence numbers they cover (zone maps on
``seq`` skip every other row group). lamina.store.duckdb.reads reads with these.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from typing import Any

from lamina.store import sessions_sql
from lamina.store.base import Row
from lamina.store.duckdb.connection import Connection
from lamina.store.rows import check_span_condition

# A session's spans without their payloads, for its timeline: its traces (looked up
# by session) give the ranges of their spans' seq, which zone maps narrow the scan to.
# One range from the lowest to the highest read every span between (the session's
# traces are interleaved with others'): 22 ms for a 7-trace session of 300k spans, one
# range a trace 6 ms. At most SEQ_RANGES ranges: the closest are joined past that.
_OUTLINE_FIELDS = "trace_id, span_id, parent_span_id, name, span_type, start_ns, end_ns, status"
SESSION_TRACE_SEQS = sessions_sql.by_id("traces", "session_id", "trace_id, min_seq, max_seq")
SEQ_RANGES = 64


def session_spans_sql(
    project_id: str, traces: list[dict[str, Any]], limit: int
) -> tuple[str, list[Any]]:
    """The first ``limit`` spans (by start) of ``traces`` (rows of SESSION_TRACE_SEQS)."""
    within, params = _spans_of(project_id, traces)
    sql = f"SELECT {_OUTLINE_FIELDS} FROM spans WHERE {within} ORDER BY start_ns, span_id LIMIT ?"
    return sql, [*params, limit]


# Several traces at once (a session's page, its export, a batch of checks): their ids
# are the first parameter (a list), the project the second. Up to INDEXED_TRACES ids are
# looked up in the index as sessions_sql.by_id does; DuckDB then takes each row apart
# (about 50 us an id), and for a longer list (a table of 50,000 traces) scans the table
# calling list_contains on each row: a hash join of the ids is 3-4 times faster there
# (1,084 ids: 16 against 54 ms; 10 ids: 10 against 5 ms, session 17).
INDEXED_TRACES = 100


@functools.cache
def many_traces_sql(fields: str, joined: bool) -> str:
    """The traces of a list of ids (the first parameter) in a project (the second): their
    ``fields`` and seq ranges; the ids looked up in the index, or ``joined``."""
    of = "trace_id IN (SELECT unnest(?::VARCHAR[]))" if joined else "list_contains(?, trace_id)"
    return (
        f"WITH found AS MATERIALIZED (SELECT * FROM traces WHERE {of}) "
        f"SELECT {fields}, min_seq, max_seq FROM found WHERE project_id = ?"
    )


def many_traces(
    connection: Connection,
    project_id: str,
    wanted: list[str],
    fields: str = sessions_sql.TRACE_FIELDS,
) -> list[Row]:
    """The rows of the traces ``wanted`` of the project: their ``fields``, with their seq
    ranges."""
    sql = many_traces_sql(fields, len(wanted) > INDEXED_TRACES)
    return connection.query(sql, [wanted, project_id])


def traces_spans_sql(
    project_id: str,
    traces: list[dict[str, Any]],
    fields: str,
    spans_of: Collection[str] | None = None,
) -> tuple[str, list[Any]]:
    """Every span of ``traces`` (rows of :func:`many_traces`; of the CHECK_SPAN_KINDS
    ``spans_of`` only, unless None): its ``trace_id`` and ``fields``, by start (then
    seq), read in one statement. At 300k spans, for a session's 50 traces: 24 ms, where
    reading them one trace at a time took 330 ms."""
    within, params = _spans_of(project_id, traces)
    within += check_span_condition(spans_of)
    return f"SELECT trace_id, {fields} FROM spans WHERE {within} ORDER BY start_ns, seq", params


def _spans_of(project_id: str, traces: list[dict[str, Any]]) -> tuple[str, list[Any]]:
    """The condition on ``spans`` that selects the spans of ``traces`` (rows with
    ``trace_id``, ``min_seq`` and ``max_seq``), and its parameters."""
    ranges = seq_ranges([(t["min_seq"], t["max_seq"]) for t in traces], SEQ_RANGES)
    within = " OR ".join("seq BETWEEN ? AND ?" for _ in ranges)
    bounds = [bound for pair in ranges for bound in pair]
    # a long list joined, as many_traces joins it (1,076 traces' failed spans and tool
    # calls: 5.8 ms, 6.8 tested on each row)
    of = "list_contains(?, trace_id)"
    if len(traces) > INDEXED_TRACES:
        of = "trace_id IN (SELECT unnest(?::VARCHAR[]))"
    condition = f"({within}) AND project_id = ? AND {of}"
    return condition, [*bounds, project_id, [t["trace_id"] for t in traces]]


def seq_ranges(ranges: list[tuple[int, int]], most: int) -> list[tuple[int, int]]:
    """``ranges`` joined where they overlap, then across the smallest gaps between them
    until at most ``most`` are left (they cover every value they covered)."""
    joined: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        if joined and low <= joined[-1][1] + 1:
            joined[-1] = (joined[-1][0], max(joined[-1][1], high))
        else:
            joined.append((low, high))
    if len(joined) <= most:
        return joined
    gaps = sorted(range(1, len(joined)), key=lambda i: joined[i][0] - joined[i - 1][1])
    closed = set(gaps[: len(joined) - most])
    out = [joined[0]]
    for i in range(1, len(joined)):
        if i in closed:
            out[-1] = (out[-1][0], joined[i][1])
        else:
            out.append(joined[i])
    return out
