"""The OpenAPI paths and schemas of a project's end users (see lamina.web.users)."""

from __future__ import annotations

from typing import Any

from lamina.query.users import MAX_OFFSET
from lamina.store.users import USER_SORTS
from lamina.web.openapi.parts import (
    INT_OR_NULL,
    INTEGER,
    NOT_BLANK,
    NUMBER_OR_NULL,
    TEXT,
    TIME,
    a_page,
    an_object,
    limit,
    operation,
    path,
    query,
)
from lamina.web.openapi.scores import SCORE_SUMMARY

# A column, or score: and a name (the server strips it: some character it keeps).
_SORT = f"^({'|'.join(USER_SORTS)}|score:[\\s\\S]*{NOT_BLANK}[\\s\\S]*)$"


def schemas() -> dict[str, Any]:
    user = {
        "user_id": TEXT,
        "sessions": INTEGER,
        "traces": INTEGER,
        "input_tokens": INT_OR_NULL,
        "output_tokens": INT_OR_NULL,
        "total_tokens": INT_OR_NULL,
        "cost": NUMBER_OR_NULL,
        "errors": INTEGER,
        "first_seen": TIME,
        "last_seen": TIME,
        "score_summary": SCORE_SUMMARY,
    }
    return {"EndUser": an_object(user), "EndUserPage": a_page("EndUser", total=INTEGER)}


def paths(project: dict[str, Any]) -> dict[str, Any]:
    offset = {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0}
    return {
        "/api/v1/users": {
            "get": operation(
                "The user ids the project's sessions carry, with their sessions' totals.",
                "listUsers",
                (200, "EndUserPage", "A page of users, with how many there are."),
                (400, 401, 404),
                [
                    project,
                    query(
                        "sort",
                        "The column to sort by, or score:NAME (the average of a score; "
                        "users without it last).",
                        {"type": "string", "maxLength": 1000, "pattern": _SORT},
                    ),
                    query(
                        "order",
                        "asc or desc (default).",
                        {"type": "string", "enum": ["asc", "desc"]},
                    ),
                    query("q", "Only the user ids that contain this text (any case)."),
                    limit(),
                    query("cursor", "The previous page's next_cursor (not with offset)."),
                    query("offset", "Users to skip (not with cursor).", offset),
                ],
            )
        },
        "/api/v1/users/{user_id}": {
            "get": operation(
                "One user of the project, with their sessions' totals.",
                "getUser",
                (200, "EndUser", "The user."),
                (401, 404),
                [project, path("user_id", "The user id, as spans carry it (user.id).")],
            )
        },
    }
