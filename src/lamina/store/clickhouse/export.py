"""Exports: a project's sessions, traces or spans, one page at a time, in each
table's own key order (a cursor is the last row's key), each row as the reads
return it.
"""

from __future__ import annotations

from typing import Any

from lamina.errors import BadRequest, InvalidCursor
from lamina.store.base import ExportKind, Row
from lamina.store.clickhouse import score_sql, scores, sql
from lamina.store.clickhouse.connection import Connection
from lamina.store.clickhouse.reads import trace_row
from lamina.store.clickhouse.schema import HOUR_NS
from lamina.store.queries import Page
from lamina.store.rows import session_row, span_row

# Spans in the table's sort order (project, hour, trace, start), then span id.
_SPANS = (
    f"SELECT trace_id, {sql.SPAN_FIELDS} FROM spans WHERE project_id = {{project:String}}{{where}} "
    f"ORDER BY intDiv(start_ns, {HOUR_NS}), trace_id, start_ns, span_id LIMIT {{limit:UInt32}}"
)
_SPANS_AFTER = (
    f" AND (intDiv(start_ns, {HOUR_NS}), trace_id, start_ns, span_id) > "
    f"(intDiv({{after_ns:Int64}}, {HOUR_NS}), {{after_trace:String}}, {{after_ns:Int64}}, "
    "{after_span:String})"
)
# The sizes of the next spans of an export, so that a page can end by bytes: their text,
# plus a little for ids, times and numbers.
_SPAN_SIZES = (
    "SELECT start_ns, trace_id, span_id, length(name) + length(status_message) "
    "+ length(ifNull(input, '')) + length(ifNull(output, '')) + length(metadata) "
    "+ length(attributes) + length(events) + length(resource) "
    "+ length(arrayStringConcat(tags, ',')) + 200 AS size "
    "FROM spans WHERE project_id = {project:String}{where} "
    f"ORDER BY intDiv(start_ns, {HOUR_NS}), trace_id, start_ns, span_id LIMIT {{limit:UInt32}}"
)
_SPANS_UP_TO = (
    f" AND (intDiv(start_ns, {HOUR_NS}), trace_id, start_ns, span_id) <= "
    f"(intDiv({{last_ns:Int64}}, {HOUR_NS}), {{last_trace:String}}, {{last_ns:Int64}}, "
    "{last_span:String})"
)
_SPANS_OF_SESSION = (
    f" AND trace_id IN (SELECT trace_id FROM ({sql.trace_aggregate(sql.IN_SESSION)}) "
    "WHERE session_id = {session:String})"
)


def export_page(
    db: Connection,
    project_id: str,
    kind: ExportKind,
    after: str | None = None,
    limit: int = 1000,
    session_id: str | None = None,
    max_bytes: int | None = None,
) -> Page[Row]:
    params: dict[str, Any] = {"project": project_id, "limit": limit + 1}
    if session_id is not None:
        params["session"] = session_id
    if kind == ExportKind.SPANS:
        return _export_spans(db, params, after, limit, session_id is not None, max_bytes)
    if kind == ExportKind.TRACES:
        narrow = sql.IN_SESSION if session_id is not None else ""
        where = "session_id = {session:String}" if session_id is not None else "1"
        if after is not None:
            narrow += " AND trace_id > {after:String}"
            params["after"] = after
        text = (
            f"SELECT {sql.TRACE_FIELDS} FROM ({sql.trace_aggregate(narrow)}) "
            f"WHERE {where} ORDER BY trace_id LIMIT {{limit:UInt32}}"
        )
        key, convert = "trace_id", trace_row
    elif kind == ExportKind.SESSIONS:
        narrow = " AND session_id = {session:String}" if session_id is not None else ""
        if after is not None:
            narrow += " AND session_id > {after:String}"
            params["after"] = after
        params.update(scores.idle(db, project_id))
        text = (
            f"SELECT * FROM ({score_sql.with_status(sql.sessions_view(narrow))}) "
            "WHERE trace_count > 0 ORDER BY session_id LIMIT {limit:UInt32}"
        )
        key, convert = "session_id", session_row
    else:  # a caller the type checker did not see
        raise BadRequest(f"Cannot export {kind!r}: choose sessions, traces or spans.")
    rows = db.query(text, params)
    cursor = str(rows[limit - 1][key]) if len(rows) > limit else None
    items = [convert(row) for row in rows[:limit]]
    return Page(scores.with_summaries(db, project_id, items, key), cursor)


def _export_spans(
    db: Connection,
    params: dict[str, Any],
    after: str | None,
    limit: int,
    of_session: bool,
    max_bytes: int | None,
) -> Page[Row]:
    where = _SPANS_OF_SESSION if of_session else ""
    if after is not None:
        start, _, rest = after.partition("/")
        trace, _, span = rest.partition("/")
        if not start.lstrip("-").isdigit() or not trace or not span:
            raise InvalidCursor(f"Not a cursor of a spans export: {after!r}.")
        where += _SPANS_AFTER
        params.update(after_ns=int(start), after_trace=trace, after_span=span)
    ends: dict[str, Any] | None = None
    if max_bytes is not None:  # first the sizes, then only the spans that fit
        sizes = db.query(_SPAN_SIZES.replace("{where}", where), params)
        cut, used = 0, 0
        for row in sizes[:limit]:
            if cut and used + row["size"] > max_bytes:
                break
            used += row["size"]
            cut += 1
        if cut == 0:
            return Page([], None)
        ends = sizes[cut - 1]
        where += _SPANS_UP_TO
        params.update(last_ns=ends["start_ns"], last_trace=ends["trace_id"])
        params["last_span"] = ends["span_id"]
        if cut == len(sizes):
            ends = None  # nothing after it
        limit = cut
    rows = db.query(_SPANS.replace("{where}", where), params)
    if max_bytes is None and len(rows) > limit:
        ends = rows[limit - 1]
    cursor = None
    if ends is not None:
        cursor = f"{ends['start_ns']}/{ends['trace_id']}/{ends['span_id']}"
    return Page([span_row(row) for row in rows[:limit]], cursor)
