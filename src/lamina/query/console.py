"""The SQL console's request and answer (``POST /api/v1/sql`` and the SQL page call
these): the query taken from its body with the server's limits, run by the store
(which checks and rewrites it first, lamina.store.console_guard), and its result
written as JSON values: times as ISO 8601 in UTC (``2026-01-01T00:00:00Z``), dates as
``YYYY-MM-DD``, decimals as numbers, lists and maps as JSON.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from lamina.errors import BadRequest, Overloaded
from lamina.settings import Settings
from lamina.store.base import Row, Store
from lamina.store.console import ConsoleQuery

MAX_QUERY_CHARS = 100_000
# Console queries one server process runs at once: more would share the store's memory
# (and, on chDB, its one engine) with ingest for no gain.
AT_ONCE = 2
_running = threading.BoundedSemaphore(AT_ONCE)


def parse(text: Any, settings: Settings) -> ConsoleQuery:
    if not isinstance(text, str) or not text.strip():
        raise BadRequest(
            'The body must give "query": one SELECT over sessions, traces, spans, scores.'
        )
    if len(text) > MAX_QUERY_CHARS:
        raise BadRequest(f"A query may be at most {MAX_QUERY_CHARS:,} characters long.")
    return ConsoleQuery(
        text, settings.sql_max_rows, float(settings.sql_timeout_seconds), settings.sql_memory_mb
    )


def run(store: Store, project_id: str, query: ConsoleQuery) -> Row:
    """The query's answer as the JSON API gives it."""
    if not _running.acquire(blocking=False):
        raise Overloaded(
            f"{AT_ONCE} SQL queries are running on this server already; try again in a moment.",
            retry_after=1,
        )
    try:
        started = time.perf_counter()
        result = store.run_sql(project_id, query)
        elapsed_ms = (time.perf_counter() - started) * 1000
    finally:
        _running.release()
    return {
        "columns": [{"name": c.name, "type": c.type} for c in result.columns],
        "rows": [[value_json(v) for v in row] for row in result.rows],
        "row_count": len(result.rows),
        "truncated": result.truncated,
        "elapsed_ms": round(elapsed_ms, 1),
    }


def value_json(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, list | tuple):
        return [value_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): value_json(v) for k, v in value.items()}
    return value
