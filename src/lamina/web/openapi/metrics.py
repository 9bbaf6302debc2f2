"""The OpenAPI paths and schemas of metrics: a metric over time and a histogram of
sessions (see lamina.web.metrics and docs/api.md's list of metrics)."""

from __future__ import annotations

from typing import Any

from lamina.query.metrics import MAX_TOP
from lamina.query.params import MAX_METADATA, MAX_SCORE_FILTERS
from lamina.store.metrics import DISTRIBUTIONS, INTERVALS, METRICS
from lamina.store.queries import EXPERIMENTS_SHOWN
from lamina.web.openapi.parts import (
    INTEGER,
    NUMBER,
    TEXT,
    TEXT_OR_NULL,
    TIME,
    an_object,
    operation,
    query,
)

_METRIC = f"^({'|'.join(METRICS)}|outcome_share|(score|share):\\S.*)$"
_GROUPS = sorted({group for metric in METRICS.values() for group in metric.groups})


def schemas() -> dict[str, Any]:
    point = an_object({"t": TIME, "v": NUMBER})
    series = an_object({"group": TEXT_OR_NULL, "points": {"type": "array", "items": point}})
    bucket = an_object({"lo": NUMBER, "hi": NUMBER, "count": INTEGER})
    return {
        "MetricSeries": an_object(
            {
                "metric": TEXT,
                "title": TEXT,
                "unit": TEXT,
                "interval": {"type": "string", "enum": list(INTERVALS)},
                "since": TIME,
                "until": TIME,
                "group_by": TEXT_OR_NULL,
                "series": {"type": "array", "items": series},
            }
        ),
        "MetricDistribution": an_object(
            {
                "metric": TEXT,
                "title": TEXT,
                "since": TIME,
                "until": TIME,
                "buckets": {"type": "array", "items": bucket},
            }
        ),
    }


def _filters() -> list[dict[str, Any]]:
    return [
        query("since", "Start of the range, ISO-8601 (default: a week before until).", TIME),
        query("until", "End of the range, ISO-8601 (default: now).", TIME),
        query("user_id", "Only this user's sessions or traces."),
        query("tag", "Only traces carrying this tag (sessions: with such a trace)."),
        {
            "name": "metadata",
            "in": "query",
            "required": False,
            "description": "key=value; repeat for several (as the lists').",
            "schema": {
                "type": "array",
                "maxItems": MAX_METADATA,
                "items": {"type": "string", "pattern": "^[^=]+=.*$", "maxLength": 1000},
            },
            "style": "form",
            "explode": True,
        },
        query(
            "status",
            "Trace metrics: ok or error. Session and score metrics: active or ended.",
        ),
        {
            "name": "score",
            "in": "query",
            "required": False,
            "description": "NAME<op>VALUE, as the lists' score filter; repeat for several.",
            "schema": {
                "type": "array",
                "maxItems": MAX_SCORE_FILTERS,
                "items": {"type": "string", "maxLength": 1000},
            },
            "style": "form",
            "explode": True,
        },
        query("q", "Only those with a span whose input or output contains this text."),
        query(
            "experiments",
            "The sessions of experiment runs and their traces: include (the default), "
            "exclude or only them.",
            {"type": "string", "enum": list(EXPERIMENTS_SHOWN)},
        ),
    ]


def paths(project: dict[str, Any]) -> dict[str, Any]:
    metric = query(
        "metric",
        f"One of {', '.join(METRICS)}, score:NAME, share:NAME or outcome_share.",
        {"type": "string", "maxLength": 1000, "pattern": _METRIC},
    )
    metric["required"] = True
    distribution = query(
        "metric", "What to count sessions by.", {"type": "string", "enum": list(DISTRIBUTIONS)}
    )
    distribution["required"] = True
    return {
        "/api/v1/metrics": {
            "get": operation(
                "A metric per hour or day, optionally one series per group.",
                "getMetric",
                (200, "MetricSeries", "The metric's series."),
                (400, 401, 404),
                [
                    project,
                    metric,
                    query(
                        "interval",
                        "hour or day (default: fits the range).",
                        {
                            "type": "string",
                            "enum": list(INTERVALS),
                        },
                    ),
                    query(
                        "group_by",
                        "One series per value of this.",
                        {
                            "type": "string",
                            "enum": _GROUPS,
                        },
                    ),
                    query(
                        "top",
                        "How many groups, the largest first.",
                        {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_TOP,
                            "default": 10,
                        },
                    ),
                    query("name", "Trace metrics only: the trace's (root span's) name."),
                    *_filters(),
                ],
            )
        },
        "/api/v1/metrics/distribution": {
            "get": operation(
                "A histogram of the sessions that started in the range.",
                "getMetricDistribution",
                (200, "MetricDistribution", "Bins of one round width, lowest first."),
                (400, 401, 404),
                [project, distribution, *_filters()],
            )
        },
    }
