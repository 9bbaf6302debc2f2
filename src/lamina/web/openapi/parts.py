"""The pieces every part of the OpenAPI document is built from."""

from __future__ import annotations

from typing import Any

from lamina.store.queries import MAX_LIMIT

# A string with a character Python's str.strip() keeps, which is how the server tells
# blank text (a JSON Schema's \S is ECMAScript's, which counts \x1c-\x1f and \x85 as
# text: schema-valid ids of those alone were 400s, found by schemathesis).
NOT_BLANK = r"[^\s\x1c-\x1f\x85]"
TEXT = {"type": "string"}
TEXT_OR_NULL = {"type": "string", "nullable": True}
INTEGER = {"type": "integer"}
INT_OR_NULL = {"type": "integer", "nullable": True}
NUMBER = {"type": "number"}
NUMBER_OR_NULL = {"type": "number", "nullable": True}
TIME = {"type": "string", "format": "date-time"}
TEXTS = {"type": "array", "items": TEXT}

_ERRORS = {
    400: "A parameter or a body this server cannot use.",
    401: "No API key or admin token, or an unknown or revoked one.",
    403: (
        "A route that needs the admin token, called with a project API key (or by a "
        "browser whose user is not an administrator); a signed-in browser's change "
        "without its CSRF token."
    ),
    404: "No such item in this project (also when it is another project's).",
    409: "An item with this name already exists.",
    413: "A body larger than the route accepts.",
    429: "The server is busy: retry after the Retry-After header's seconds.",
    501: "Not available on this server yet (an LLM judge's dry run, before the judge lands).",
    503: "The server cannot store now: retry after the Retry-After header's seconds.",
}


def query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string", "maxLength": 1000},
    }


def limit() -> dict[str, Any]:
    """A list's ``limit`` query parameter: how many items a page."""
    schema = {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50}
    return query("limit", "Items per page.", schema)


def paging() -> list[dict[str, Any]]:
    """A paged list's query parameters: how many items a page, and the page's cursor."""
    return [limit(), query("cursor", "The previous page's next_cursor.")]


def path(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": TEXT,
    }


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def errors(*statuses: int) -> dict[str, Any]:
    return {str(status): json_content(ref("Error"), _ERRORS[status]) for status in statuses}


def an_object(properties: dict[str, Any], extra: bool = False) -> dict[str, Any]:
    return {
        "type": "object",
        "required": list(properties),
        "properties": properties,
        "additionalProperties": extra,
    }


def a_list(item: str) -> dict[str, Any]:
    """An answer listing every ``item`` (a schema's name)."""
    return an_object({"items": {"type": "array", "items": ref(item)}})


def a_page(item: str, **more: Any) -> dict[str, Any]:
    """An answer holding a page of ``item`` and the cursor of the next (null at the end)."""
    return an_object(
        {"items": {"type": "array", "items": ref(item)}, "next_cursor": TEXT_OR_NULL, **more}
    )


def operation(
    summary: str,
    operation_id: str,
    answer: tuple[int, str, str],
    statuses: tuple[int, ...],
    parameters: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One operation: ``answer`` is its success (status, schema name, description)."""
    status, schema, description = answer
    out: dict[str, Any] = {"summary": summary, "operationId": operation_id}
    if parameters:
        out["parameters"] = parameters
    if body is not None:
        out["requestBody"] = body
    out["responses"] = {str(status): json_content(ref(schema), description), **errors(*statuses)}
    return out
