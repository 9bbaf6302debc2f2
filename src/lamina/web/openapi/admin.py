"""The OpenAPI paths of the managing routes: projects, keys, users, writes set aside.
Each needs the admin token (or a signed-in administrator's browser)."""

from __future__ import annotations

from typing import Any

from lamina.operations import MAX_IDLE_MINUTES
from lamina.retention import MAX_DAYS
from lamina.web.openapi.parts import NOT_BLANK, TEXT, an_object, json_body, operation, path, query

_PROJECT = path("project", "The project's name or id.")
_KEY_ID = path("key_id", "The key's id (key_...), never the key itself.")
_ENTRY_ID = path("entry_id", "The set-aside write's id.")
_NAME = {"type": "string", "minLength": 1, "maxLength": 100, "pattern": NOT_BLANK}
_NO_BODY = {
    "required": False,
    "content": {"application/json": {"schema": an_object({})}},
}


def _optional(required: dict[str, Any], optional: dict[str, Any]) -> dict[str, Any]:
    schema = an_object({**required, **optional})
    schema["required"] = list(required)
    return schema


def paths() -> dict[str, Any]:
    return {
        "/api/v1/projects": {
            "get": operation(
                "Every project.",
                "listProjects",
                (200, "Projects", "The projects."),
                (401, 403),
            ),
            "post": operation(
                "Create a project.",
                "createProject",
                (201, "Project", "The new project."),
                (400, 401, 403, 409),
                body=json_body(an_object({"name": _NAME})),
            ),
        },
        "/api/v1/projects/{project}": {
            "get": operation(
                "One project, with how many spans it holds.",
                "getProject",
                (200, "ProjectDetail", "The project."),
                (401, 403, 404),
                [_PROJECT],
            ),
            "patch": operation(
                "Keep the project's traces this many days (0 or null: for ever); older "
                "ones are deleted at once, and from then on by the server. And/or end its "
                "sessions after this many minutes without a span.",
                "changeProject",
                (
                    200,
                    "ProjectChanged",
                    "The project, and with retention_days what was deleted now.",
                ),
                (400, 401, 403, 404),
                [_PROJECT],
                json_body(
                    {
                        "type": "object",
                        "minProperties": 1,
                        "additionalProperties": False,
                        "properties": {
                            "retention_days": {
                                "type": "integer",
                                "nullable": True,
                                "minimum": 0,
                                "maximum": MAX_DAYS,
                            },
                            "session_idle_minutes": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": MAX_IDLE_MINUTES,
                            },
                        },
                    }
                ),
            ),
            "delete": operation(
                "Delete the project with all its traces, sessions and API keys.",
                "deleteProject",
                (200, "ProjectDeleted", "What was deleted."),
                (401, 403, 404),
                [_PROJECT],
            ),
        },
        "/api/v1/keys": {
            "get": operation(
                "API keys (their ids and first characters, never the secret).",
                "listKeys",
                (200, "Keys", "The keys."),
                (401, 403, 404),
                [query("project", "Only this project's keys (its name or id).")],
            ),
            "post": operation(
                "Create an API key for a project; the answer is the only time it is shown.",
                "createKey",
                (201, "NewKey", "The key, with its secret."),
                (400, 401, 403, 404),
                body=json_body(_optional({"project": TEXT}, {"name": _NAME})),
            ),
        },
        "/api/v1/keys/{key_id}/revoke": {
            "post": operation(
                "Revoke a key: it stops working at once.",
                "revokeKey",
                (200, "Key", "The revoked key."),
                (400, 401, 403, 404),
                [_KEY_ID],
                _NO_BODY,
            )
        },
        "/api/v1/accounts": {
            "get": operation(
                "The accounts that can sign in (never their passwords).",
                "listAccounts",
                (200, "Accounts", "The accounts."),
                (401, 403),
            ),
            "post": operation(
                "Create an account that signs in with an email and a password.",
                "createAccount",
                (201, "Account", "The new account."),
                (400, 401, 403, 409),
                body=json_body(
                    _optional(
                        {
                            "email": {"type": "string", "pattern": "@"},
                            "password": {"type": "string", "minLength": 8},
                        },
                        {"is_admin": {"type": "boolean"}},
                    )
                ),
            ),
        },
        "/api/v1/quarantine": {
            "get": operation(
                "The writes the store set aside (see `lamina quarantine`).",
                "listQuarantined",
                (200, "QuarantineList", "The writes set aside."),
                (401, 403),
            )
        },
        "/api/v1/quarantine/{entry_id}/retry": {
            "post": operation(
                "Send a set-aside write to the store again.",
                "retryQuarantined",
                (200, "Quarantined", "The write, sent again."),
                (400, 401, 403, 404),
                [_ENTRY_ID],
                _NO_BODY,
            )
        },
        "/api/v1/quarantine/{entry_id}": {
            "delete": operation(
                "Delete a set-aside write and its spans.",
                "dropQuarantined",
                (200, "Quarantined", "The write deleted."),
                (401, 403, 404),
                [_ENTRY_ID],
            )
        },
    }
