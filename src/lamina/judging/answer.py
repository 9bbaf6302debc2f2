"""What a judge must answer, and its answer read strictly.

The answer is one JSON object: ``reasoning`` (asked for first, so a model reasons
before it scores), ``score`` and ``label`` as the score's config allows them
(a number within bounds, true or false, or one of the labels), and ``turn``, the
number of the turn the judgement rests on. Servers with structured output get it as
a JSON schema (:func:`response_format`); the others get the same description in
words (:func:`instructions`). Either way :func:`parse_answer` reads the text
strictly: one JSON object (a code fence around it is tolerated, as local models
often add one), every key present, every value within its config; anything else is
a :class:`BadAnswer` whose reason is sent back to the judge once.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from lamina.judging.config import ScoreSpec

_FENCE = re.compile(r"^```[A-Za-z]*\s*\n(.*)\n\s*```$", re.DOTALL)
SCHEMA_NAME = "judgement"


@dataclass(frozen=True, slots=True)
class Answer:
    """A judge's answer, checked: numeric and boolean, a ``score`` (boolean 1 or 0) and no
    label; categorical, a ``label`` (spelled as the spec spells it) and no score: the
    project's score config gives a label its value when the score is stored."""

    score: float | None
    label: str | None
    reasoning: str
    turn: int | None


class BadAnswer(Exception):
    """An answer that cannot be used; ``reason`` says why, for the judge to fix."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def response_format(spec: ScoreSpec, turns: int) -> dict[str, Any]:
    """The ``response_format`` of a chat completion that asks for the answer's schema."""
    return {
        "type": "json_schema",
        "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": _schema(spec, turns)},
    }


def _schema(spec: ScoreSpec, turns: int) -> dict[str, Any]:
    # The field a type does not use is nullable rather than {"type": "null"}: OpenAI's
    # strict mode documents a null only in a union. Its value is ignored when read.
    if spec.type == "categorical":
        score: dict[str, Any] = {"type": ["number", "null"]}
        label: dict[str, Any] = {"type": "string", "enum": list(spec.categories)}
    elif spec.type == "boolean":
        score, label = {"type": "boolean"}, {"type": ["string", "null"]}
    else:
        score, label = {"type": "number"}, {"type": ["string", "null"]}
    score["description"] = _score_words(spec)
    label["description"] = _label_words(spec)
    return {
        "type": "object",
        "properties": {
            "reasoning": {"type": "string", "description": "Why, in a few sentences."},
            "score": score,
            "label": label,
            "turn": {"type": ["integer", "null"], "description": _turn_words(turns)},
        },
        "required": ["reasoning", "score", "label", "turn"],
        "additionalProperties": False,
    }


def instructions(spec: ScoreSpec, turns: int) -> str:
    """The system message: what the answer must be, in words (for every server)."""
    return (
        "You are an evaluator. Judge the conversation as the user's message asks, then "
        "answer with one JSON object with exactly these keys:\n"
        '- "reasoning": why, in a few sentences;\n'
        f'- "score": {_score_words(spec)};\n'
        f'- "label": {_label_words(spec)};\n'
        f'- "turn": {_turn_words(turns)}.\n'
        "Answer with the JSON object only: no other text before or after it."
    )


def repair_request(reason: str) -> str:
    """The message that sends an unusable answer back, once."""
    return (
        f"That answer cannot be used: {reason} Answer again with only the JSON object "
        "described above (keys reasoning, score, label, turn)."
    )


def _score_words(spec: ScoreSpec) -> str:
    if spec.type == "categorical":
        return "null (this judgement is a label)"
    if spec.type == "boolean":
        return "true or false"
    low = "" if spec.min is None else f" at least {spec.min:g}"
    high = "" if spec.max is None else f" at most {spec.max:g}"
    return "a number" + (low + ("," if low and high else "") + high)


def _label_words(spec: ScoreSpec) -> str:
    if spec.type != "categorical":
        return "null (this judgement is a score)"
    return "one of " + ", ".join(json.dumps(label) for label in spec.categories)


def _turn_words(turns: int) -> str:
    return (
        "the number of the turn your judgement rests on most (turns are numbered from 1 "
        f"as the transcript shows; this conversation has {turns}), or null when no one "
        "turn stands out"
    )


# -- reading an answer ----------------------------------------------------------------------


def parse_answer(text: str | None, spec: ScoreSpec, turns: int) -> Answer:
    """The answer in ``text``, checked against ``spec``; :class:`BadAnswer` if unusable."""
    value = _json_object(text)
    missing = [key for key in ("reasoning", "score", "label", "turn") if key not in value]
    if missing:
        raise BadAnswer(f"the keys {', '.join(missing)} are missing.")
    reasoning = value["reasoning"]
    if not isinstance(reasoning, str):
        raise BadAnswer('"reasoning" must be a text.')
    score, label = _score(value["score"], value["label"], spec)
    return Answer(score, label, reasoning.strip(), _turn(value["turn"], turns))


def _json_object(text: str | None) -> dict[str, Any]:
    body = (text or "").strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    if not body:
        raise BadAnswer("it was empty.")
    try:
        value = json.loads(body)
    except json.JSONDecodeError as exc:
        raise BadAnswer(f"it is not valid JSON ({exc.msg} at character {exc.pos}).") from None
    if not isinstance(value, dict):
        raise BadAnswer("it must be one JSON object.")
    return value


def _score(score: Any, label: Any, spec: ScoreSpec) -> tuple[float | None, str | None]:
    if spec.type == "categorical":
        labels = spec.categories
        if not isinstance(label, str):
            raise BadAnswer(f'"label" must be one of {", ".join(labels)}.')
        for known in labels:
            if known == label or known.lower() == label.strip().lower():
                return None, known
        raise BadAnswer(f'"label" is {label[:80]!r}; it must be one of {", ".join(labels)}.')
    if spec.type == "boolean":
        if isinstance(score, bool | int | float) and score in (0, 1):  # true, false, 1, 0
            return float(score), None
        raise BadAnswer('"score" must be true or false.')
    if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
        raise BadAnswer(f'"score" must be {_score_words(spec)}.')
    number = float(score)
    if (spec.min is not None and number < spec.min) or (spec.max is not None and number > spec.max):
        raise BadAnswer(f'"score" is {number:g}; it must be {_score_words(spec)}.')
    return number, None


def _turn(turn: Any, turns: int) -> int | None:
    if turn is None:
        return None
    if isinstance(turn, bool) or not isinstance(turn, int) or not 1 <= turn <= turns:
        raise BadAnswer(f'"turn" must be a turn\'s number, from 1 to {turns}, or null.')
    return turn
