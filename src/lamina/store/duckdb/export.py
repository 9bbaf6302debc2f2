"""Export pages: a project's (or one session's) sessions, traces or spans, in stored
form, a page at a time in key order; a page of spans ends by the size of their text.
Spans carry every value whole (those kept apart joined again, see
lamina.store.duckdb.values)."""

from __future__ import annotations

from typing import Any

import duckdb

from lamina.errors import BadRequest, InvalidCursor
from lamina.store import sessions_sql
from lamina.store.base import ExportKind, Row
from lamina.store.duckdb import scores
from lamina.store.duckdb.connection import Connection
from lamina.store.duckdb.reads import trace_row
from lamina.store.duckdb.values import CUT_COLUMN, join_values
from lamina.store.queries import Page
from lamina.store.rows import session_row, span_row

# A span's size in an export page: its text, plus a little for its ids, times and
# numbers (and the chunks of its values kept apart, see _chunk_bytes). An export reads
# the sizes of this many spans at first, then more or fewer by the sizes it found (see
# _span_page).
_SPAN_BYTES = (
    "strlen(name) + strlen(status_message) + coalesce(strlen(input), 0) "
    "+ coalesce(strlen(output), 0) + strlen(metadata) + strlen(attributes) + strlen(events) "
    "+ strlen(resource) + strlen(array_to_string(tags, ',')) + 200"
)
_SIZE_WINDOW = 64
_SPAN_FIELDS = f"{sessions_sql.SPAN_FIELDS}, {CUT_COLUMN}"


def export_page(
    connection: Connection,
    project_id: str,
    kind: ExportKind,
    after: str | None = None,
    limit: int = 1000,
    session_id: str | None = None,
    max_bytes: int | None = None,
) -> Page[Row]:
    """See lamina.store.base.Store.export_page."""
    params: list[Any] = [project_id]
    if kind == ExportKind.SPANS:
        key, convert = "seq", span_row
        source = "FROM spans WHERE project_id = ?"
        if session_id is not None:
            source += " AND trace_id IN (SELECT trace_id FROM traces WHERE project_id = ? "
            source += "AND session_id = ?)"
            params += [project_id, session_id]
        if max_bytes is not None:
            return _span_page(connection, source, params, after, limit, max_bytes)
        sql = f"SELECT seq, trace_id, {_SPAN_FIELDS} {source}"
    elif kind in (ExportKind.TRACES, ExportKind.SESSIONS):
        traces = kind == ExportKind.TRACES
        fields = sessions_sql.TRACE_FIELDS if traces else sessions_sql.SESSION_FIELDS
        key = "trace_id" if traces else "session_id"
        convert = trace_row if traces else session_row
        table = "traces" if traces else "sessions"
        sql = f"SELECT {fields} FROM {table} WHERE project_id = ?"
        if session_id is not None:
            sql += " AND session_id = ?"
            params.append(session_id)
    else:  # a caller the type checker did not see
        raise BadRequest(f"Cannot export {kind!r}: choose sessions, traces or spans.")
    if after is not None:
        sql += f" AND {key} > ?"
        if key == "seq":
            if not after.isdigit():
                raise InvalidCursor(f"Not a cursor of a spans export: {after!r}.")
            params.append(int(after))
        else:
            params.append(after)
    rows = connection.query(f"{sql} ORDER BY {key} LIMIT ?", [*params, limit + 1])
    cursor = str(rows[limit - 1][key]) if len(rows) > limit else None
    if kind == ExportKind.SPANS:
        return Page(_whole_spans(connection, rows[:limit]), cursor)
    found = [convert(row) for row in rows[:limit]]
    if kind == ExportKind.TRACES:  # as lists give them (lamina.store.duckdb.scores)
        scores.add_trace_fields(connection, project_id, found)
    else:
        scores.add_session_fields(connection, project_id, found)
    return Page(found, cursor)


def _whole_spans(connection: Connection, rows: list[dict[str, Any]]) -> list[Row]:
    """Spans read with ``seq`` and _SPAN_FIELDS, each value whole."""
    join_values(connection, rows)
    for row in rows:
        del row["seq"], row[CUT_COLUMN]
    return [span_row(row) for row in rows]


def _span_page(
    connection: Connection,
    source: str,
    params: list[Any],
    after: str | None,
    limit: int,
    max_bytes: int,
) -> Page[Row]:
    """The next spans of ``source`` (``FROM spans WHERE ...``), as many as fit in
    ``max_bytes`` of text (at least one, at most ``limit``). Their sizes are read
    first, a few spans at a time, then only those spans: neither the store nor the
    page holds much more than ``max_bytes``, however large the spans are."""
    if after is not None:
        if not after.isdigit():
            raise InvalidCursor(f"Not a cursor of a spans export: {after!r}.")
        source += " AND seq > ?"
        params = [*params, int(after)]
    found = connection.query(f"SELECT seq {source} ORDER BY seq LIMIT ?", [*params, limit + 1])
    seqs = [row["seq"] for row in found]
    if not seqs:
        return Page([], None)
    cut, used, window, largest = 0, 0, _SIZE_WINDOW, 1
    while cut < min(limit, len(seqs)) and used < max_bytes:
        ahead = seqs[cut : min(limit, cut + window)]
        try:
            sizes = connection.query(
                f"SELECT seq, {_SPAN_BYTES} AS size {source} AND seq BETWEEN ? AND ? ORDER BY seq",
                [*params, ahead[0], ahead[-1]],
            )
            apart = _chunk_bytes(connection, params[0], ahead[0], ahead[-1])
        except duckdb.OutOfMemoryException:
            if window == 1:
                raise
            window = max(1, window // 4)  # larger spans than those before them
            continue
        for row in sizes:
            size = row["size"] + apart.get(row["seq"], 0)
            if cut and used + size > max_bytes:
                used = max_bytes
                break
            used += size
            largest = max(largest, size)
            cut += 1
        window = max(1, min(2 * window, 2 * (max_bytes - used) // largest))
    last = seqs[cut - 1]
    fields = f"SELECT seq, trace_id, {_SPAN_FIELDS}"
    rows = connection.query(f"{fields} {source} AND seq <= ? ORDER BY seq", [*params, last])
    return Page(_whole_spans(connection, rows), str(last) if cut < len(seqs) else None)


def _chunk_bytes(connection: Connection, project_id: str, low: int, high: int) -> dict[int, int]:
    """The bytes of the chunks kept apart of the project's spans ``low`` to ``high``
    (seq), by span (64 spans of 300 KB: 4 ms)."""
    rows = connection.query(
        "SELECT seq, sum(strlen(chunk)) AS size FROM span_values "
        "WHERE seq BETWEEN ? AND ? AND project_id = ? GROUP BY seq",
        [low, high, project_id],
    )
    return {row["seq"]: int(row["size"]) for row in rows}
