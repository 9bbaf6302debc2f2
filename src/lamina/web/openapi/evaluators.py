"""The OpenAPI paths and schemas of evaluators: define, list, change and delete them,
their runs, a dry run, an experiment's output judged, and a backfill (see
lamina.web.evaluators)."""

from __future__ import annotations

from typing import Any

from lamina.evaluation.checks import CHECKS
from lamina.evaluation.definition import KINDS, MAX_QUIET_SECONDS, SCORE_TYPES, TARGETS
from lamina.evaluation.health import STATES
from lamina.store.evaluators import RunStatus
from lamina.web.openapi.parts import (
    INT_OR_NULL,
    INTEGER,
    NUMBER_OR_NULL,
    TEXT,
    TEXT_OR_NULL,
    TIME,
    a_list,
    an_object,
    json_body,
    limit,
    operation,
    path,
    query,
    ref,
)

_TIME_OR_NULL = {**TIME, "nullable": True}
_FILTER = {
    "type": "object",
    "additionalProperties": False,
    "description": "Judge only targets with a turn of this name, tag and metadata.",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "tag": {"type": "string", "minLength": 1},
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
_SCORE = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "type": {"type": "string", "enum": list(SCORE_TYPES)},
        "min": NUMBER_OR_NULL,
        "max": NUMBER_OR_NULL,
        "categories": {"type": "array", "items": TEXT},
    },
}


def _definition(shown: bool) -> dict[str, Any]:
    """An evaluator as given (``shown`` False) or as answered (its key only as a flag)."""
    llm: dict[str, Any] = {
        "base_url": TEXT,
        "model": TEXT,
        "api_key_env": TEXT_OR_NULL,
        "prompt": TEXT,
        "score": _SCORE,
    }
    if shown:
        llm["api_key_set"] = {"type": "boolean"}
    else:
        llm["api_key"] = {**TEXT_OR_NULL, "description": "Write-only: never answered."}
    properties: dict[str, Any] = {
        "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$"},
        "target": {"type": "string", "enum": list(TARGETS)},
        "enabled": {"type": "boolean"},
        "filter": _FILTER,
        "sample_rate": {"type": "number", "minimum": 0, "maximum": 1},
        "quiet_seconds": {"type": "integer", "minimum": 0, "maximum": MAX_QUIET_SECONDS},
        "kind": {"type": "string", "enum": list(KINDS)},
        "llm": {"type": "object", "nullable": True, "properties": llm},
        "check": {
            "type": "object",
            "nullable": True,
            "properties": {
                "type": {"type": "string", "enum": list(CHECKS)},
                "params": {"type": "object"},
            },
        },
        "description": {**TEXT_OR_NULL, "maxLength": 1000},
        "budget": {
            "type": "object",
            "nullable": True,
            "description": "An LLM judge's most a UTC day; runs over it wait for the next.",
            "additionalProperties": False,
            "properties": {
                "calls_per_day": {"type": "integer", "minimum": 0, "default": 1000},
                "tokens_per_day": {"type": "integer", "minimum": 0, "default": 5_000_000},
            },
        },
    }
    if shown:
        properties |= {"id": TEXT, "created_at": TIME, "updated_at": TIME}
        return {"type": "object", "properties": properties, "required": ["id", "name", "kind"]}
    return {
        "type": "object",
        "required": ["name", "kind"],
        "additionalProperties": False,
        "properties": properties,
    }


def schemas() -> dict[str, Any]:
    run = {
        "id": TEXT,
        "target": {"type": "string", "enum": list(TARGETS)},
        "target_id": TEXT,
        "version": TEXT,
        "status": {"type": "string", "enum": [status.value for status in RunStatus]},
        "attempts": INTEGER,
        "queued_at": TIME,
        "finished_at": _TIME_OR_NULL,
        "score_id": TEXT_OR_NULL,
        "value": NUMBER_OR_NULL,
        "label": TEXT_OR_NULL,
        "comment": TEXT_OR_NULL,
        "trace_id": TEXT_OR_NULL,
        "latency_ms": NUMBER_OR_NULL,
        "input_tokens": INT_OR_NULL,
        "output_tokens": INT_OR_NULL,
        "cost": NUMBER_OR_NULL,
        "error": TEXT_OR_NULL,
        "superseded": {"type": "boolean"},
        "superseded_at": _TIME_OR_NULL,
        "failed_at": _TIME_OR_NULL,
    }
    state = {
        "state": {
            "type": "string",
            "enum": list(STATES),
            "description": "failing: its newest failure is newer than its newest ok run.",
        },
        "last_error": TEXT_OR_NULL,
        "last_error_at": _TIME_OR_NULL,
        "last_ok_at": _TIME_OR_NULL,
    }
    return {
        "Evaluator": _definition(shown=True),
        "EvaluatorWithState": {
            "allOf": [
                ref("Evaluator"),
                {"type": "object", "required": list(state), "properties": state},
            ]
        },
        "EvaluatorWithProgress": {
            "allOf": [
                ref("EvaluatorWithState"),
                {
                    "type": "object",
                    "required": ["progress"],
                    "properties": {
                        "progress": {
                            "nullable": True,
                            "description": "Its runs queued since the oldest not done yet "
                            "(a backfill's among them); null when every run is done.",
                            "allOf": [
                                an_object(
                                    {
                                        "since": TIME,
                                        "total": INTEGER,
                                        "queued": INTEGER,
                                        "running": INTEGER,
                                        "done": INTEGER,
                                        "failed": INTEGER,
                                    }
                                )
                            ],
                        }
                    },
                },
            ]
        },
        "Evaluators": a_list("EvaluatorWithState"),
        "EvaluatorDeleted": an_object({"deleted": ref("Evaluator")}),
        "EvaluatorRun": an_object(run),
        "EvaluatorRuns": a_list("EvaluatorRun"),
        "EvaluatorTried": an_object(
            {
                "skipped": TEXT_OR_NULL,
                "score": {"nullable": True, "allOf": [ref("Score")]},
                "error": TEXT_OR_NULL,
                "prompt": TEXT_OR_NULL,
                "raw": TEXT_OR_NULL,
                "turn": INT_OR_NULL,
                "input_tokens": INT_OR_NULL,
                "output_tokens": INT_OR_NULL,
                "cost": NUMBER_OR_NULL,
                "latency_ms": NUMBER_OR_NULL,
            }
        ),
        "EvaluatorBackfill": an_object({"queued": INTEGER}),
    }


def paths(project: dict[str, Any]) -> dict[str, Any]:
    one = [path("evaluator_id", "The evaluator's id."), project]
    change = {**_definition(shown=False), "required": []}
    target = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"session_id": TEXT, "trace_id": TEXT},
    }
    given = {
        "type": "object",
        "required": ["output"],
        "additionalProperties": False,
        "properties": {
            "input": {"description": "What the application was given (any JSON value)."},
            "output": {"description": "What it answered, to judge (any JSON value)."},
            "metadata": {"type": "object", "nullable": True},
            "trace_id": {**TEXT, "maxLength": 100, "description": "The trace it is from."},
        },
    }
    since_until = {
        "type": "object",
        "required": ["since"],
        "additionalProperties": False,
        "properties": {"since": TIME, "until": TIME},
    }
    return {
        "/api/v1/evaluators": {
            "get": operation(
                "The project's evaluators, by name, with their states (never their API keys).",
                "listEvaluators",
                (200, "Evaluators", "Every evaluator."),
                (401, 404),
                [project],
            ),
            "post": operation(
                "Define an evaluator: a check, or an LLM judge, of sessions or traces.",
                "addEvaluator",
                (201, "Evaluator", "The evaluator as stored."),
                (400, 401, 404, 409, 413),
                [project],
                json_body(_definition(shown=False)),
            ),
        },
        "/api/v1/evaluators/{evaluator_id}": {
            "get": operation(
                "One evaluator, with its state (ok, failing with last_error saying why, idle "
                "or disabled) and the progress of its runs in hand (a backfill's).",
                "getEvaluator",
                (200, "EvaluatorWithProgress", "The evaluator, its state and progress."),
                (401, 404),
                one,
            ),
            "put": operation(
                "Change an evaluator: the fields given replace theirs (an llm.api_key of "
                "null removes the key; none keeps it).",
                "changeEvaluator",
                (200, "Evaluator", "The evaluator as stored."),
                (400, 401, 404, 409, 413),
                one,
                json_body(change),
            ),
            "delete": operation(
                "Delete an evaluator and its runs (its scores stay).",
                "deleteEvaluator",
                (200, "EvaluatorDeleted", "The evaluator deleted."),
                (401, 404),
                one,
            ),
        },
        "/api/v1/evaluators/{evaluator_id}/runs": {
            "get": operation(
                "The evaluator's runs, newest queued first: target, status, score, "
                "latency, tokens, cost, error.",
                "listEvaluatorRuns",
                (200, "EvaluatorRuns", "A page of runs."),
                (400, 401, 404),
                [
                    *one,
                    query("target_id", "Only the runs of this session or trace."),
                    query(
                        "status",
                        "Only runs in this state.",
                        {"type": "string", "enum": [s.value for s in RunStatus]},
                    ),
                    query("before", "Queued before this ISO-8601 time (the next page).", TIME),
                    limit(),
                ],
            )
        },
        "/api/v1/evaluators/{evaluator_id}/test": {
            "post": operation(
                "A dry run on one session (or trace): the score the evaluator would give "
                "it, not stored; an LLM judge's filled prompt and raw answer, or its error "
                "with what it got to.",
                "tryEvaluator",
                (200, "EvaluatorTried", "The score it would write (null: skipped, and why)."),
                (400, 401, 404, 413),
                one,
                json_body(target),
            )
        },
        "/api/v1/evaluators/{evaluator}/judge": {
            "post": operation(
                "Judge an output an experiment gives (lamina.judge) with the evaluator of "
                "this id or name: one turn, its input then its output, judged by the same "
                "prompt and model as online, filter and sample not applied, nothing stored.",
                "judgeOutput",
                (200, "EvaluatorTried", "Its score, or the judge's error."),
                (400, 401, 404, 413),
                [path("evaluator", "The evaluator's id or name."), project],
                json_body(given),
            )
        },
        "/api/v1/evaluators/{evaluator_id}/backfill": {
            "post": operation(
                "Queue the targets whose last span ended between since and until (and "
                "that went quiet) for the evaluator, each version once.",
                "backfillEvaluator",
                (202, "EvaluatorBackfill", "How many runs were queued."),
                (400, 401, 404, 413),
                one,
                json_body(since_until),
            )
        },
    }
