"""The OpenAPI document's schemas: the JSON the routes answer."""

from __future__ import annotations

from typing import Any

from lamina.store.queries import SESSION_STATUSES
from lamina.store.rows import LARGE_FIELDS, TRACE_VALUE_CHARS
from lamina.web.openapi.parts import (
    INT_OR_NULL,
    INTEGER,
    NUMBER,
    NUMBER_OR_NULL,
    TEXT,
    TEXT_OR_NULL,
    TEXTS,
    TIME,
    a_list,
    a_page,
    an_object,
    ref,
)
from lamina.web.openapi.scores import SCORE_SUMMARY


def schemas() -> dict[str, Any]:
    times = {"start_time": TIME, "end_time": TIME, "duration_ms": NUMBER}
    usage = {
        "input_tokens": INT_OR_NULL,
        "output_tokens": INT_OR_NULL,
        "total_tokens": INT_OR_NULL,
        "cost": NUMBER_OR_NULL,
    }
    session = {
        "session_id": TEXT,
        "trace_count": {"type": "integer"},
        "span_count": {"type": "integer"},
        **times,
        "active_duration_ms": NUMBER,
        **usage,
        "user_ids": TEXTS,
        "error_count": {"type": "integer"},
        "first_input": TEXT_OR_NULL,
        "last_output": TEXT_OR_NULL,
        "status": {"type": "string", "enum": list(SESSION_STATUSES)},
        "ended_at": {**TIME, "nullable": True},
        "score_summary": SCORE_SUMMARY,
    }
    trace = {
        "trace_id": TEXT,
        "session_id": TEXT_OR_NULL,
        "user_id": TEXT_OR_NULL,
        "name": TEXT,
        **times,
        "status": {"type": "string", "enum": ["ok", "error"]},
        "span_count": {"type": "integer"},
        **usage,
        "tags": TEXTS,
        "metadata": {"type": "object"},
        "input_preview": TEXT_OR_NULL,
        "output_preview": TEXT_OR_NULL,
        "score_summary": SCORE_SUMMARY,
    }
    span = {
        "span_id": TEXT,
        "parent_span_id": TEXT_OR_NULL,
        "name": TEXT,
        "span_type": TEXT,
        **times,
        "status": {"type": "string", "enum": ["ok", "error", "unset"]},
        "status_message": TEXT,
        "input": TEXT_OR_NULL,
        "output": TEXT_OR_NULL,
        "attributes": {"type": "object"},
        "events": {"type": "array", "items": {"type": "object"}},
        "model": TEXT_OR_NULL,
        "provider": TEXT_OR_NULL,
        "input_tokens": INT_OR_NULL,
        "output_tokens": INT_OR_NULL,
        "cost": NUMBER_OR_NULL,
        "session_id": TEXT_OR_NULL,
        "user_id": TEXT_OR_NULL,
        "tags": TEXTS,
        "metadata": {"type": "object"},
        "resource": {"type": "object"},
        "service_name": TEXT_OR_NULL,
    }

    deleted = an_object({"traces": INTEGER, "spans": INTEGER})
    scores = {"type": "array", "items": ref("Score"), "description": "Newest first."}

    return {
        "Error": an_object(
            {"error": an_object({"code": TEXT, "message": TEXT})},
        ),
        "Session": _starrable(an_object(session)),
        "Trace": _starrable(an_object(trace)),
        "Span": _span_schema(span),
        "SpanValue": an_object(
            {
                "trace_id": TEXT,
                "span_id": TEXT,
                "field": {"type": "string", "enum": list(LARGE_FIELDS)},
                "value": {"description": "Text for input and output, JSON for the others."},
            }
        ),
        "SessionDetail": an_object(
            {**session, "traces": {"type": "array", "items": ref("Trace")}, "scores": scores}
        ),
        "TraceDetail": an_object(
            {**trace, "spans": {"type": "array", "items": ref("Span")}, "scores": scores}
        ),
        "SessionPage": a_page("Session", total=INT_OR_NULL, total_exact={"type": "boolean"}),
        "TracePage": a_page("Trace"),
        "Deleted": an_object({"deleted": deleted}),
        "Imported": an_object(
            {
                "spans": INTEGER,
                "traces": INTEGER,
                "scores": INTEGER,
                "comments": INTEGER,
                "datasets": INTEGER,
                "dataset_items": INTEGER,
                "experiments": INTEGER,
                "experiment_items": INTEGER,
            }
        ),
        **_managed(deleted),
    }


def _starrable(schema: dict[str, Any]) -> dict[str, Any]:
    """A list's item: a signed-in user's list also says whether they starred it."""
    starred = {"type": "boolean", "description": "Starred by the signed-in user (browsers)."}
    return {**schema, "properties": {**schema["properties"], "starred": starred}}


def _span_schema(span: dict[str, Any]) -> dict[str, Any]:
    schema = an_object(span)
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


def _managed(deleted: dict[str, Any]) -> dict[str, Any]:
    """The managing routes' answers: projects, keys, users, writes set aside. Times
    there are integer nanoseconds since 1970 (``created_ns``)."""
    project = {
        "id": TEXT,
        "name": TEXT,
        "created_ns": INTEGER,
        "retention_days": INT_OR_NULL,
        "session_idle_minutes": INTEGER,
    }
    key = {
        "id": TEXT,
        "project_id": TEXT,
        "project": TEXT,
        "name": TEXT,
        "prefix": TEXT,
        "created_ns": INTEGER,
        "revoked_ns": INT_OR_NULL,
    }
    user = {"id": TEXT, "email": TEXT, "is_admin": {"type": "boolean"}, "created_ns": INTEGER}
    quarantined = {
        "id": TEXT,
        "spans": INTEGER,
        "bytes": INTEGER,
        "projects": TEXTS,
        "quarantined_ns": INTEGER,
        "reason": TEXT,
    }

    return {
        "Project": an_object(project),
        "ProjectDetail": an_object({**project, "span_count": INTEGER}),
        "ProjectRetention": an_object({**project, "deleted": deleted}),
        "ProjectChanged": {"oneOf": [ref("ProjectRetention"), ref("Project")]},
        "ProjectDeleted": an_object({"project": TEXT, "deleted": deleted}),
        "Projects": a_list("Project"),
        "Key": an_object(key),
        "NewKey": an_object({**key, "key": TEXT}),
        "Keys": a_list("Key"),
        "Account": an_object(user),
        "Accounts": a_list("Account"),
        "Quarantined": an_object(quarantined),
        "QuarantineList": a_list("Quarantined"),
    }
