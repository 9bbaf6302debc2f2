"""The SQL console on the ClickHouse store (see lamina.store.console and its guard).

Each view is a subquery of one project's rows, the project a bound parameter
(``{project:String}``): traces aggregated from their delta rows and sessions ``FINAL``,
as the lists read them. The engine limits every query itself: ``readonly = 1`` (no
table function that reads a file or URL, no setting changed, nothing written),
``max_execution_time`` and ``max_memory_usage``; ``join_use_nulls = 1`` so an outer
join means what it means on DuckDB. On ClickHouse over HTTP the query runs
beside ingest; on chDB (one engine in this process) statements take turns, so the time
limit is also the longest an ingest write can wait for a console query.
"""

from __future__ import annotations

from lamina.errors import BadRequest, StoreUnavailable
from lamina.store.clickhouse import sql as reads_sql
from lamina.store.clickhouse.client import ClientError
from lamina.store.clickhouse.connection import Connection
from lamina.store.console import ConsoleQuery, ConsoleResult, read_result
from lamina.store.console_guard import rewrite

_PROJECT = "project_id = {project:String}"
_TIMES = (
    "fromUnixTimestamp64Micro(intDiv(start_ns, 1000), 'UTC') AS start_time, "
    "fromUnixTimestamp64Micro(intDiv(end_ns, 1000), 'UTC') AS end_time, "
    "(end_ns - start_ns) / 1e6 AS duration_ms"
)
_USAGE = "input_tokens, output_tokens, cost"
VIEWS = {
    "sessions": (
        "SELECT session_id, if(empty(user_ids), NULL, user_ids[1]) AS user_id, user_ids, "
        f"{_TIMES}, trace_count, span_count, {_USAGE}, error_count, first_input, last_output "
        f"FROM sessions FINAL WHERE {_PROJECT} AND trace_count > 0"
    ),
    "traces": (
        f"SELECT trace_id, session_id, user_id, name, {_TIMES}, span_count, error_count, "
        f"{_USAGE}, tags, input_preview, output_preview FROM ({reads_sql.trace_aggregate()})"
    ),
    "spans": (
        "SELECT trace_id, span_id, parent_span_id, session_id, user_id, toString(name) AS name, "
        f"toString(span_type) AS span_type, {_TIMES}, toString(status) AS status, "
        "status_message, toNullable(toString(model)) AS model, "
        f"toNullable(toString(provider)) AS provider, {_USAGE}, "
        "arrayMap(t -> toString(t), tags) AS tags, "
        "toNullable(toString(service_name)) AS service_name "
        f"FROM spans WHERE {_PROJECT}"
    ),
    "scores": (
        "SELECT score_id, toString(name) AS name, value, label, toString(source) AS source, "
        "author, session_id, trace_id, span_id, comment, "
        "fromUnixTimestamp64Micro(intDiv(created_ns, 1000), 'UTC') AS created_time "
        f"FROM scores FINAL WHERE {_PROJECT}"
    ),
}
_TIMEOUT = "TIMEOUT_EXCEEDED"
_MEMORY = "MEMORY_LIMIT_EXCEEDED"


def run(db: Connection, project_id: str, query: ConsoleQuery) -> ConsoleResult:
    rewritten = rewrite(query.text, "clickhouse", query.max_rows)
    sql = rewritten.sql
    for placeholder, view in rewritten.views.items():
        sql = sql.replace(placeholder, f"({VIEWS[view]})")
    limits = (
        f" SETTINGS readonly = 1, max_execution_time = {query.timeout_s:g}, "
        f"timeout_overflow_mode = 'throw', max_memory_usage = {query.memory_mb * 2**20}, "
        # an outer join's missing side is NULL, as in SQL and on DuckDB (not 0 or '')
        "join_use_nulls = 1"
    )
    try:
        table = db.client.query(sql + limits, {"project": project_id})
    except ClientError as exc:
        message = str(exc)
        for placeholder, view in rewritten.views.items():
            message = message.replace(placeholder, view)
        if _TIMEOUT in message:
            raise BadRequest(
                f"The query ran longer than {query.timeout_s:g} s and was stopped. Narrow it "
                "(a time range, fewer joins) or aggregate more."
            ) from None
        if _MEMORY in message:
            raise BadRequest(
                f"The query needed more than {query.memory_mb} MB of memory and was stopped. "
                "Narrow it or aggregate more."
            ) from None
        if "DB::Exception" in message:
            raise BadRequest(f"The query failed: {_short(message)}") from None
        raise StoreUnavailable(
            f"The ClickHouse store did not answer ({message}). Check that ClickHouse is up."
        ) from None
    return read_result(table, query.max_rows)


def _short(message: str) -> str:
    """ClickHouse's words without its code and stack ("Code: 47. DB::Exception: ...")."""
    text = message.split("DB::Exception:", 1)[-1].strip()
    text = text.split(" In scope ", 1)[0]  # the query itself, views and all
    return text.split(". (", 1)[0] + "." if ". (" in text else text
