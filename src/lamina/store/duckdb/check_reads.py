"""What a batch of checks reads in the DuckDB store (lamina.evaluation.checks): chosen
traces, or every turn of chosen sessions, each trace's row without its previews and the
spans of the kinds its checks look at, with only the fields they read (Store.check_traces,
Store.check_sessions).

A batch of 43 sessions of 25 turns (1,076 traces of 169k, 675k spans): their trace rows
by session id in one statement took 4.6 ms, where their ids by session and then their
rows by id took 2.3 and 14 (the previews, long text no check reads, were half of it).
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence

import duckdb

from lamina.store import sessions_sql
from lamina.store.base import Row
from lamina.store.duckdb import chosen_traces as chosen
from lamina.store.duckdb.connection import Connection
from lamina.store.duckdb.reads import trace_row
from lamina.store.duckdb.values import CUT_COLUMN, join_values
from lamina.store.rows import (
    CHECK_LARGE_FIELDS,
    TRACE_VALUE_CHARS,
    check_span_fields,
    check_span_row,
    cut_columns,
    cut_fields,
    first_and_last,
)

_OF_SESSIONS = (
    f"SELECT {sessions_sql.CHECK_TRACE_FIELDS}, min_seq, max_seq FROM traces "
    "WHERE project_id = ? AND session_id IN (SELECT unnest(?::VARCHAR[]))"
)


def check_traces(
    connection: Connection,
    project_id: str,
    trace_ids: Sequence[str],
    whole_before: int,
    payloads: Sequence[str] = CHECK_LARGE_FIELDS,
    spans_of: Collection[str] | None = None,
) -> list[Row]:
    """:meth:`Store.check_traces`."""
    wanted = list(dict.fromkeys(trace_ids))
    if not wanted:
        return []
    rows = chosen.many_traces(connection, project_id, wanted, sessions_sql.CHECK_TRACE_FIELDS)
    found = {row["trace_id"]: row for row in rows}
    traces = [found[trace_id] for trace_id in wanted if trace_id in found]
    return _with_spans(connection, project_id, traces, whole_before, payloads, spans_of)


def check_sessions(
    connection: Connection,
    project_id: str,
    session_ids: Sequence[str],
    whole_before: int,
    payloads: Sequence[str] = CHECK_LARGE_FIELDS,
    spans_of: Collection[str] | None = None,
    most_turns: int = 200,
) -> dict[str, list[Row]]:
    """:meth:`Store.check_sessions`: one statement for the rows of all, one for their spans."""
    wanted = list(dict.fromkeys(session_ids))
    if not wanted:
        return {}
    of_session: dict[str, list[Row]] = {}
    for row in connection.query(_OF_SESSIONS, [project_id, wanted]):
        of_session.setdefault(row["session_id"], []).append(row)
    for session_id, rows in of_session.items():
        rows.sort(key=lambda row: (row["start_ns"], row["trace_id"]))
        of_session[session_id] = first_and_last(rows, most_turns)
    chosen_rows = [row for rows in of_session.values() for row in rows]
    read = _with_spans(connection, project_id, chosen_rows, whole_before, payloads, spans_of)
    by_id = {trace["trace_id"]: trace for trace in read}
    return {
        session_id: [by_id[row["trace_id"]] for row in rows]
        for session_id, rows in of_session.items()
    }


def _with_spans(
    connection: Connection,
    project_id: str,
    traces: list[Row],
    whole_before: int,
    payloads: Sequence[str],
    spans_of: Collection[str] | None,
) -> list[Row]:
    """``traces`` (rows with their seq ranges) with their spans as a check reads them,
    in one statement; a trace at a time when their text together does not fit in the
    store's memory."""
    if not traces:
        return []
    read = tuple(field for field in CHECK_LARGE_FIELDS if field in payloads)
    cut_in_sql = min(trace["min_seq"] for trace in traces) < whole_before
    sql, params = chosen.traces_spans_sql(
        project_id, traces, _check_fields(read, cut_in_sql), spans_of
    )
    try:
        rows = connection.query(sql, params)
    except duckdb.OutOfMemoryException:
        if len(traces) == 1:
            raise
        return [
            checked
            for trace in traces
            for checked in _with_spans(
                connection, project_id, [trace], whole_before, payloads, spans_of
            )
        ]
    truncated = [cut_columns(row, read) if cut_in_sql else {} for row in rows]
    for field in read:  # the others kept apart are not read
        join_values(connection, rows, TRACE_VALUE_CHARS, field)
    spans: dict[str, list[Row]] = {trace["trace_id"]: [] for trace in traces}
    for row, cut in zip(rows, truncated, strict=True):
        owner = row.pop("trace_id")
        del row["seq"]
        for field, length in (row.pop(CUT_COLUMN) or {}).items():
            if field in read and length > TRACE_VALUE_CHARS:
                row[field] = row[field][:TRACE_VALUE_CHARS]
                cut[field] = length
        spans[owner].append(check_span_row(row, cut))
    return [{**trace_row(trace), "spans": spans[trace["trace_id"]]} for trace in traces]


@functools.cache
def _check_fields(payloads: tuple[str, ...], cut_in_sql: bool) -> str:
    """The spans' columns a check reads (its ``payloads``; cut in SQL for old spans)."""
    fields = check_span_fields(payloads)
    if cut_in_sql:
        fields = cut_fields(fields, "length({f})", "left({f}, {n})")
    return f"seq, {fields}, {CUT_COLUMN}"
