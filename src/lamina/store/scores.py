"""Scores: named judgements on a session, a trace or a span, and the configs behind them.

A score is a number (``value``; booleans are 0 and 1), a category (``label``, with the
value its config gives it), or both, plus who gave it (``source``: ``sdk``, ``api``,
``ui`` or ``evaluator:<name>``; ``author``: the user or the API key's name) and an
optional comment. A score on a trace belongs to the trace's session too: a session's
``score_summary`` averages its own scores and its traces' scores, name by name. A
score may name a session or trace the store has not seen yet (feedback often arrives
before the spans do); it shows once they arrive.

A project's score configs say what a name's scores may be (numeric within bounds,
boolean, or one of some categories); a name without a config is numeric. ``outcome``
is built in: how a session ended. A score whose value is None (``unknown``) is kept
and listed but never counted in an average.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from lamina.store.queries import DEFAULT_LIMIT, Cursor


class ScoreType(StrEnum):
    NUMERIC = "numeric"
    BOOLEAN = "boolean"
    CATEGORICAL = "categorical"


@dataclass(frozen=True, slots=True)
class Category:
    label: str
    value: float | None  # None: kept, never averaged (outcome's "unknown")


@dataclass(frozen=True, slots=True)
class ScoreConfig:
    name: str
    type: ScoreType
    min: float | None = None
    max: float | None = None
    categories: tuple[Category, ...] = ()
    description: str | None = None
    created_ns: int = 0


OUTCOME = ScoreConfig(
    name="outcome",
    type=ScoreType.CATEGORICAL,
    categories=(
        Category("success", 1.0),
        Category("partial", 0.5),
        Category("failure", 0.0),
        Category("abandoned", 0.0),
        Category("unknown", None),
    ),
    description="How the session ended (built in; unknown is never averaged).",
)
BUILT_IN_CONFIGS = {OUTCOME.name: OUTCOME}


@dataclass(frozen=True, slots=True)
class Score:
    score_id: str  # made by the caller (an SDK makes it once, so a retry is not a second score)
    name: str
    value: float | None
    label: str | None
    source: str
    author: str | None
    session_id: str | None
    trace_id: str | None
    span_id: str | None
    comment: str | None
    created_ns: int


@dataclass(frozen=True, slots=True)
class ScoreQuery:
    limit: int = DEFAULT_LIMIT
    cursor: Cursor | None = None  # newest first: (created_ns, score_id)
    session_id: str | None = None  # the session's own scores and its traces'
    trace_id: str | None = None
    name: str | None = None
    source: str | None = None
    since_ns: int | None = None
    until_ns: int | None = None
