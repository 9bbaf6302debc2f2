"""The OpenAPI paths of a project's routes: sessions, traces, export and import."""

from __future__ import annotations

from typing import Any

from lamina.exchange import export
from lamina.query.params import MAX_DURATION_MS, MAX_METADATA, TRACE_STATUSES
from lamina.store.queries import EXPERIMENTS_SHOWN, SESSION_SORTS, TRACE_SORTS
from lamina.store.rows import LARGE_FIELDS
from lamina.web.openapi.parts import TEXT, TIME, errors, operation, paging, path, query

# Every project route takes it; a project API key's own project wins over it.
PROJECT = query(
    "project",
    "With the admin token or a signed-in browser: the project, by name or id (default: "
    "the one called default). A project API key always means its own project.",
)


def _common(parameters: list[dict[str, Any]], sorts: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        PROJECT,
        query("sort", "What to sort by.", {"type": "string", "enum": list(sorts)}),
        query("order", "desc (default) or asc.", {"type": "string", "enum": ["desc", "asc"]}),
        *parameters,
        query("since", "Only items active at or after this ISO-8601 time.", TIME),
        query("until", "Only items active before this ISO-8601 time.", TIME),
        *paging(),
    ]


def _metadata(description: str) -> dict[str, Any]:
    return {
        "name": "metadata",
        "in": "query",
        "required": False,
        "description": description,
        "schema": {
            "type": "array",
            "maxItems": MAX_METADATA,
            "items": {"type": "string", "pattern": "^[^=]+=.*$", "maxLength": 1000},
        },
        "style": "form",
        "explode": True,
    }


def _range(name: str, description: str, most: float) -> dict[str, Any]:
    return query(name, description, {"type": "number", "minimum": 0, "maximum": most})


def _experiments() -> dict[str, Any]:
    return query(
        "experiments",
        "The sessions of the project's experiment runs (experiment-<id>) and their traces: "
        "exclude (the lists' default; the metrics' is include), include, or only them.",
        {"type": "string", "enum": list(EXPERIMENTS_SHOWN)},
    )


def _sessions() -> list[dict[str, Any]]:
    return _common(
        [
            query("user_id", "Only sessions in which this user has a trace."),
            query("session_id_prefix", "Only sessions whose id starts with this (exact case)."),
            query(
                "q",
                "Only sessions whose id, or one of whose user ids, starts with this text, or "
                "with a span whose input or output contains it (case-insensitive).",
            ),
            query(
                "min_traces",
                "Only sessions with at least this many traces.",
                {"type": "integer", "minimum": 0, "maximum": 2**62},
            ),
            _range("min_cost", "Only sessions that cost at least this (USD).", 1e15),
            _range("max_cost", "Only sessions that cost at most this (USD).", 1e15),
            _range("min_duration_ms", "Only sessions lasting at least this.", MAX_DURATION_MS),
            _range("max_duration_ms", "Only sessions lasting at most this.", MAX_DURATION_MS),
            query(
                "has_errors",
                "true: only sessions with a failed trace; false: only those without.",
                {"type": "boolean"},
            ),
            query("tag", "Only sessions with a trace carrying this tag."),
            _metadata(
                "key=value; repeat for several. Only sessions with a trace that has every "
                "pair (and the tag, if given)."
            ),
            query(
                "starred",
                "true: only those the signed-in user starred (a browser's request; an API "
                "key has no stars: none).",
                {"type": "boolean"},
            ),
            _experiments(),
        ],
        SESSION_SORTS,
    )


def _traces() -> list[dict[str, Any]]:
    return _common(
        [
            query("session_id", "Exact session id."),
            query("user_id", "Exact user id."),
            query("name", "Exact root span name."),
            query("status", "ok or error.", {"type": "string", "enum": list(TRACE_STATUSES)}),
            query("tag", "Traces carrying this tag."),
            _metadata("key=value; repeat for several (all must match)."),
            query("q", "Traces with a span whose input or output contains this text."),
            query(
                "starred",
                "true: only those the signed-in user starred (a browser's request; an API "
                "key has no stars: none).",
                {"type": "boolean"},
            ),
            _experiments(),
        ],
        TRACE_SORTS,
    )


def _export() -> dict[str, Any]:
    return {
        "summary": "The project's (or one session's) data as a download.",
        "operationId": "export",
        "parameters": [
            PROJECT,
            query("session_id", "Only this session."),
            query(
                "format",
                "jsonl (one file, the default) or parquet (a zip of sessions.parquet, "
                "traces.parquet and spans.parquet).",
                {"type": "string", "enum": list(export.FORMATS)},
            ),
        ],
        "responses": {
            "200": {
                "description": f"Lamina export format {export.FORMAT_VERSION}.",
                "content": {
                    "application/x-ndjson": {"schema": TEXT},
                    "application/zip": {"schema": {"type": "string", "format": "binary"}},
                },
            },
            **errors(400, 401, 404),
        },
    }


def _import() -> dict[str, Any]:
    return operation(
        "Store the span lines of an export in the project, as OTLP spans are stored.",
        "importSpans",
        (200, "Imported", "The spans stored (once committed), and how many traces they are in."),
        (400, 401, 403, 404, 413, 429, 503),
        parameters=[PROJECT],
        body={
            "required": True,
            "content": {
                "application/x-ndjson": {
                    "schema": {
                        "type": "string",
                        "description": "Lines of a JSONL export: the span lines are stored, "
                        "then its scores, comments, datasets and experiments; the header, "
                        "session, trace and trailer lines are passed over.",
                    }
                }
            },
        },
    )


def paths() -> dict[str, Any]:
    session_id = path("session_id", "The session id your application set.")
    trace_id = path("trace_id", "32 hex digits.")
    field = {
        "name": "field",
        "in": "path",
        "required": True,
        "description": "Which value.",
        "schema": {"type": "string", "enum": list(LARGE_FIELDS)},
    }
    return {
        "/api/v1/sessions": {
            "get": operation(
                "Sessions, newest first.",
                "listSessions",
                (200, "SessionPage", "A page of sessions."),
                (400, 401, 404),
                _sessions(),
            )
        },
        "/api/v1/sessions/{session_id}": {
            "get": operation(
                "One session and all its traces.",
                "getSession",
                (200, "SessionDetail", "The session."),
                (401, 404),
                [session_id, PROJECT],
            ),
            "delete": operation(
                "Delete a session: all its traces and their spans.",
                "deleteSession",
                (200, "Deleted", "What was deleted."),
                (401, 403, 404),
                [session_id, PROJECT],
            ),
        },
        "/api/v1/traces": {
            "get": operation(
                "Traces, newest first.",
                "listTraces",
                (200, "TracePage", "A page of traces."),
                (400, 401, 404),
                _traces(),
            )
        },
        "/api/v1/traces/{trace_id}": {
            "get": operation(
                "One trace and all its spans.",
                "getTrace",
                (200, "TraceDetail", "The trace."),
                (401, 404),
                [trace_id, PROJECT],
            ),
            "delete": operation(
                "Delete a trace and its spans.",
                "deleteTrace",
                (200, "Deleted", "What was deleted."),
                (401, 403, 404),
                [trace_id, PROJECT],
            ),
        },
        "/api/v1/traces/{trace_id}/spans/{span_id}/{field}": {
            "get": operation(
                "One whole value of a span, which the trace may show cut short.",
                "getSpanValue",
                (200, "SpanValue", "The whole value."),
                (401, 404),
                [trace_id, path("span_id", "16 hex digits."), field, PROJECT],
            )
        },
        "/api/v1/export": {"get": _export()},
        "/api/v1/import": {"post": _import()},
    }
