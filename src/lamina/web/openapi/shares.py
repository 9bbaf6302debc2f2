"""The OpenAPI paths and schemas of share links: make one for a session or a trace,
list a project's live ones, revoke one (see lamina.web.shares)."""

from __future__ import annotations

from typing import Any

from lamina.query.shares import DEFAULT_DAYS, MAX_DAYS
from lamina.web.openapi.parts import (
    TEXT,
    TEXT_OR_NULL,
    TIME,
    a_list,
    an_object,
    json_body,
    operation,
    path,
    ref,
)

_GIVEN = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "expires_in_days": {
            "type": "integer",
            "nullable": True,
            "minimum": 1,
            "maximum": MAX_DAYS,
            "default": DEFAULT_DAYS,
            "description": "How long the link works.",
        },
        "redact_attributes": {
            "type": "boolean",
            "default": False,
            "description": "Leave spans' attributes, resources and metadata off the page.",
        },
    },
}


def schemas() -> dict[str, Any]:
    share = {
        "id": TEXT,
        "object": {"type": "string", "enum": ["session", "trace"]},
        "object_id": TEXT,
        "redact_attributes": {"type": "boolean"},
        "author": TEXT_OR_NULL,
        "created_at": TIME,
        "expires_at": TIME,
    }
    made = {"url": TEXT, "token": TEXT, "expires_at": TIME, "share": ref("Share")}
    return {
        "Share": an_object(share),
        "ShareMade": an_object(made),
        "Shares": a_list("Share"),
        "ShareRevoked": an_object({"deleted": ref("Share")}),
    }


def _make(what: str, operation_id: str, parameter: dict[str, Any], project: dict[str, Any]) -> Any:
    return {
        "post": operation(
            f"A link that opens this {what} read-only, without signing in, until it expires "
            "or is revoked. The token is in this answer only.",
            operation_id,
            (201, "ShareMade", "The link, its token and when it expires."),
            (400, 401, 403, 404, 413),
            [parameter, project],
            json_body(_GIVEN),
        )
    }


def paths(project: dict[str, Any]) -> dict[str, Any]:
    return {
        "/api/v1/sessions/{session_id}/share": _make(
            "session", "shareSession", path("session_id", "The session's id."), project
        ),
        "/api/v1/traces/{trace_id}/share": _make(
            "trace", "shareTrace", path("trace_id", "The trace's id."), project
        ),
        "/api/v1/shares": {
            "get": operation(
                "The project's share links that have not expired, newest first (never their "
                "tokens).",
                "listShares",
                (200, "Shares", "Every live share link."),
                (401, 404),
                [project],
            )
        },
        "/api/v1/shares/{key}": {
            "delete": operation(
                "Revoke a share link, named by its token or its id: it opens nothing from now on.",
                "revokeShare",
                (200, "ShareRevoked", "The share revoked."),
                (401, 403, 404),
                [path("key", "The link's token, or the share's id (shr_...)."), project],
            )
        },
    }
