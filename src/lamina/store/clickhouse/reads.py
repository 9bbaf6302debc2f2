"""The ClickHouse store's reads: sessions, traces and their spans, as the Store
protocol returns them (rows identical in shape to the DuckDB store's).

The SQL is in :mod:`lamina.store.clickhouse.sql`. A trace's spans are found through
its summary first: its start times bound theirs, which (with the project) is a
prefix of the spans' sort key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lamina.store.base import Row
from lamina.store.clickhouse import scores, sql
from lamina.store.clickhouse.connection import Connection
from lamina.store.clickhouse.scores import with_summaries
from lamina.store.queries import Page, SessionQuery, TraceQuery
from lamina.store.rows import (
    LARGE_FIELDS,
    cut_span_row,
    duration_ms,
    outline_row,
    page,
    parse_json,
    session_row,
    total_tokens,
    whole_value,
)


def trace_row(row: dict[str, Any]) -> Row:
    """A trace read with ``sql.TRACE_FIELDS`` as the protocol returns it."""
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


def _sort_name(sort: str, score_sort: str | None) -> str:
    """The sort a page's cursor names (``score:NAME`` for a sort by a score)."""
    return f"score:{score_sort}" if sort == "score" else sort


def list_sessions(db: Connection, project_id: str, query: SessionQuery) -> Page[Row]:
    text, params = sql.list_sessions(project_id, query, scores.idle(db, project_id))
    rows = [session_row(row) for row in db.query(text, params)]
    found = page(rows, query.limit, _sort_name(query.sort, query.score_sort), "session_id")
    with_summaries(db, project_id, found.items, "session_id")
    return found


def count_sessions(db: Connection, project_id: str, query: SessionQuery, up_to: int) -> int:
    text, params = sql.count_sessions(project_id, query, up_to, scores.idle(db, project_id))
    rows = db.query(text, params)
    return int(rows[0]["n"]) if rows else 0


def session_spans(db: Connection, project_id: str, session_id: str, limit: int) -> list[Row]:
    params: dict[str, Any] = {"project": project_id, "session": session_id}
    traces = db.query(sql.SESSION_TRACE_BOUNDS, params)
    if not traces:
        return []
    params["first"] = min(row["start_ns"] for row in traces)
    params["last"] = max(row["last_ns"] for row in traces)
    params["traces"] = [row["trace_id"] for row in traces]
    params["limit"] = limit
    return [outline_row(row) for row in db.query(sql.SESSION_SPANS, params)]


def get_session(db: Connection, project_id: str, session_id: str) -> Row | None:
    params: dict[str, Any] = {"project": project_id, "session": session_id}
    params.update(scores.idle(db, project_id))
    rows = db.query(sql.one_session(), params)
    if not rows:
        return None
    session = with_summaries(db, project_id, [session_row(rows[0])], "session_id")[0]
    session["scores"] = scores.session_scores(db, project_id, session_id)
    traces = [trace_row(row) for row in db.query(sql.session_traces(), params)]
    session["traces"] = with_summaries(db, project_id, traces, "trace_id")
    return session


def list_traces(db: Connection, project_id: str, query: TraceQuery) -> Page[Row]:
    text, params = sql.list_traces(project_id, query)
    rows = [trace_row(row) for row in db.query(text, params)]
    found = page(rows, query.limit, _sort_name(query.sort, query.score_sort), "trace_id")
    with_summaries(db, project_id, found.items, "trace_id")
    return found


def get_trace(db: Connection, project_id: str, trace_id: str) -> Row | None:
    params: dict[str, Any] = {"project": project_id, "trace": trace_id}
    rows = db.query(sql.one_trace(), params)
    if not rows:
        return None
    row = rows[0]
    params["first"] = row["start_ns"]
    params["last"] = max(row["end_ns"], row["last_start_ns"])
    spans = db.query(sql.ONE_TRACE_CUT_SPANS, params)
    trace = with_summaries(db, project_id, [trace_row(row)], "trace_id")[0]
    # no score in its summary: none to read (the summary counts every one of them)
    trace["scores"] = (
        scores.trace_scores(db, project_id, [trace_id])[trace_id] if trace["score_summary"] else []
    )
    trace["spans"] = [cut_span_row(span) for span in spans]
    return trace


def found_traces(
    db: Connection, project_id: str, trace_ids: Sequence[str]
) -> tuple[list[str], dict[str, Row], dict[str, Any]]:
    """The ids asked for (each once, in order), the project's trace rows among them by
    id, and the parameters that read their spans (the traces and the time they span)."""
    wanted = list(dict.fromkeys(trace_ids))
    params: dict[str, Any] = {"project": project_id, "traces": wanted}
    found = {row["trace_id"]: row for row in db.query(sql.many_traces(), params)} if wanted else {}
    if found:
        params["traces"] = list(found)
        params["first"] = min(row["start_ns"] for row in found.values())
        params["last"] = max(max(row["end_ns"], row["last_start_ns"]) for row in found.values())
    return wanted, found, params


def get_traces(db: Connection, project_id: str, trace_ids: Sequence[str]) -> list[Row]:
    """What :func:`get_trace` answers for each of ``trace_ids`` the project has (each
    once), in their order: two statements however many traces there are."""
    wanted, found, params = found_traces(db, project_id, trace_ids)
    if not found:
        return []
    spans: dict[str, list[Row]] = {trace: [] for trace in found}
    for span in db.query(sql.MANY_TRACES_CUT_SPANS, params):
        spans[span.pop("trace_id")].append(cut_span_row(span))
    traces = with_summaries(
        db, project_id, [trace_row(found[trace]) for trace in wanted if trace in found], "trace_id"
    )
    # the scores of the traces whose summary counts some (see get_trace)
    given = scores.trace_scores(
        db, project_id, [t["trace_id"] for t in traces if t["score_summary"]]
    )
    for trace in traces:
        trace["scores"] = given.get(trace["trace_id"], [])
        trace["spans"] = spans[trace["trace_id"]]
    return traces


def span_value(
    db: Connection, project_id: str, trace_id: str, span_id: str, field: str
) -> Row | None:
    if field not in LARGE_FIELDS:
        return None
    params: dict[str, Any] = {"project": project_id, "trace": trace_id, "span": span_id}
    rows = db.query(sql.one_trace(), params)
    if not rows:
        return None
    params["first"] = rows[0]["start_ns"]
    params["last"] = max(rows[0]["end_ns"], rows[0]["last_start_ns"])
    found = db.query(sql.one_span_value(field), params)
    if not found:
        return None
    value = whole_value(field, found[0]["value"])
    return {"trace_id": trace_id, "span_id": span_id, "field": field, "value": value}


def count_spans(db: Connection, project_id: str | None = None) -> int:
    if project_id is None:
        rows = db.query("SELECT count() AS n FROM spans")
    else:
        rows = db.query(
            "SELECT count() AS n FROM spans WHERE project_id = {project:String}",
            {"project": project_id},
        )
    return int(rows[0]["n"])
