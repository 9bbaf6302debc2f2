"""The SQL console on the DuckDB store (see lamina.store.console and its guard).

Each view is a subquery of one project's rows, the project a bound parameter
(``$lamina_project``). The query runs on a cursor of its own, so a timer can
``interrupt()`` it at the time limit without touching any other statement; reads never
lock what the store's writer writes (DuckDB's MVCC). Memory is the store's own limit
(``--store-memory-mb``, shared with ingest: DuckDB has no limit per query), and the
database runs with ``enable_external_access`` off (lamina.store.duckdb.connection), so
even a query the guard let through could read no file or URL.
"""

from __future__ import annotations

import contextlib
import threading

import duckdb

from lamina.errors import BadRequest
from lamina.store.console import ConsoleQuery, ConsoleResult, read_result
from lamina.store.console_guard import rewrite
from lamina.store.duckdb.connection import CATALOG, Connection, first_line

_PROJECT = "project_id = $lamina_project"
_TIMES = (
    "make_timestamp(start_ns // 1000) AS start_time, make_timestamp(end_ns // 1000) AS end_time, "
    "(end_ns - start_ns) / 1e6 AS duration_ms"
)
_USAGE = "input_tokens, output_tokens, cost"
VIEWS = {
    "sessions": (
        f"SELECT session_id, user_ids[1] AS user_id, user_ids, {_TIMES}, trace_count, "
        f"span_count, {_USAGE}, error_count, first_input, last_output "
        f"FROM sessions WHERE {_PROJECT} AND trace_count > 0"
    ),
    "traces": (
        f"SELECT trace_id, session_id, user_id, name, {_TIMES}, span_count, error_count, "
        f"{_USAGE}, list_sort(tags) AS tags, input_preview, output_preview "
        f"FROM traces WHERE {_PROJECT}"
    ),
    "spans": (
        f"SELECT trace_id, span_id, parent_span_id, session_id, user_id, name, span_type, "
        f"{_TIMES}, status, status_message, model, provider, {_USAGE}, tags, service_name "
        f"FROM spans WHERE {_PROJECT}"
    ),
    "scores": (
        "SELECT score_id, name, value, label, source, author, session_id, trace_id, span_id, "
        "comment, make_timestamp(created_ns // 1000) AS created_time "
        f"FROM scores WHERE {_PROJECT}"
    ),
}


def run(connection: Connection, project_id: str, query: ConsoleQuery) -> ConsoleResult:
    rewritten = rewrite(query.text, "duckdb", query.max_rows)
    sql = rewritten.sql
    for placeholder, view in rewritten.views.items():
        sql = sql.replace(placeholder, f"({VIEWS[view]})")
    connection.cursor()  # the file opened again first, after a fatal error
    cursor = connection.db.cursor()
    timer = threading.Timer(query.timeout_s, cursor.interrupt)
    try:
        cursor.execute(f"USE {CATALOG}")
        timer.start()
        # (a query of no view binds nothing: DuckDB refuses a parameter left unused)
        params = {"lamina_project": project_id} if rewritten.views else None
        table = cursor.sql(sql, params=params).to_arrow_table()
    except duckdb.InterruptException:
        raise BadRequest(
            f"The query ran longer than {query.timeout_s:g} s and was stopped. Narrow it "
            "(a time range, fewer joins) or aggregate more."
        ) from None
    except duckdb.OutOfMemoryException as exc:
        raise BadRequest(
            f"The query needed more memory than the store has ({first_line(exc)}). Narrow it "
            "or aggregate more."
        ) from None
    except duckdb.Error as exc:
        connection.refused(exc)  # a database DuckDB stopped using: 503
        raise BadRequest(
            f"The query failed: {_cleaned(first_line(exc), rewritten.views)}"
        ) from None
    finally:
        timer.cancel()
        with contextlib.suppress(duckdb.Error):
            cursor.close()
    return read_result(table, query.max_rows)


def _cleaned(message: str, views: dict[str, str]) -> str:
    for placeholder, view in views.items():
        message = message.replace(placeholder, view)
    return message
