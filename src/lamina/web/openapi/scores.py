"""The OpenAPI paths and schemas of scores: give, list and delete scores, a project's
score configs, and ending a session (see lamina.web.scores)."""

from __future__ import annotations

from typing import Any

from lamina.query.scores import CONFIG_FIELDS, MAX_BATCH, MAX_COMMENT, MAX_ID, MAX_NAME, NAME
from lamina.store.scores import OUTCOME, ScoreType
from lamina.web.openapi.parts import (
    NUMBER_OR_NULL,
    TEXT,
    TEXT_OR_NULL,
    TIME,
    a_list,
    a_page,
    an_object,
    json_body,
    operation,
    paging,
    path,
    query,
    ref,
)

_ID = {"type": "string", "minLength": 1, "maxLength": MAX_ID}
_NAME = {"type": "string", "minLength": 1, "maxLength": MAX_NAME, "pattern": NAME.pattern}
_OUTCOMES = [category.label for category in OUTCOME.categories]
_SUMMARY_ENTRY = an_object({"avg": NUMBER_OR_NULL, "count": {"type": "integer"}})
_SUMMARY_ENTRY["properties"]["labels"] = {"type": "array", "items": {"type": "string"}}
SCORE_SUMMARY = {
    "type": "object",
    "description": "Per score name: the average of its values (null when none has a "
    "value, as outcome's unknown), how many scores it has and, for a name given labels, "
    "the labels given (A to Z).",
    "additionalProperties": _SUMMARY_ENTRY,
}


def _given() -> dict[str, Any]:
    """A score as a client gives it."""
    schema: dict[str, Any] = {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {
            "score_id": {**_ID, "description": "Your id for it: sent again, no second score."},
            "name": _NAME,
            "value": {
                "description": "A number; true/false (or 1/0) for a boolean config.",
                "oneOf": [{"type": "number"}, {"type": "boolean"}, {"type": "string"}],
            },
            "label": {**TEXT, "description": "A categorical config's category."},
            "session_id": _ID,
            "trace_id": {"type": "string", "pattern": "^[0-9a-fA-F]{32}$"},
            "span_id": {"type": "string", "pattern": "^[0-9a-fA-F]{16}$"},
            "comment": {"type": "string", "maxLength": MAX_COMMENT},
            "source": {
                "type": "string",
                "description": "sdk, api (the default) or evaluator:<name>.",
            },
        },
    }
    return schema


def schemas() -> dict[str, Any]:
    score = {
        "score_id": TEXT,
        "name": TEXT,
        "value": NUMBER_OR_NULL,
        "label": TEXT_OR_NULL,
        "comment": TEXT_OR_NULL,
        "source": TEXT,
        "author": TEXT_OR_NULL,
        "session_id": TEXT_OR_NULL,
        "trace_id": TEXT_OR_NULL,
        "span_id": TEXT_OR_NULL,
        "created_at": TIME,
    }
    config = {
        "name": TEXT,
        "type": {"type": "string", "enum": [kind.value for kind in ScoreType]},
        "min": NUMBER_OR_NULL,
        "max": NUMBER_OR_NULL,
        "categories": {
            "type": "array",
            "items": an_object({"label": TEXT, "value": NUMBER_OR_NULL}),
        },
        "description": TEXT_OR_NULL,
        "built_in": {"type": "boolean"},
    }
    scores = {"type": "array", "items": ref("Score")}
    return {
        "Score": an_object(score),
        "ScoreGiven": an_object({"score": ref("Score")}),
        "ScoresGiven": an_object({"scores": scores}),
        "ScoreAnswer": {"oneOf": [ref("ScoreGiven"), ref("ScoresGiven")]},
        "ScorePage": a_page("Score"),
        "ScoreDeleted": an_object({"deleted": ref("Score")}),
        "ScoreConfig": an_object(config),
        "ScoreConfigs": a_list("ScoreConfig"),
        "ScoreConfigDeleted": an_object({"deleted": ref("ScoreConfig")}),
        "SessionEnded": an_object(
            {
                "session_id": TEXT,
                "ended_at": TIME,
                "outcome": {"nullable": True, "allOf": [ref("Score")]},
            }
        ),
    }


def paths(project: dict[str, Any]) -> dict[str, Any]:
    given = _given()
    batch = an_object(
        {"scores": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH, "items": given}}
    )
    number = {"type": "number", "nullable": True}
    category = an_object({"label": _NAME, "value": number})
    config_body: dict[str, Any] = {
        "type": "object",
        "required": ["name", "type"],
        "additionalProperties": False,
        "properties": {
            "name": _NAME,
            "type": {"type": "string", "enum": [kind.value for kind in ScoreType]},
            "min": number,
            "max": number,
            "categories": {"type": "array", "items": category, "maxItems": 100},
            "description": {"type": "string", "nullable": True, "maxLength": 2000},
        },
    }
    assert set(config_body["properties"]) == set(CONFIG_FIELDS)
    return {
        "/api/v1/scores": {
            "get": operation(
                "Scores, newest first (a session's include its traces').",
                "listScores",
                (200, "ScorePage", "A page of scores."),
                (400, 401, 404),
                [
                    project,
                    query("session_id", "The session's scores and its traces'."),
                    query("trace_id", "The trace's scores and its spans'."),
                    query("name", "Only scores of this name."),
                    query("source", "sdk, api, ui or evaluator:<name>."),
                    query("since", "Given at or after this ISO-8601 time.", TIME),
                    query("until", "Given before this ISO-8601 time.", TIME),
                    *paging(),
                ],
            ),
            "post": operation(
                "Give a score (or a batch of up to 1,000) on a session, trace or span, "
                "checked against the project's config of its name.",
                "addScores",
                (201, "ScoreAnswer", "The scores as stored: {score} or {scores}."),
                (400, 401, 404, 413),
                [project],
                json_body({"oneOf": [given, batch]}),
            ),
        },
        "/api/v1/scores/{score_id}": {
            "delete": operation(
                "Delete one score.",
                "deleteScore",
                (200, "ScoreDeleted", "The score deleted."),
                (401, 403, 404),
                [path("score_id", "The score's id."), project],
            )
        },
        "/api/v1/score-configs": {
            "get": operation(
                "The project's score configs, the built-in outcome among them.",
                "listScoreConfigs",
                (200, "ScoreConfigs", "Every config, by name."),
                (401, 404),
                [project],
            ),
            "post": operation(
                "Create a score config, or replace the one of that name (not outcome).",
                "putScoreConfig",
                (201, "ScoreConfig", "The config."),
                (400, 401, 403, 404, 413),
                [project],
                json_body(config_body),
            ),
        },
        "/api/v1/score-configs/{name}": {
            "delete": operation(
                "Delete a score config (its scores stay; outcome cannot be deleted).",
                "deleteScoreConfig",
                (200, "ScoreConfigDeleted", "The config deleted."),
                (400, 401, 403, 404),
                [path("name", "The config's name."), project],
            )
        },
        "/api/v1/sessions/{session_id}/end": {
            "post": operation(
                "End the session now (it shows as ended) and, with an outcome, give it "
                "an outcome score.",
                "endSession",
                (200, "SessionEnded", "When it ended, and its outcome score if given."),
                (400, 401, 403, 404, 413),
                [path("session_id", "The session id your application set."), project],
                {
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {"outcome": {"type": "string", "enum": _OUTCOMES}},
                            }
                        }
                    },
                },
            )
        },
    }
