"""The OpenAPI paths and schemas of Laminar's own API (lamina.web.laminar, #24; see
docs/compatibility.md "Moving from Laminar"): Laminar's paths and field names. The
routes of features Lamina does not have (browser sessions, rollouts, renaming a
dataset) answer a 501 and are not described; nor is the results link, a page.
"""

from __future__ import annotations

from typing import Any

from lamina.evaluation import experiments
from lamina.evaluation.datasets import NAME as DATASET_NAME
from lamina.query import scores as judged
from lamina.query.console import MAX_QUERY_CHARS
from lamina.store.labels import MAX_KEYS, MAX_TAGS
from lamina.web.laminar.datasets import MAX_PULL
from lamina.web.openapi.parts import (
    INTEGER,
    NOT_BLANK,
    TEXT,
    TIME,
    an_object,
    json_body,
    json_content,
    operation,
    query,
    ref,
)

UUID = {"type": "string", "format": "uuid"}
_NAME = {
    "type": "string",
    "nullable": True,
    "minLength": 1,
    "maxLength": experiments.MAX_NAME_CHARS,
    "pattern": NOT_BLANK,
}
_DATASET_NAME = {"type": "string", "pattern": f"^{DATASET_NAME.pattern}$"}
_ANY: dict[str, Any] = {"nullable": True, "description": "Any JSON value."}
_OBJECT_OR_NULL = {"type": "object", "nullable": True}


def _open(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A body of Laminar's: fields it may add later are let through."""
    return {
        "type": "object",
        "required": list(required),
        "properties": properties,
        "additionalProperties": True,
    }


def _eval_id() -> dict[str, Any]:
    return {
        "name": "eval_id",
        "in": "path",
        "required": True,
        "description": "The evaluation's id (a UUID): the experiment's.",
        "schema": UUID,
    }


def _dataset_params() -> list[dict[str, Any]]:
    return [
        query("name", "The dataset's name (or give datasetId)."),
        query("datasetId", "The dataset's Laminar id (or give name).", UUID),
    ]


def paths() -> dict[str, Any]:
    point = _open(
        {
            "id": UUID,
            "index": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
            "data": _ANY,
            "target": _ANY,
            "executorOutput": _ANY,
            "scores": {"type": "object", "nullable": True, "maxProperties": experiments.MAX_SCORES},
            "traceId": {**UUID, "nullable": True},
            "executorSpanId": {**UUID, "nullable": True},
            "metadata": _ANY,
            "datasetLink": _open({"datasetId": UUID, "datapointId": UUID, "createdAt": TEXT}),
        },
        ("index",),
    )
    datapoint = _open({"data": {"description": "Any JSON value but null."}, "target": _ANY})
    tag = {
        "type": "string",
        "minLength": 1,
        "maxLength": judged.MAX_NAME,
        "pattern": NOT_BLANK,
    }
    return {
        "/v1/evals": {
            "post": operation(
                "Laminar's evaluate(): make an experiment (its group groupName).",
                "laminarCreateEvaluation",
                (200, "LaminarEvaluation", "The experiment, in Laminar's fields."),
                (400, 401, 413),
                body=json_body(
                    _open({"name": _NAME, "groupName": _NAME, "metadata": _OBJECT_OR_NULL})
                ),
            )
        },
        "/v1/evals/{eval_id}": {
            "post": operation(
                "Laminar's update_evaluation: the experiment (a new name is a 501).",
                "laminarUpdateEvaluation",
                (200, "LaminarEvaluation", "The experiment, in Laminar's fields."),
                (400, 401, 404, 413),
                [_eval_id()],
                json_body(_open({"name": _NAME, "metadata": _OBJECT_OR_NULL})),
            )
        },
        "/v1/evals/{eval_id}/datapoints": {
            "post": operation(
                "Laminar's save_datapoints: put the experiment's items (each replacing the "
                "item of its index) and give their scores to their traces.",
                "laminarSaveDatapoints",
                (200, "LaminarSaved", "How many datapoints were saved."),
                (400, 401, 404, 413),
                [_eval_id()],
                json_body(
                    _open(
                        {
                            "points": {
                                "type": "array",
                                "maxItems": experiments.MAX_BATCH,
                                "items": point,
                            },
                            "groupName": {"type": "string", "nullable": True},
                        },
                        ("points",),
                    )
                ),
            )
        },
        "/v1/evals/{eval_id}/datapoints/{datapoint_id}": {
            "post": operation(
                "Laminar's update_datapoint: give the item the SDK saved with this id its "
                "executor output and scores (replacing its own; given to its trace too) "
                "and, when given, another trace.",
                "laminarUpdateDatapoint",
                (200, "LaminarUpdated", "The datapoint's id and its item's index."),
                (400, 401, 404, 413),
                [
                    _eval_id(),
                    {
                        "name": "datapoint_id",
                        "in": "path",
                        "required": True,
                        "description": "The id the SDK gave the datapoint when saving it.",
                        "schema": UUID,
                    },
                ],
                json_body(
                    _open(
                        {
                            "executorOutput": _ANY,
                            "scores": point["properties"]["scores"],
                            "traceId": {**UUID, "nullable": True},
                        }
                    )
                ),
            )
        },
        "/v1/datasets": {
            "get": operation(
                "Laminar's list_datasets and get_dataset_by_name: the project's datasets.",
                "laminarListDatasets",
                (200, "LaminarDatasetList", "Every dataset (or the one named)."),
                (400, 401),
                [query("name", "Only the dataset of this name.")],
            ),
            "post": _made_too(
                operation(
                    "Laminar's datasets.create (TypeScript): make an empty dataset (201), "
                    "or answer the project's dataset of that name (200).",
                    "laminarCreateDataset",
                    (200, "LaminarDataset", "The project had it."),
                    (400, 401, 413),
                    body=json_body(_open({"name": _DATASET_NAME}, ("name",))),
                ),
                "LaminarDataset",
                "The dataset was made.",
            ),
        },
        "/v1/datasets/{dataset_id}": {
            "get": operation(
                "Laminar's datasets.getById (TypeScript): the dataset of this Laminar id.",
                "laminarGetDataset",
                (200, "LaminarDataset", "The dataset."),
                (400, 401, 404),
                [_dataset_id()],
            ),
            "delete": operation(
                "Laminar's datasets.delete (TypeScript): delete the dataset and its items.",
                "laminarDeleteDataset",
                (200, "LaminarDataset", "Deleted: the dataset as it was."),
                (400, 401, 404),
                [_dataset_id()],
            ),
        },
        "/v1/datasets/datapoints": {
            "post": _also_made(
                operation(
                    "Laminar's datasets.push: add items to the dataset named (or by datasetId); "
                    "with createDataset, make it first (a 201).",
                    "laminarPushDatapoints",
                    (200, "LaminarPushed", "The dataset's Laminar id (201 when it was made)."),
                    (400, 401, 404, 413),
                    body=json_body(
                        _open(
                            {
                                "name": {"type": "string", "nullable": True},
                                "datasetId": {**UUID, "nullable": True},
                                "createDataset": {"type": "boolean"},
                                "datapoints": {"type": "array", "items": datapoint},
                            },
                            ("datapoints",),
                        )
                    ),
                )
            ),
            "get": operation(
                "Laminar's datasets.pull and LaminarDataset: a window of the dataset's "
                "items, oldest first.",
                "laminarPullDatapoints",
                (200, "LaminarDatapoints", "The items and how many the dataset holds."),
                (400, 401, 404),
                [
                    *_dataset_params(),
                    query("offset", "Items skipped.", {"type": "integer", "minimum": 0}),
                    query(
                        "limit",
                        "Items answered.",
                        {"type": "integer", "minimum": 1, "maximum": MAX_PULL},
                    ),
                ],
            ),
        },
        "/v1/sql/query": {
            "post": operation(
                "Laminar's sql.query: one SELECT over spans and traces (Laminar's column "
                "names mapped), run by the SQL console.",
                "laminarSqlQuery",
                (200, "LaminarRows", "The rows, an object each."),
                (400, 401, 413, 429),
                body=json_body(
                    _open(
                        {
                            "query": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": MAX_QUERY_CHARS,
                            },
                            "parameters": {"type": "object", "nullable": True},
                        },
                        ("query",),
                    )
                ),
            )
        },
        "/v1/tag": {
            "post": operation(
                "Laminar's tags.tag: add tags to a stored trace.",
                "laminarTagTrace",
                (200, "LaminarDone", "Tagged."),
                (400, 401, 404, 413, 503),
                body=json_body(
                    _open(
                        {
                            "traceId": UUID,
                            "names": {
                                "type": "array",
                                "minItems": 1,
                                "maxItems": MAX_TAGS,
                                "items": tag,
                            },
                        },
                        ("traceId", "names"),
                    )
                ),
            )
        },
        "/v1/evaluators/score": {
            "post": operation(
                "Laminar's evaluators.score (the TypeScript SDK): a score on a stored "
                "trace, given by traceId, or by spanId (the span's trace; a span's id is "
                "its 16 hex digits after 16 zeros, as a UUID). metadata is not kept.",
                "laminarScoreTrace",
                (200, "LaminarScored", "Scored (source sdk)."),
                (400, 401, 404, 413, 503),
                body=json_body(
                    _open(
                        {
                            "name": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": judged.MAX_NAME,
                                "pattern": judged.NAME.pattern,
                            },
                            "score": {"type": "number"},
                            "source": {"type": "string", "nullable": True},
                            "metadata": _OBJECT_OR_NULL,
                            "traceId": UUID,
                            "spanId": UUID,
                        },
                        ("name", "score"),
                    )
                ),
            )
        },
        "/v1/traces/metadata": {
            "post": operation(
                "Laminar's traces.push_metadata: set metadata keys on a stored trace.",
                "laminarPushTraceMetadata",
                (200, "LaminarDone", "Set."),
                (400, 401, 404, 413, 503),
                body=json_body(
                    _open(
                        {
                            "traceId": UUID,
                            "metadata": {
                                "type": "object",
                                "minProperties": 1,
                                "maxProperties": MAX_KEYS,
                            },
                        },
                        ("traceId", "metadata"),
                    )
                ),
            )
        },
    }


def _made_too(answer: dict[str, Any], schema: str, description: str) -> dict[str, Any]:
    """An operation that may also answer 201, the same body."""
    answer["responses"] = {"201": json_content(ref(schema), description), **answer["responses"]}
    return answer


def _dataset_id() -> dict[str, Any]:
    return {
        "name": "dataset_id",
        "in": "path",
        "required": True,
        "description": "The dataset's Laminar id (a UUID, as GET /v1/datasets lists it).",
        "schema": UUID,
    }


def _also_made(push: dict[str, Any]) -> dict[str, Any]:
    """The push's answer when it made the dataset: 201, the same body."""
    made = json_content(ref("LaminarPushed"), "The dataset was made, then the items added.")
    push["responses"] = {"201": made, **push["responses"]}
    return push


def schemas() -> dict[str, Any]:
    dataset = an_object({"id": UUID, "name": TEXT, "createdAt": TIME})
    datapoint = an_object(
        {
            "id": UUID,
            "createdAt": TIME,
            "data": {"description": "The item's input."},
            "target": {"nullable": True, "description": "Its expected output."},
            "metadata": {"type": "object"},
        }
    )
    return {
        "LaminarEvaluation": an_object(
            {"id": UUID, "createdAt": TIME, "groupId": TEXT, "name": TEXT, "projectId": UUID}
        ),
        "LaminarSaved": an_object({"saved": INTEGER}),
        "LaminarUpdated": an_object({"id": UUID, "index": INTEGER}),
        "LaminarDataset": dataset,
        "LaminarDatasetList": {"type": "array", "items": dataset},
        "LaminarPushed": an_object({"datasetId": UUID}),
        "LaminarDatapoints": an_object(
            {"items": {"type": "array", "items": datapoint}, "totalCount": INTEGER}
        ),
        "LaminarRows": an_object({"data": {"type": "array", "items": {"type": "object"}}}),
        "LaminarDone": an_object({}),
        "LaminarScored": an_object({"score": ref("Score")}),
    }
