"""The arguments of ``Laminar.score`` and ``Laminar.end_session``, checked and
made into what the server is sent (``POST /api/v1/scores``, ``.../end``).

A mistake here is the application's, but scores are given in the middle of its
request handling: ``Laminar`` logs :class:`ScoreArgumentError` and drops the
score rather than raise.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

MAX_NAME_CHARS = 200


class ScoreArgumentError(ValueError):
    """A score or session end that cannot be sent; the message says why."""


def score_payload(
    name: object,
    value: object,
    *,
    label: object,
    session_id: object,
    trace_id: object,
    span_id: object,
    comment: object,
) -> dict[str, Any]:
    """The score as the server takes it, with a ``score_id`` made now (so a
    retry of its request is never a second score)."""
    if not isinstance(name, str) or not name.strip():
        raise ScoreArgumentError("the name must be a non-empty str")
    if len(name) > MAX_NAME_CHARS:
        raise ScoreArgumentError(f"the name is longer than {MAX_NAME_CHARS} characters")
    payload: dict[str, Any] = {"score_id": uuid.uuid4().hex, "name": name.strip()}
    if value is not None:
        payload["value"] = _number(value)
    if label is not None:
        if not isinstance(label, str) or not label:
            raise ScoreArgumentError("label must be a non-empty str")
        payload["label"] = label
    if value is None and label is None:
        raise ScoreArgumentError("give a value (a number or a bool) or a label")
    if session_id is not None:
        payload["session_id"] = _id("session_id", session_id)
    if trace_id is not None:
        payload["trace_id"] = _hex_id("trace_id", trace_id, 32)
    if span_id is not None:
        if trace_id is None:
            raise ScoreArgumentError("span_id needs the trace_id of its trace")
        payload["span_id"] = _hex_id("span_id", span_id, 16)
    if session_id is None and trace_id is None:
        raise ScoreArgumentError(
            "it has no target: pass session_id= or trace_id=, or call it inside an "
            "@observe'd function or a Laminar.start_as_current_span() block to score "
            "the current trace"
        )
    if comment is not None:
        payload["comment"] = str(comment)
    payload["source"] = "sdk"
    return payload


def outcome_payload(session_id: str, outcome: str) -> dict[str, Any]:
    """A session's outcome: the built-in categorical score ``outcome``."""
    return {
        "score_id": uuid.uuid4().hex,
        "name": "outcome",
        "label": outcome,
        "session_id": session_id,
        "source": "sdk",
    }


def end_args(session_id: object, outcome: object) -> tuple[str, str | None]:
    session = _id("session_id", session_id)
    if outcome is not None and (not isinstance(outcome, str) or not outcome):
        raise ScoreArgumentError("outcome must be a non-empty str such as 'success'")
    return session, outcome


def _number(value: object) -> float | int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ScoreArgumentError(f"value must be a finite number, got {value!r}")
        return value
    raise ScoreArgumentError(
        f"value must be a number or a bool, got {type(value).__name__} "
        "(give a category as label=...)"
    )


def _id(name: str, value: object) -> str:
    if isinstance(value, (str, int, uuid.UUID)) and not isinstance(value, bool):
        text = str(value).strip()
        if text:
            return text
    raise ScoreArgumentError(f"{name} must be a non-empty str, got {value!r}")


def _hex_id(name: str, value: object, digits: int) -> str:
    """An OpenTelemetry id as the JSON API shows it: ``digits`` lowercase hex digits
    (an int or a UUID is formatted so)."""
    if isinstance(value, uuid.UUID):
        value = value.hex
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return format(value, f"0{digits}x")
    if isinstance(value, str):
        text = value.strip().lower().replace("-", "")
        if len(text) == digits and all(c in "0123456789abcdef" for c in text):
            return text
    raise ScoreArgumentError(
        f"{name} must be {digits} hex digits (as Laminar.get_trace_id() and the JSON API "
        f"give it), got {value!r}"
    )
