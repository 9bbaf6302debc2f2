"""The SQL console's vocabulary: the four views a query may read, their columns (the
same names and meanings on every store), a query's limits and its result.

A console query is read-only SQL over one project's rows. It never reaches a store's
tables: :mod:`lamina.store.console_guard` parses it (in the store's dialect), refuses
anything but one ``SELECT`` over these views and allowed functions, and replaces each
view by a subquery of the project's rows; each store's ``console`` module holds the
views' SQL and runs the rewritten query under the limits of a :class:`ConsoleQuery`.
Results come back as Arrow tables on both stores and are read here into one
:class:`ConsoleResult`, so the JSON a client gets has one shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str  # one of TYPES
    about: str


# What a result column holds, whatever the engine called it.
TYPES = ("string", "integer", "number", "boolean", "timestamp", "date", "list", "other")

_TIMES = (
    Column("start_time", "timestamp", "when it started (UTC, microseconds)"),
    Column("end_time", "timestamp", "when its last span ended (UTC, microseconds)"),
    Column("duration_ms", "number", "end_time less start_time, in milliseconds"),
)
_USAGE = (
    Column("input_tokens", "integer", "input tokens (NULL when none was reported)"),
    Column("output_tokens", "integer", "output tokens (NULL when none was reported)"),
    Column("cost", "number", "cost in USD (NULL when no price was known)"),
)

VIEWS: dict[str, tuple[Column, ...]] = {
    "sessions": (
        Column("session_id", "string", "the session's id"),
        Column("user_id", "string", "its first user id, in sorted order (NULL: none)"),
        Column("user_ids", "list", "every user id its traces named, sorted"),
        *_TIMES,
        Column("trace_count", "integer", "its traces (turns)"),
        Column("span_count", "integer", "its spans"),
        *_USAGE,
        Column("error_count", "integer", "its spans with status error"),
        Column("first_input", "string", "the first trace's input, cut short"),
        Column("last_output", "string", "the last trace's output, cut short"),
    ),
    "traces": (
        Column("trace_id", "string", "the trace's id"),
        Column("session_id", "string", "its session (NULL: none)"),
        Column("user_id", "string", "its user (NULL: none)"),
        Column("name", "string", "its root span's name"),
        *_TIMES,
        Column("span_count", "integer", "its spans"),
        Column("error_count", "integer", "its spans with status error"),
        *_USAGE,
        Column("tags", "list", "its tags, sorted"),
        Column("input_preview", "string", "its input, cut short"),
        Column("output_preview", "string", "its output, cut short"),
    ),
    "spans": (
        Column("trace_id", "string", "its trace"),
        Column("span_id", "string", "the span's id"),
        Column("parent_span_id", "string", "its parent (NULL: a root span)"),
        Column("session_id", "string", "the session it named (NULL: none)"),
        Column("user_id", "string", "the user it named (NULL: none)"),
        Column("name", "string", "its name"),
        Column("span_type", "string", "DEFAULT, LLM, TOOL..."),
        Column("start_time", "timestamp", "when it started (UTC, microseconds)"),
        Column("end_time", "timestamp", "when it ended (UTC, microseconds)"),
        Column("duration_ms", "number", "end_time less start_time, in milliseconds"),
        Column("status", "string", "ok, error or unset"),
        Column("status_message", "string", "its status message ('' when none)"),
        Column("model", "string", "the model an LLM span called"),
        Column("provider", "string", "its provider"),
        *_USAGE,
        Column("tags", "list", "its tags"),
        Column("service_name", "string", "the service that sent it"),
    ),
    "scores": (
        Column("score_id", "string", "the score's id"),
        Column("name", "string", "its name (helpfulness, outcome...)"),
        Column("value", "number", "its value (NULL for a label alone)"),
        Column("label", "string", "its label (NULL for a number alone)"),
        Column("source", "string", "api, annotation, evaluator..."),
        Column("author", "string", "who gave it"),
        Column("session_id", "string", "the session it scores (NULL: a trace's or span's)"),
        Column("trace_id", "string", "the trace it scores"),
        Column("span_id", "string", "the span it scores"),
        Column("comment", "string", "its comment"),
        Column("created_time", "timestamp", "when it was given (UTC, microseconds)"),
    ),
}


def saved_queries_setting(project_id: str) -> str:
    """The store setting that holds a project's saved queries (lamina.query.saved_queries):
    deleting the project deletes it."""
    return f"sql_queries:{project_id}"


@dataclass(frozen=True, slots=True)
class ConsoleQuery:
    text: str
    max_rows: int  # rows answered; one more tells that there were more (truncated)
    timeout_s: float  # the query is stopped after this long
    memory_mb: int  # ClickHouse's max_memory_usage (DuckDB: the store's own limit)


@dataclass(frozen=True, slots=True)
class ConsoleResult:
    columns: list[Column]  # about is ""
    rows: list[list[Any]]  # values as Python reads them (datetime, date, Decimal, list...)
    truncated: bool  # there were more than max_rows rows


def column_type(kind: pa.DataType) -> str:
    """One of TYPES for an Arrow type (how both stores hand their results over)."""
    if pa.types.is_dictionary(kind):
        return column_type(kind.value_type)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "string"
    if pa.types.is_integer(kind):
        return "integer"
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "number"
    if pa.types.is_boolean(kind):
        return "boolean"
    if pa.types.is_timestamp(kind):
        return "timestamp"
    if pa.types.is_date(kind):
        return "date"
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return "list"
    return "other"


def read_result(table: pa.Table, max_rows: int) -> ConsoleResult:
    """The first ``max_rows`` rows of an engine's answer (asked for one more)."""
    columns = [Column(field.name, column_type(field.type), "") for field in table.schema]
    kept = table.slice(0, max_rows)
    values = [kept.column(i).to_pylist() for i in range(kept.num_columns)]
    rows = [list(row) for row in zip(*values, strict=True)] if values else []
    return ConsoleResult(columns, rows, table.num_rows > max_rows)
