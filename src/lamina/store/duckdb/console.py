"""The SQL console on the DuckDB store (see lamina.store.console and its guard).

Each view is a subquery of one project's rows, the project a bound parameter
(``$lamina_project``). The query runs on a cursor of its own, so a watch can
``interrupt()`` it at its limits without touching any other statement; reads never
lock what the store's writer writes (DuckDB's MVCC). The database runs with
``enable_external_access`` off (lamina.store.duckdb.connection), so even a query the
guard let through could read no file or URL.

Memory: DuckDB's limit is the database's (``--store-memory-mb``), shared with ingest,
and none of its settings bounds one query (``operator_memory_limit`` did not lower a
hash aggregate's peak, and a ``list()`` over a cross join took the whole store's memory:
the next statement of any cursor, a write too, then failed to allocate 4 KB). So the
watch also reads what query work holds (``duckdb_memory()``'s tags for hash tables,
sorts, windows, results and aggregate states; the store's own data, its indexes and its
uncommitted writes have other tags) every WATCH_S, and stops the query once that grew
by more than its limit since it began: ``--sql-memory-mb``, at most half the store's
memory, so ingest keeps the other half. Work of other reads running meanwhile counts
too (a list page's is a few MB).
"""

from __future__ import annotations

import contextlib
import threading
import time

import duckdb

from lamina.errors import BadRequest
from lamina.store.console import ConsoleQuery, ConsoleResult, read_result
from lamina.store.console_guard import rewrite
from lamina.store.duckdb.connection import CATALOG, Connection, first_line, one

WATCH_S = 0.01  # how often a query's time and memory are looked at
# What query work holds: hash tables, sorts, windows, materialised results, and
# aggregate states and strings (ALLOCATOR: a list() or string_agg's, a result's text).
_QUERY_MEMORY = """
SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory()
WHERE tag IN ('HASH_TABLE', 'ORDER_BY', 'WINDOW', 'COLUMN_DATA', 'ALLOCATOR')
"""

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
    memory_mb = memory_limit_mb(connection, query)
    watch = _Watch(connection.db, cursor, query.timeout_s, memory_mb)
    try:
        cursor.execute(f"USE {CATALOG}")
        watch.start()
        # (a query of no view binds nothing: DuckDB refuses a parameter left unused)
        params = {"lamina_project": project_id} if rewritten.views else None
        table = cursor.sql(sql, params=params).to_arrow_table()
    except (duckdb.InterruptException, duckdb.OutOfMemoryException) as exc:
        watch.stop()
        if watch.over_memory:
            raise _over_memory(memory_mb) from None
        if isinstance(exc, duckdb.OutOfMemoryException):
            raise BadRequest(
                f"The query needed more memory than the store has ({first_line(exc)}). "
                "Narrow it or aggregate more."
            ) from None
        raise BadRequest(
            f"The query ran longer than {query.timeout_s:g} s and was stopped. Narrow it "
            "(a time range, fewer joins) or aggregate more."
        ) from None
    except duckdb.Error as exc:
        connection.refused(exc)  # a database DuckDB stopped using: 503
        raise BadRequest(
            f"The query failed: {_cleaned(first_line(exc), rewritten.views)}"
        ) from None
    finally:
        watch.stop()
        with contextlib.suppress(duckdb.Error):
            cursor.close()
    if watch.over_memory:  # stopped as it ended: its answer is not kept either
        raise _over_memory(memory_mb)
    return read_result(table, query.max_rows)


def memory_limit_mb(connection: Connection, query: ConsoleQuery) -> int:
    """A query's memory: its own limit, at most half the store's (ingest's is the rest)."""
    return min(query.memory_mb, connection.memory_mb // 2)


def _over_memory(memory_mb: int) -> BadRequest:
    return BadRequest(
        f"The query needed more than {memory_mb} MB of memory and was stopped (the SQL "
        "console's limit for one query). Narrow it (a time range, fewer joins) or "
        "aggregate more."
    )


class _Watch:
    """Stops a query (``interrupt()`` on its cursor) once it ran ``timeout_s``, or once
    the memory query work holds grew by more than ``memory_mb`` since it began (read on
    a cursor of the watch's own every WATCH_S; a read that fails for lack of memory
    counts as over)."""

    def __init__(
        self,
        db: duckdb.DuckDBPyConnection,
        cursor: duckdb.DuckDBPyConnection,
        timeout_s: float,
        memory_mb: int,
    ) -> None:
        self._cursor = cursor
        self._own = db.cursor()
        self._timeout_s = timeout_s
        self._limit = memory_mb * 2**20
        self._baseline = 0
        self._deadline = 0.0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sql-watch", daemon=True)
        self.over_memory = False

    def start(self) -> None:
        self._baseline = self._held()
        self._deadline = time.monotonic() + self._timeout_s
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()
        with contextlib.suppress(duckdb.Error):
            self._own.close()

    def _held(self) -> int:
        (held,) = one(self._own.execute(_QUERY_MEMORY))
        return int(held)

    def _run(self) -> None:
        while not self._stopped.wait(WATCH_S):
            if time.monotonic() >= self._deadline:
                break
            try:
                over = self._held() - self._baseline > self._limit
            except duckdb.OutOfMemoryException:
                over = True
            except duckdb.Error:
                return  # the database stopped: the query finds out itself
            if over:
                self.over_memory = True
                break
        if not self._stopped.is_set():
            self._cursor.interrupt()


def _cleaned(message: str, views: dict[str, str]) -> str:
    for placeholder, view in views.items():
        message = message.replace(placeholder, view)
    return message
