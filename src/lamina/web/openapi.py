"""The OpenAPI 3.0 description of the JSON API, served at ``GET /api/v1/openapi.json``.

Written by hand beside docs/api.md, from the same lists the query layer checks
parameters against (sorts, statuses, limits), so the two cannot disagree on those.
A test runs schemathesis against a live server with this document.
"""

from __future__ import annotations

from typing import Any

from lamina.exchange import export
from lamina.query.params import (
    MAX_DURATION_MS,
    MAX_LIMIT,
    MAX_METADATA,
    SESSION_SORTS,
    TRACE_SORTS,
    TRACE_STATUSES,
)
from lamina.store.rows import LARGE_FIELDS, TRACE_VALUE_CHARS

_TEXT = {"type": "string"}
_TEXT_OR_NULL = {"type": "string", "nullable": True}
_INT_OR_NULL = {"type": "integer", "nullable": True}
_NUMBER = {"type": "number"}
_NUMBER_OR_NULL = {"type": "number", "nullable": True}
_TIME = {"type": "string", "format": "date-time"}
_TEXTS = {"type": "array", "items": _TEXT}


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string", "maxLength": 1000},
    }


def _path(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": _TEXT,
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    text = {
        400: "A parameter this server cannot use.",
        401: "No API key, or an unknown or revoked one.",
        403: "A signed-in browser's change without its CSRF token.",
        404: "No such session or trace in this project (also when it is another project's).",
    }
    return {str(status): _json(_ref("Error"), text[status]) for status in statuses}


def _object(properties: dict[str, Any], extra: bool = False) -> dict[str, Any]:
    return {
        "type": "object",
        "required": list(properties),
        "properties": properties,
        "additionalProperties": extra,
    }


def _common(parameters: list[dict[str, Any]], sorts: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        _query("sort", "What to sort by.", {"type": "string", "enum": list(sorts)}),
        _query("order", "desc (default) or asc.", {"type": "string", "enum": ["desc", "asc"]}),
        *parameters,
        _query("since", "Only items active at or after this ISO-8601 time.", _TIME),
        _query("until", "Only items active before this ISO-8601 time.", _TIME),
        _query(
            "limit",
            "Items per page.",
            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50},
        ),
        _query("cursor", "The previous page's next_cursor."),
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
    return _query(name, description, {"type": "number", "minimum": 0, "maximum": most})


def _schemas() -> dict[str, Any]:
    times = {"start_time": _TIME, "end_time": _TIME, "duration_ms": _NUMBER}
    usage = {
        "input_tokens": _INT_OR_NULL,
        "output_tokens": _INT_OR_NULL,
        "total_tokens": _INT_OR_NULL,
        "cost": _NUMBER_OR_NULL,
    }
    session = {
        "session_id": _TEXT,
        "trace_count": {"type": "integer"},
        "span_count": {"type": "integer"},
        **times,
        "active_duration_ms": _NUMBER,
        **usage,
        "user_ids": _TEXTS,
        "error_count": {"type": "integer"},
        "first_input": _TEXT_OR_NULL,
        "last_output": _TEXT_OR_NULL,
    }
    trace = {
        "trace_id": _TEXT,
        "session_id": _TEXT_OR_NULL,
        "user_id": _TEXT_OR_NULL,
        "name": _TEXT,
        **times,
        "status": {"type": "string", "enum": ["ok", "error"]},
        "span_count": {"type": "integer"},
        **usage,
        "tags": _TEXTS,
        "metadata": {"type": "object"},
        "input_preview": _TEXT_OR_NULL,
        "output_preview": _TEXT_OR_NULL,
    }
    span = {
        "span_id": _TEXT,
        "parent_span_id": _TEXT_OR_NULL,
        "name": _TEXT,
        "span_type": _TEXT,
        **times,
        "status": {"type": "string", "enum": ["ok", "error", "unset"]},
        "status_message": _TEXT,
        "input": _TEXT_OR_NULL,
        "output": _TEXT_OR_NULL,
        "attributes": {"type": "object"},
        "events": {"type": "array", "items": {"type": "object"}},
        "model": _TEXT_OR_NULL,
        "provider": _TEXT_OR_NULL,
        "input_tokens": _INT_OR_NULL,
        "output_tokens": _INT_OR_NULL,
        "cost": _NUMBER_OR_NULL,
        "session_id": _TEXT_OR_NULL,
        "user_id": _TEXT_OR_NULL,
        "tags": _TEXTS,
        "metadata": {"type": "object"},
        "resource": {"type": "object"},
        "service_name": _TEXT_OR_NULL,
    }

    def page(item: str, **more: Any) -> dict[str, Any]:
        return _object(
            {"items": {"type": "array", "items": _ref(item)}, "next_cursor": _TEXT_OR_NULL, **more}
        )

    return {
        "Error": _object(
            {"error": _object({"code": _TEXT, "message": _TEXT})},
        ),
        "Session": _object(session),
        "Trace": _object(trace),
        "Span": _span_schema(span),
        "SpanValue": _object(
            {
                "trace_id": _TEXT,
                "span_id": _TEXT,
                "field": {"type": "string", "enum": list(LARGE_FIELDS)},
                "value": {"description": "Text for input and output, JSON for the others."},
            }
        ),
        "SessionDetail": _object({**session, "traces": {"type": "array", "items": _ref("Trace")}}),
        "TraceDetail": _object({**trace, "spans": {"type": "array", "items": _ref("Span")}}),
        "SessionPage": page("Session", total=_INT_OR_NULL, total_exact={"type": "boolean"}),
        "TracePage": page("Trace"),
        "Deleted": _object(
            {"deleted": _object({"traces": {"type": "integer"}, "spans": {"type": "integer"}})}
        ),
    }


def _span_schema(span: dict[str, Any]) -> dict[str, Any]:
    schema = _object(span)
    schema["properties"]["truncated"] = {  # only on a span with a value cut short
        "type": "object",
        "description": (
            f"The span's values longer than {TRACE_VALUE_CHARS:,} characters, cut short in "
            "this answer (a JSON value cut short is shown empty), each with its full length "
            "in characters. GET /api/v1/traces/{trace_id}/spans/{span_id}/{field} answers "
            "one whole."
        ),
        "additionalProperties": {"type": "integer"},
    }
    return schema


def document() -> dict[str, Any]:
    session_id = _path("session_id", "The session id your application set.")
    trace_id = _path("trace_id", "32 hex digits.")
    sessions = _common(
        [
            _query("user_id", "Only sessions in which this user has a trace."),
            _query("session_id_prefix", "Only sessions whose id starts with this (exact case)."),
            _query(
                "q",
                "Only sessions whose id, or one of whose user ids, starts with this text, or "
                "with a span whose input or output contains it (case-insensitive).",
            ),
            _query(
                "min_traces",
                "Only sessions with at least this many traces.",
                {"type": "integer", "minimum": 0, "maximum": 2**62},
            ),
            _range("min_cost", "Only sessions that cost at least this (USD).", 1e15),
            _range("max_cost", "Only sessions that cost at most this (USD).", 1e15),
            _range("min_duration_ms", "Only sessions lasting at least this.", MAX_DURATION_MS),
            _range("max_duration_ms", "Only sessions lasting at most this.", MAX_DURATION_MS),
            _query(
                "has_errors",
                "true: only sessions with a failed trace; false: only those without.",
                {"type": "boolean"},
            ),
            _query("tag", "Only sessions with a trace carrying this tag."),
            _metadata(
                "key=value; repeat for several. Only sessions with a trace that has every "
                "pair (and the tag, if given)."
            ),
        ],
        SESSION_SORTS,
    )
    traces = _common(
        [
            _query("session_id", "Exact session id."),
            _query("user_id", "Exact user id."),
            _query("name", "Exact root span name."),
            _query("status", "ok or error.", {"type": "string", "enum": list(TRACE_STATUSES)}),
            _query("tag", "Traces carrying this tag."),
            _metadata("key=value; repeat for several (all must match)."),
            _query("q", "Traces with a span whose input or output contains this text."),
        ],
        TRACE_SORTS,
    )
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Lamina JSON API",
            "version": "1",
            "description": "Sessions and traces of the project your API key belongs to. "
            "See docs/api.md.",
        },
        "servers": [{"url": "/"}],
        "security": [{"apiKey": []}],
        "paths": {
            "/api/v1/sessions": {
                "get": {
                    "summary": "Sessions, newest first.",
                    "operationId": "listSessions",
                    "parameters": sessions,
                    "responses": {
                        "200": _json(_ref("SessionPage"), "A page of sessions."),
                        **_errors(400, 401),
                    },
                }
            },
            "/api/v1/sessions/{session_id}": {
                "get": {
                    "summary": "One session and all its traces.",
                    "operationId": "getSession",
                    "parameters": [session_id],
                    "responses": {
                        "200": _json(_ref("SessionDetail"), "The session."),
                        **_errors(401, 404),
                    },
                },
                "delete": {
                    "summary": "Delete a session: all its traces and their spans.",
                    "operationId": "deleteSession",
                    "parameters": [session_id],
                    "responses": {
                        "200": _json(_ref("Deleted"), "What was deleted."),
                        **_errors(401, 403, 404),
                    },
                },
            },
            "/api/v1/traces": {
                "get": {
                    "summary": "Traces, newest first.",
                    "operationId": "listTraces",
                    "parameters": traces,
                    "responses": {
                        "200": _json(_ref("TracePage"), "A page of traces."),
                        **_errors(400, 401),
                    },
                }
            },
            "/api/v1/traces/{trace_id}": {
                "get": {
                    "summary": "One trace and all its spans.",
                    "operationId": "getTrace",
                    "parameters": [trace_id],
                    "responses": {
                        "200": _json(_ref("TraceDetail"), "The trace."),
                        **_errors(401, 404),
                    },
                },
                "delete": {
                    "summary": "Delete a trace and its spans.",
                    "operationId": "deleteTrace",
                    "parameters": [trace_id],
                    "responses": {
                        "200": _json(_ref("Deleted"), "What was deleted."),
                        **_errors(401, 403, 404),
                    },
                },
            },
            "/api/v1/traces/{trace_id}/spans/{span_id}/{field}": {
                "get": {
                    "summary": "One whole value of a span, which the trace may show cut short.",
                    "operationId": "getSpanValue",
                    "parameters": [
                        trace_id,
                        _path("span_id", "16 hex digits."),
                        {
                            "name": "field",
                            "in": "path",
                            "required": True,
                            "description": "Which value.",
                            "schema": {"type": "string", "enum": list(LARGE_FIELDS)},
                        },
                    ],
                    "responses": {
                        "200": _json(_ref("SpanValue"), "The whole value."),
                        **_errors(401, 404),
                    },
                }
            },
            "/api/v1/export": {
                "get": {
                    "summary": "The project's (or one session's) data as a download.",
                    "operationId": "export",
                    "parameters": [
                        _query("session_id", "Only this session."),
                        _query(
                            "format",
                            "jsonl (one file, the default) or parquet (a zip of "
                            "sessions.parquet, traces.parquet and spans.parquet).",
                            {"type": "string", "enum": list(export.FORMATS)},
                        ),
                    ],
                    "responses": {
                        "200": {
                            "description": f"Lamina export format {export.FORMAT_VERSION}.",
                            "content": {
                                "application/x-ndjson": {"schema": _TEXT},
                                "application/zip": {
                                    "schema": {"type": "string", "format": "binary"}
                                },
                            },
                        },
                        **_errors(400, 401, 404),
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A project API key (lmn_...).",
                }
            },
            "schemas": _schemas(),
        },
    }
