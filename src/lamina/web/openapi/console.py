"""The OpenAPI path and schemas of the SQL console (see lamina.web.console and
docs/api.md's SQL console)."""

from __future__ import annotations

from typing import Any

from lamina.query.console import MAX_QUERY_CHARS
from lamina.store.console import TYPES, VIEWS
from lamina.web.openapi.parts import INTEGER, NUMBER, TEXT, an_object, json_body, operation, ref

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
    return {
        "/api/v1/sql": {
            "post": operation(
                f"Run one read-only SQL query over the project's views ({_VIEWS}).",
                "runSql",
                (200, "SqlResult", "The result's columns and rows."),
                (400, 401, 404, 413, 429),
                [project],
                json_body(body),
            )
        }
    }


def schemas() -> dict[str, Any]:
    column = an_object({"name": TEXT, "type": {"type": "string", "enum": list(TYPES)}})
    return {
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
