"""The OpenAPI paths and schemas of experiments (see lamina.web.experiments)."""

from __future__ import annotations

from typing import Any

from lamina.evaluation.datasets import NAME
from lamina.evaluation.experiments import MAX_BATCH, MAX_NAME_CHARS, MAX_RUNS, MAX_SCORES
from lamina.web.openapi.parts import (
    INTEGER,
    NOT_BLANK,
    NUMBER,
    NUMBER_OR_NULL,
    TEXT,
    TEXT_OR_NULL,
    TIME,
    a_list,
    an_object,
    json_body,
    json_content,
    operation,
    query,
    ref,
)

_NAME = {"type": "string", "pattern": f"^{NAME.pattern}$"}
_ANY: dict[str, Any] = {"description": "Any JSON value.", "nullable": True}
_TITLE = {"type": "string", "pattern": NOT_BLANK, "maxLength": MAX_NAME_CHARS, "nullable": True}
_SCORES = {
    "type": "object",
    "additionalProperties": NUMBER_OR_NULL,
    "description": "Each score's name and value (null: none).",
}


def schemas() -> dict[str, Any]:
    experiment = {
        "experiment_id": TEXT,
        "name": TEXT,
        "group": TEXT,
        "dataset": TEXT_OR_NULL,
        "item_count": INTEGER,
        "created_at": TIME,
        "session_id": TEXT,
        "url": TEXT,
    }
    item = {
        "index": INTEGER,
        "item_id": TEXT_OR_NULL,
        "input": _ANY,
        "expected_output": _ANY,
        "output": _ANY,
        "error": TEXT_OR_NULL,
        "trace_id": TEXT_OR_NULL,
        "trace_url": TEXT_OR_NULL,
        "duration_ms": NUMBER,
        "cost": NUMBER_OR_NULL,
        "scores": _SCORES,
    }
    averages = {"type": "object", "additionalProperties": NUMBER}
    pair = {
        "before": {**ref("ExperimentItem"), "nullable": True},
        "after": {**ref("ExperimentItem"), "nullable": True},
        "deltas": averages,
        "regressed": {"type": "boolean"},
    }
    whole = {
        **experiment,
        "averages": averages,
        "errors": INTEGER,
        "cost": NUMBER_OR_NULL,
        "items": {"type": "array", "items": ref("ExperimentItem")},
    }
    comparison = an_object(
        {"compared_to": TEXT, "items": {"type": "array", "items": an_object(pair)}}
    )
    return {
        "Experiment": an_object({**experiment, "averages": averages}),
        "ExperimentList": a_list("Experiment"),
        "ExperimentMade": an_object({"experiment": an_object(experiment)}),
        "ExperimentItem": an_object(item),
        "ExperimentRun": {
            **an_object({"experiment": an_object(whole), "comparison": comparison}),
            "required": ["experiment"],
        },
        "ExperimentItemsAdded": an_object({"added": INTEGER}),
        "ExperimentDeleted": an_object(
            {"deleted": an_object(experiment), "traces": INTEGER, "spans": INTEGER}
        ),
    }


def paths(project: dict[str, Any]) -> dict[str, Any]:
    experiment_id = {
        "name": "experiment_id",
        "in": "path",
        "required": True,
        "description": "The experiment's id.",
        "schema": _NAME,
    }
    create = {
        "type": "object",
        "required": ["experiment_id"],
        "additionalProperties": False,
        "properties": {
            "experiment_id": _NAME,
            "name": _TITLE,
            "group": _TITLE,
            "dataset": {**_NAME, "nullable": True},
        },
    }
    given = {
        "type": "object",
        "required": ["index"],
        "additionalProperties": False,
        "properties": {
            "index": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
            "item_id": {**_NAME, "nullable": True},
            "input": _ANY,
            "expected_output": _ANY,
            "output": _ANY,
            "error": TEXT_OR_NULL,
            "trace_id": {"type": "string", "pattern": "^[0-9a-fA-F]{32}$", "nullable": True},
            "duration_ms": {"type": "number", "minimum": 0},
            "scores": {**_SCORES, "maxProperties": MAX_SCORES, "nullable": True},
        },
    }
    items = an_object({"items": {"type": "array", "items": given, "maxItems": MAX_BATCH}})
    items["required"] = ["items"]
    return {
        "/api/v1/experiments": {
            "get": operation(
                "The project's experiments (of one group), newest first, with their score "
                "averages.",
                "listExperiments",
                (200, "ExperimentList", "The experiments."),
                (400, 401, 404),
                [
                    project,
                    query("group", "Only the runs of this group.", TEXT),
                    query(
                        "limit",
                        f"At most this many (1 to {MAX_RUNS}, the default).",
                        {"type": "integer", "minimum": 1, "maximum": MAX_RUNS},
                    ),
                ],
            ),
            "post": _also(
                operation(
                    "Make an experiment (a run), or answer the one of that id.",
                    "createExperiment",
                    (201, "ExperimentMade", "The experiment made."),
                    (400, 401, 404, 413),
                    [project],
                    json_body(create),
                ),
                "200",
                json_content(ref("ExperimentMade"), "The experiment of that id."),
            ),
        },
        "/api/v1/experiments/{experiment_id}": {
            "get": operation(
                "One experiment: its items (input, expected output, output or error, "
                "scores, trace, duration, cost) and averages; with compare, beside it "
                "another run's items matched to its own, those that got worse first.",
                "getExperiment",
                (200, "ExperimentRun", "The experiment."),
                (400, 401, 404),
                [
                    experiment_id,
                    project,
                    query("compare", "The id of the run to compare it to.", _NAME),
                ],
            ),
            "delete": operation(
                "Delete a run, its items and its session (the executor calls' traces, "
                "with their scores).",
                "deleteExperiment",
                (200, "ExperimentDeleted", "The run deleted, and how many traces and spans."),
                (400, 401, 404),
                [experiment_id, project],
            ),
        },
        "/api/v1/experiments/{experiment_id}/items": {
            "post": operation(
                "Add a run's items (each replacing the one of its index), and give their "
                "scores to their traces (source experiment).",
                "addExperimentItems",
                (201, "ExperimentItemsAdded", "How many items were added."),
                (400, 401, 404, 413),
                [experiment_id, project],
                json_body(items),
            ),
        },
    }


def _also(made: dict[str, Any], status: str, answer: dict[str, Any]) -> dict[str, Any]:
    made["responses"] = {status: answer, **made["responses"]}
    return made
