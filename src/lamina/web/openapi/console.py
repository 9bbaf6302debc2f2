"""The OpenAPI path and schemas of the SQL console (see lamina.web.console and
docs/api.md's SQL console)."""

from __future__ import annotations

from typing import Any

from lamina.query.console import MAX_QUERY_CHARS
from lamina.query.saved_queries import MAX_NAME
from lamina.store.console import TYPES, VIEWS
from lamina.web.openapi.parts import (
    INTEGER,
    NUMBER,
    TEXT,
    TEXT_OR_NULL,
    TIME,
    a_list,
    an_object,
    json_body,
    operation,
    ref,
)

_VIEWS = ", ".join(VIEWS)


def paths(project: dict[str, Any]) -> dict[str, Any]:
    body = an_object(
        {
            "query": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_QUERY_CHARS,
                "description": f"One SELECT over the views {_VIEWS}, in the store's dialect "
                "(DuckDB or ClickHouse).",
            }
        }
    )
    saving = {
        **body,
        "required": ["query"],
        "properties": {
            **body["properties"],
            "pinned": {
                "type": "boolean",
                "description": "Draw its result on the Dashboard (default false).",
            },
        },
    }
    name = {
        "name": "name",
        "in": "path",
        "required": True,
        "description": "The saved query's name.",
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_NAME},
    }
    return {
        "/api/v1/sql/queries": {
            "get": operation(
                "The project's saved SQL queries, by name.",
                "listSavedQueries",
                (200, "SavedQueryList", "Every saved query."),
                (401, 404),
                [project],
            )
        },
        "/api/v1/sql/queries/{name}": {
            "put": operation(
                "Save a query under this name (replacing the query of that name).",
                "saveQuery",
                (200, "SavedQuery", "The saved query."),
                (400, 401, 403, 404, 413),
                [name, project],
                json_body(saving),
            ),
            "delete": operation(
                "Delete the saved query of this name.",
                "deleteSavedQuery",
                (200, "SavedQueryDeleted", "The query deleted."),
                (401, 403, 404),
                [name, project],
            ),
        },
        "/api/v1/sql": {
            "post": operation(
                f"Run one read-only SQL query over the project's views ({_VIEWS}).",
                "runSql",
                (200, "SqlResult", "The result's columns and rows."),
                (400, 401, 404, 413, 429),
                [project],
                json_body(body),
            )
        },
    }


def schemas() -> dict[str, Any]:
    column = an_object({"name": TEXT, "type": {"type": "string", "enum": list(TYPES)}})
    return {
        "SavedQuery": an_object(
            {
                "name": TEXT,
                "query": TEXT,
                "author": TEXT_OR_NULL,
                "saved_at": TIME,
                "pinned": {"type": "boolean"},
            }
        ),
        "SavedQueryList": a_list("SavedQuery"),
        "SavedQueryDeleted": an_object({"deleted": ref("SavedQuery")}),
        "SqlColumn": column,
        "SqlResult": an_object(
            {
                "columns": {"type": "array", "items": ref("SqlColumn")},
                "rows": {"type": "array", "items": {"type": "array", "items": {}}},
                "row_count": INTEGER,
                "truncated": {"type": "boolean"},
                "elapsed_ms": NUMBER,
            }
        ),
    }
