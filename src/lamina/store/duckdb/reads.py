"""Reads of sessions, traces and spans (the SQL of lists and searches is in
lamina.store.sessions_sql; that of chosen traces and their spans in
lamina.store.duckdb.chosen_traces).

Lists and searches read only the summaries (``sessions``, ``traces``); one trace reads
its spans by the range of sequence numbers it covers, so DuckDB's zone maps on
``seq`` skip every other row group. The store runs each of these once everything
journaled is stored (see lamina.store.duckdb.storer.Storer.reading).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import duckdb

from lamina.spans.summaries import plain_metadata
from lamina.store import sessions_sql
from lamina.store.base import Row
from lamina.store.duckdb import chosen_traces as chosen
from lamina.store.duckdb import scores
from lamina.store.duckdb.connection import Connection, one
from lamina.store.duckdb.experiments import with_runs
from lamina.store.duckdb.remembered import Key
from lamina.store.duckdb.values import CUT_COLUMN, join_values, trace_spans
from lamina.store.queries import Page, SessionQuery, TraceQuery
from lamina.store.rows import (
    LARGE_FIELDS,
    cut_fields,
    duration_ms,
    outline_row,
    page,
    parse_json,
    session_row,
    total_tokens,
    whole_value,
)

# A newest-first search looks first among this many pages' worth of the newest
# sessions or traces (see _windowed_search).
SEARCH_WINDOW = 8
# A trace's spans: their fields, with the heads of the long values kept apart (see
# lamina.store.duckdb.values), and what joins those to the rest. Spans stored before
# values were kept apart (a data dir of an earlier release) may hold long values
# whole: the traces they are in are read with those cut in SQL (see
# lamina.store.rows.TRACE_VALUE_CHARS), which made a one-trace read 5 ms slower.
_SPAN_FIELDS = f"seq, {sessions_sql.SPAN_FIELDS}, {CUT_COLUMN}"
_CUT_SPAN_FIELDS = (
    f"seq, {cut_fields(sessions_sql.SPAN_FIELDS, 'length({f})', 'left({f}, {n})')}, {CUT_COLUMN}"
)
Q = TypeVar("Q", SessionQuery, TraceQuery)


def list_sessions(connection: Connection, project_id: str, query: SessionQuery) -> Page[Row]:
    query = with_runs(connection, project_id, query)
    rows: list[dict[str, Any]] = []
    if sessions_sql.reads_costliest(query):
        rows = connection.query(
            *sessions_sql.list_sessions(project_id, query, table="costliest_sessions")
        )
    if len(rows) <= query.limit:  # not a full page there: it may lie past them
        rows = _windowed_search(
            connection, "sessions", sessions_sql.list_sessions, project_id, query
        )
    found = page([session_row(row) for row in rows], query.limit, _sort_name(query), "session_id")
    scores.add_session_fields(connection, project_id, found.items)
    return found


def count_sessions(connection: Connection, project_id: str, query: SessionQuery, up_to: int) -> int:
    """Counted again after any write (lamina.store.duckdb.remembered); a count by status
    each time (sessions end as the clock moves, not only as data is written)."""
    query = with_runs(connection, project_id, query)
    key: tuple[str, ...] | None = None
    if query.status is None:
        filters = dataclasses.replace(query, limit=0, cursor=None, sort="", score_sort=None)
        key = ("count", project_id, repr(filters), str(up_to))
    writes = connection.writes_done()
    if key is not None and (known := connection.remembered.known(writes, [key])):
        return int(known[key])
    row = one(connection.cursor().execute(*sessions_sql.count_sessions(project_id, query, up_to)))
    counted = int(row[0]) if row else 0
    if key is not None:
        connection.remembered.keep(writes, connection.writes_done(), {key: counted})
    return counted


def session_spans(
    connection: Connection, project_id: str, session_id: str, limit: int
) -> list[Row]:
    traces = connection.query(chosen.SESSION_TRACE_SEQS, [session_id, project_id])
    if not traces:
        return []
    rows = connection.query(*chosen.session_spans_sql(project_id, traces, limit))
    return [outline_row(row) for row in rows]


def get_session(connection: Connection, project_id: str, session_id: str) -> Row | None:
    sql, params = sessions_sql.one_session(project_id, session_id)
    rows = connection.query(sql, params)
    if not rows:
        return None
    session = session_row(rows[0])
    scores.add_session_fields(connection, project_id, [session])
    session["scores"] = scores.session_scores(connection, project_id, session_id)
    traces = connection.query(
        sessions_sql.by_id(
            "traces", "session_id", sessions_sql.TRACE_FIELDS, "ORDER BY start_ns, trace_id"
        ),
        [session_id, project_id],
    )
    session["traces"] = [trace_row(row) for row in traces]
    scores.add_trace_fields(connection, project_id, session["traces"])
    return session


def list_traces(connection: Connection, project_id: str, query: TraceQuery) -> Page[Row]:
    query = with_runs(connection, project_id, query)
    rows = _windowed_search(connection, "traces", sessions_sql.list_traces, project_id, query)
    found = page([trace_row(row) for row in rows], query.limit, _sort_name(query), "trace_id")
    scores.add_trace_fields(connection, project_id, found.items)
    return found


def _sort_name(query: SessionQuery | TraceQuery) -> str:
    """The sort a page's cursor names: a sort by a score names the score."""
    return f"score:{query.score_sort}" if query.sort == "score" else query.sort


def _windowed_search(
    connection: Connection,
    table: str,
    build: Callable[[str, Q, int | None], tuple[str, list[Any]]],
    project_id: str,
    query: Q,
) -> list[dict[str, Any]]:
    """A page of ``table``, searched newest first when that is the order asked for.

    Searching means scanning span payloads, so a search for the newest matches
    first looks only at the rows that started since the start of the
    ``SEARCH_WINDOW``-th newest one (and at their spans, which started later
    still, so DuckDB's zone maps on ``spans.start_ns`` skip the rest), then at
    windows eight times as wide, and at last at everything. A window holding a
    full page of matches is the exact answer: every row outside it started
    earlier than all of them."""
    windowed = query.q is not None and query.sort == "start_time" and query.descending
    rank = SEARCH_WINDOW * (query.limit + 1)
    while windowed:
        sql, params = sessions_sql.search_window(
            table, project_id, query.cursor.value if query.cursor else None, rank
        )
        row = one(connection.cursor().execute(sql, params))
        if row is None:
            break
        rows = connection.query(*build(project_id, query, row[0]))
        if len(rows) > query.limit:
            return rows
        rank *= 8
    return connection.query(*build(project_id, query, None))


def get_trace(
    connection: Connection, project_id: str, trace_id: str, whole_before: int
) -> Row | None:
    """The trace and its spans. ``whole_before``: spans below this ``seq`` may hold long
    values whole (see _CUT_SPAN_FIELDS)."""
    found = _one_trace(connection, project_id, trace_id)
    if found is None:
        return None
    trace = trace_row(found)
    cut_in_sql = found["min_seq"] < whole_before
    fields = _CUT_SPAN_FIELDS if cut_in_sql else _SPAN_FIELDS
    where = "seq BETWEEN ? AND ? AND project_id = ? AND trace_id = ?"
    params = [found["min_seq"], found["max_seq"], project_id, trace_id]
    try:
        # put in order here: DuckDB's sort of a trace's few rows cost a third of the read
        spans = connection.query(f"SELECT {fields} FROM spans WHERE {where}", params)
        spans.sort(key=lambda span: (span["start_ns"], span["seq"]))
    except duckdb.OutOfMemoryException:
        # A scan holds the whole text of the rows it reads together (6 spans of 12 MB
        # stored whole did not fit in 64 MB): read them one at a time, each value cut.
        seqs = connection.query(
            f"SELECT seq FROM spans WHERE {where} ORDER BY start_ns, seq", params
        )
        spans = [
            span
            for row in seqs
            for span in connection.query(
                f"SELECT {fields} FROM spans WHERE seq = ? AND project_id = ?",
                [row["seq"], project_id],
            )
        ]
    trace["spans"] = trace_spans(connection, spans, cut_in_sql)
    scores.add_trace_fields(connection, project_id, [trace])
    trace["scores"] = _trace_scores(connection, project_id, trace)
    return trace


# One trace's row, looked up in the index of trace ids: the id is the statement's one
# filter (DuckDB uses the index only then) and the project is checked here, which cost
# half as much as sessions_sql.by_id's materialised lookup.
_ONE_TRACE = (
    f"SELECT project_id, {sessions_sql.TRACE_FIELDS}, min_seq, max_seq FROM traces "
    "WHERE trace_id = ?"
)


def _one_trace(connection: Connection, project_id: str, trace_id: str) -> dict[str, Any] | None:
    for row in connection.query(_ONE_TRACE, [trace_id]):
        if row.pop("project_id") == project_id:
            return row
    return None


def _trace_scores(connection: Connection, project_id: str, trace: Row) -> list[Row]:
    """The trace's scores and its spans'. Their read scans the project's scores (8-9 ms
    of CPU at 100k, the trace's row 1.5), so it is skipped when the trace's score summary
    (which counts each of them) has none, the usual case, and otherwise kept between
    writes as the summary is (lamina.store.duckdb.remembered)."""
    if not trace["score_summary"]:
        return []
    writes = connection.writes_done()
    key: Key = ("trace-scores", project_id, trace["trace_id"])
    known = connection.remembered.known(writes, [key])
    if key not in known:
        read = scores.trace_scores(connection, project_id, [trace["trace_id"]])
        known = {key: read[trace["trace_id"]]}
        connection.remembered.keep(writes, connection.writes_done(), known)
    return [dict(row) for row in known[key]]


def get_traces(
    connection: Connection, project_id: str, trace_ids: Sequence[str], whole_before: int
) -> list[Row]:
    """What :func:`get_trace` answers for each of ``trace_ids`` the project has (each
    once), in their order: two statements however many traces there are (and one more
    for the values kept apart, if any)."""
    wanted = list(dict.fromkeys(trace_ids))
    if not wanted:
        return []
    found = {row["trace_id"]: row for row in chosen.many_traces(connection, project_id, wanted)}
    if not found:
        return []
    spans: dict[str, list[Row]] = {trace_id: [] for trace_id in found}
    cut_in_sql = min(trace["min_seq"] for trace in found.values()) < whole_before
    fields = _CUT_SPAN_FIELDS if cut_in_sql else _SPAN_FIELDS
    try:
        rows = connection.query(*chosen.traces_spans_sql(project_id, list(found.values()), fields))
    except duckdb.OutOfMemoryException:
        # Their spans' text together does not fit: a trace at a time (see get_trace).
        return [
            trace
            for trace_id in wanted
            if (trace := get_trace(connection, project_id, trace_id, whole_before)) is not None
        ]
    owners = [row.pop("trace_id") for row in rows]
    for owner, span in zip(owners, trace_spans(connection, rows, cut_in_sql), strict=True):
        spans[owner].append(span)
    out = [{**trace_row(found[t]), "spans": spans[t]} for t in wanted if t in found]
    scores.add_trace_fields(connection, project_id, out)
    scored = [trace["trace_id"] for trace in out if trace["score_summary"]]  # see _trace_scores
    by_trace = scores.trace_scores(connection, project_id, scored) if scored else {}
    for trace in out:
        trace["scores"] = by_trace.get(trace["trace_id"], [])
    return out


def span_value(
    connection: Connection, project_id: str, trace_id: str, span_id: str, field: str
) -> Row | None:
    if field not in LARGE_FIELDS:
        return None
    trace = _one_trace(connection, project_id, trace_id)
    if trace is None:
        return None
    found = connection.query(
        f"SELECT seq, {field}, {CUT_COLUMN} FROM spans WHERE seq BETWEEN ? AND ? "
        "AND project_id = ? AND trace_id = ? AND span_id = ? LIMIT 1",
        [trace["min_seq"], trace["max_seq"], project_id, trace_id, span_id],
    )
    if not found:
        return None
    join_values(connection, found, field=field)
    value = whole_value(field, found[0][field])
    return {"trace_id": trace_id, "span_id": span_id, "field": field, "value": value}


def count_spans(connection: Connection, project_id: str | None = None) -> int:
    if project_id is None:
        row = one(connection.cursor().execute("SELECT count(*) FROM spans"))
    else:
        row = one(
            connection.cursor().execute(
                "SELECT count(*) FROM spans WHERE project_id = ?", [project_id]
            )
        )
    return int(row[0]) if row else 0


def trace_row(row: dict[str, Any]) -> Row:
    out = dict(row)
    out.pop("min_seq", None)
    out.pop("max_seq", None)
    out["duration_ms"] = duration_ms(row)
    out["status"] = "error" if row["error_count"] else "ok"
    out["total_tokens"] = total_tokens(row)
    out["tags"] = list(row["tags"] or [])
    out["metadata"] = plain_metadata(parse_json(row["metadata"], {}))
    return out
