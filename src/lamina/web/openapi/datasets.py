"""The OpenAPI paths and schemas of datasets and their items (see lamina.web.datasets)."""

from __future__ import annotations

from typing import Any

from lamina.evaluation.datasets import MAX_DESCRIPTION_CHARS, NAME
from lamina.web.openapi.parts import (
    INT_OR_NULL,
    INTEGER,
    NOT_BLANK,
    TEXT,
    TEXT_OR_NULL,
    TIME,
    a_list,
    a_page,
    an_object,
    errors,
    json_body,
    json_content,
    operation,
    paging,
    query,
    ref,
)

_NAME = {"type": "string", "pattern": f"^{NAME.pattern}$"}
_ANY: dict[str, Any] = {"description": "Any JSON value."}
_ID = {"type": "string", "minLength": 1, "maxLength": 1000, "pattern": NOT_BLANK}


def schemas() -> dict[str, Any]:
    dataset = {
        "name": TEXT,
        "description": TEXT_OR_NULL,
        "item_count": INTEGER,
        "created_at": TIME,
    }
    source = {"session_id": TEXT_OR_NULL, "trace_id": TEXT_OR_NULL, "turn": INT_OR_NULL}
    item = {
        "item_id": TEXT,
        "input": _ANY,
        "expected_output": {**_ANY, "nullable": True},
        "metadata": {"type": "object", "nullable": True},
        "source": {
            **an_object({**source, "url": TEXT_OR_NULL}),
            "nullable": True,
            "description": "Where the item was made from, and the link to its page.",
        },
        "created_at": TIME,
        "updated_at": TIME,
    }
    return {
        "Dataset": an_object(dataset),
        "DatasetGiven": an_object({"dataset": ref("Dataset")}),
        "DatasetList": a_list("Dataset"),
        "DatasetDeleted": an_object({"deleted": ref("Dataset")}),
        "DatasetItem": an_object(item),
        "DatasetItemGiven": an_object({"item": ref("DatasetItem")}),
        "DatasetItemPage": a_page("DatasetItem"),
        "DatasetItemDeleted": an_object({"deleted": ref("DatasetItem")}),
        "DatasetItemsAdded": an_object(
            {"added": INTEGER, "item_ids": {"type": "array", "items": TEXT}}
        ),
    }


def paths(project: dict[str, Any]) -> dict[str, Any]:
    name = {
        "name": "name",
        "in": "path",
        "required": True,
        "description": "The dataset's name.",
        "schema": _NAME,
    }
    item_id = {
        "name": "item_id",
        "in": "path",
        "required": True,
        "description": "The item's id.",
        "schema": TEXT,
    }
    given = {
        "input": _ANY,
        "expected_output": _ANY,
        "metadata": {"type": "object", "nullable": True},
        "item_id": _NAME,
    }
    plain = {
        "type": "object",
        "required": ["input"],
        "additionalProperties": False,
        "properties": given,
    }
    from_trace = {
        "type": "object",
        "required": ["from_trace"],
        "additionalProperties": False,
        "properties": {"from_trace": _ID, "metadata": given["metadata"], "item_id": _NAME},
    }
    from_session = {
        "type": "object",
        "required": ["from_session"],
        "additionalProperties": False,
        "properties": {
            "from_session": _ID,
            "up_to_turn": {"type": "integer", "minimum": 1, "description": "Counted from 1."},
            "metadata": given["metadata"],
            "item_id": _NAME,
        },
    }
    many = an_object({"items": {"type": "array", "items": plain, "maxItems": 100}})
    add_body = {
        "required": True,
        "content": {
            "application/json": {"schema": {"oneOf": [plain, from_trace, from_session, many]}},
            # described as application/jsonl (application/x-ndjson is taken too): the
            # import's span lines are x-ndjson, and a media type has one description
            "application/jsonl": {
                "schema": {"type": "string", "description": "One item given whole a line."}
            },
        },
    }
    create = {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {
            "name": _NAME,
            "description": {"type": "string", "nullable": True, "maxLength": MAX_DESCRIPTION_CHARS},
        },
    }
    edits: dict[str, Any] = {k: v for k, v in given.items() if k != "item_id"}
    edits["input"] = {"description": "Any JSON value but null.", "nullable": False}
    edit = {"type": "object", "additionalProperties": False, "properties": edits}
    items_page = {
        "summary": "A page of the dataset's items (oldest first), or with format=jsonl or "
        "parquet all of them as a file.",
        "operationId": "listDatasetItems",
        "parameters": [
            name,
            project,
            *paging(),
            query(
                "format",
                "json (a page, the default), jsonl (every item, a line each) or parquet "
                "(every item, a row each; values as JSON text).",
                {"type": "string", "enum": ["json", "jsonl", "parquet"]},
            ),
        ],
        "responses": {
            "200": {
                "description": "A page of items, or every item as JSONL or Parquet.",
                "content": {
                    **json_content(ref("DatasetItemPage"), "")["content"],
                    "application/x-ndjson": {"schema": TEXT},
                    "application/vnd.apache.parquet": {
                        "schema": {"type": "string", "format": "binary"}
                    },
                },
            },
            **errors(400, 401, 404),
        },
    }
    return {
        "/api/v1/datasets": {
            "get": operation(
                "The project's datasets, by name.",
                "listDatasets",
                (200, "DatasetList", "The datasets."),
                (401, 404),
                [project],
            ),
            "post": _also(
                operation(
                    "Make a dataset, or change the description of the one of that name.",
                    "createDataset",
                    (201, "DatasetGiven", "The dataset made."),
                    (400, 401, 404, 413),
                    [project],
                    json_body(create),
                ),
                "200",
                json_content(ref("DatasetGiven"), "The dataset of that name, changed."),
            ),
        },
        "/api/v1/datasets/{name}": {
            "get": operation(
                "One dataset.",
                "getDataset",
                (200, "DatasetGiven", "The dataset."),
                (400, 401, 404),
                [name, project],
            ),
            "delete": operation(
                "Delete a dataset and its items.",
                "deleteDataset",
                (200, "DatasetDeleted", "The dataset deleted."),
                (400, 401, 404),
                [name, project],
            ),
        },
        "/api/v1/datasets/{name}/items": {
            "get": items_page,
            "post": _also(
                operation(
                    "Add items: one given whole or made from a trace or a session (up to a "
                    "turn), or many (a list, or JSONL): the import.",
                    "addDatasetItems",
                    (201, "DatasetItemGiven", ""),
                    (400, 401, 404, 413),
                    [name, project],
                    add_body,
                ),
                "201",
                json_content(
                    {"oneOf": [ref("DatasetItemGiven"), ref("DatasetItemsAdded")]},
                    "The item added (one), or how many were and their ids (many).",
                ),
            ),
        },
        "/api/v1/datasets/{name}/items/{item_id}": {
            "patch": operation(
                "Edit an item: the fields given of input, expected_output and metadata.",
                "editDatasetItem",
                (200, "DatasetItemGiven", "The item as edited."),
                (400, 401, 404),
                [name, item_id, project],
                json_body(edit),
            ),
            "delete": operation(
                "Delete an item.",
                "deleteDatasetItem",
                (200, "DatasetItemDeleted", "The item deleted."),
                (400, 401, 404),
                [name, item_id, project],
            ),
        },
    }


def _also(made: dict[str, Any], status: str, answer: dict[str, Any]) -> dict[str, Any]:
    """The operation with ``answer`` as its response of ``status``."""
    made["responses"] = {**made["responses"], status: answer}
    return made
