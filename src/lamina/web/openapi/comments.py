"""The OpenAPI paths and schemas of comments and stars (see lamina.web.comments)."""

from __future__ import annotations

from typing import Any

from lamina.query.comments import MAX_ID_CHARS
from lamina.store.comments import MAX_BODY_CHARS
from lamina.web.openapi.parts import (
    NOT_BLANK,
    TEXT,
    TEXT_OR_NULL,
    TIME,
    a_page,
    an_object,
    json_body,
    operation,
    paging,
    path,
    query,
    ref,
)

_ID = {"type": "string", "minLength": 1, "maxLength": MAX_ID_CHARS, "pattern": NOT_BLANK}


def schemas() -> dict[str, Any]:
    comment = {
        "comment_id": TEXT,
        "session_id": TEXT_OR_NULL,
        "trace_id": TEXT_OR_NULL,
        "span_id": TEXT_OR_NULL,
        "body": TEXT,
        "author": TEXT_OR_NULL,
        "created_at": TIME,
    }
    bookmark = {
        "session_id": TEXT_OR_NULL,
        "trace_id": TEXT_OR_NULL,
        "starred": {"type": "boolean"},
    }
    return {
        "Comment": an_object(comment),
        "CommentGiven": an_object({"comment": ref("Comment")}),
        "CommentPage": a_page("Comment"),
        "CommentDeleted": an_object({"deleted": ref("Comment")}),
        "Bookmark": an_object({"bookmark": an_object(bookmark)}),
    }


def paths(project: dict[str, Any]) -> dict[str, Any]:
    body = {"type": "string", "minLength": 1, "maxLength": MAX_BODY_CHARS, "pattern": NOT_BLANK}
    session = {**_ID, "description": "The session."}
    trace = {**_ID, "description": "The trace."}
    span = {**_ID, "description": "A span of the trace."}

    def one_of(*choices: dict[str, Any]) -> dict[str, Any]:
        """A body naming a session or a trace, not both."""
        return {
            "oneOf": [
                {
                    "type": "object",
                    "required": list(choice),
                    "additionalProperties": False,
                    "properties": choice,
                }
                for choice in choices
            ]
        }

    comment_body = one_of({"body": body, "session_id": session}, {"body": body, "trace_id": trace})
    comment_body["oneOf"][1]["properties"]["span_id"] = span
    star_body = one_of({"session_id": session}, {"trace_id": trace})
    star_note = (
        " Stars belong to a signed-in user of the pages: with an API key or the admin "
        "token this is a 403."
    )
    return {
        "/api/v1/comments": {
            "get": operation(
                "Comments, oldest first (a thread); a session's include those on its traces "
                "and spans.",
                "listComments",
                (200, "CommentPage", "A page of comments."),
                (400, 401, 404),
                [
                    project,
                    query("session_id", "The session's comments and its traces'."),
                    query("trace_id", "The trace's comments and its spans'."),
                    query("span_id", "Only those on this span (with trace_id)."),
                    *paging(),
                ],
            ),
            "post": operation(
                "Write a comment (plain text) on a session, a trace or a span of the project.",
                "addComment",
                (201, "CommentGiven", "The comment as stored."),
                (400, 401, 403, 404, 413),
                [project],
                json_body(comment_body),
            ),
        },
        "/api/v1/comments/{comment_id}": {
            "delete": operation(
                "Delete a comment: only its author may (the admin token, any).",
                "deleteComment",
                (200, "CommentDeleted", "The comment deleted."),
                (401, 403, 404),
                [path("comment_id", "The comment's id."), project],
            )
        },
        "/api/v1/bookmarks": {
            "put": operation(
                "Star a session or trace for the signed-in user." + star_note,
                "starItem",
                (200, "Bookmark", "Starred."),
                (400, 401, 403, 404),
                [project],
                json_body(star_body),
            ),
            "delete": operation(
                "Unstar a session or trace for the signed-in user." + star_note,
                "unstarItem",
                (200, "Bookmark", "Not starred."),
                (400, 401, 403, 404),
                [project],
                json_body(star_body),
            ),
        },
    }
