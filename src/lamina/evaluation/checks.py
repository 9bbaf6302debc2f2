"""Checks: judgements that need no LLM, cheap enough for every session.

Each reads a :class:`~lamina.evaluation.target.Target` and answers a :class:`Finding`:
``found`` (the boolean score: 1 when the check found what it looks for), the turn it
cites (its trace id: the turn where it was found, else the last turn) and a comment
for a person.

================== ========================================= ======================
type               found when                                params (defaults)
================== ========================================= ======================
error_in_last_turn the last turn ended in an error           --
user_repeated      the user said (nearly) what they said in  similarity (0.9)
                   the turn before
tool_loop          one tool was called with the same          times (3)
                   arguments ``times`` times in a row
max_cost           the cost passed ``max`` (USD)              max (required)
max_duration       first span to last took over ``seconds``   seconds (required)
json_output        a turn's output is not JSON                --
regex              ``pattern`` matched a turn's output        pattern (required),
                   (``field``: output or input)              field ("output")
================== ========================================= ======================
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from lamina.errors import BadRequest
from lamina.evaluation.target import Target, output, said
from lamina.store.base import Row

MAX_PATTERN = 500
# A regex reads at most this much of each turn's text (Python's re has no time limit).
MAX_REGEX_TEXT = 100_000
# Texts compared for user_repeated are cut to this many characters.
MAX_COMPARED = 2_000


@dataclass(frozen=True, slots=True)
class Finding:
    found: bool
    trace_id: str | None
    comment: str


def parse(given: Any) -> dict[str, Any]:
    """A check as given (``{"type": ..., "params": {...}}``), its params checked and
    their defaults filled in."""
    if not isinstance(given, dict) or given.get("type") not in CHECKS:
        raise BadRequest(f"A check evaluator needs check.type: one of {', '.join(CHECKS)}.")
    params = given.get("params") or {}
    if not isinstance(params, dict):
        raise BadRequest("check.params must be an object.")
    kind = given["type"]
    params = dict(_DEFAULTS.get(kind, {})) | params
    allowed = _PARAMS[kind]
    unknown = sorted(params.keys() - allowed.keys())
    if unknown:
        takes = ", ".join(allowed) or "no params"
        raise BadRequest(f"Unknown check.params.{unknown[0][:80]}: {kind} takes {takes}.")
    for name, (accepts, help_text) in allowed.items():
        if name not in params:
            raise BadRequest(f"{kind} needs check.params.{name}: {help_text}.")
        if not accepts(params[name]):
            raise BadRequest(f"check.params.{name} must be {help_text}.")
    if kind == "regex":
        try:
            re.compile(params["pattern"])
        except re.error as exc:
            raise BadRequest(f"check.params.pattern is not a regular expression: {exc}.") from None
    return {"type": kind, "params": params}


def run(check: dict[str, Any], target: Target) -> Finding:
    return CHECKS[check["type"]](target, check["params"])


def payloads(check: dict[str, Any]) -> tuple[str, ...]:
    """Which of the spans' input and output the check reads (the others are not read:
    they are most of what a batch of checks reads)."""
    if check["type"] == "regex":
        return (check["params"]["field"],)
    return _PAYLOADS.get(check["type"], ())


@dataclass(frozen=True, slots=True)
class Reads:
    """What a batch of checks reads of each turn: of the spans' input and output,
    ``payloads``; the spans of the kinds ``spans`` (lamina.store.rows.CHECK_SPAN_KINDS:
    failed ones, tool calls; none: the turn's row alone; None: every span)."""

    payloads: tuple[str, ...] = ()
    spans: frozenset[str] | None = frozenset()

    def adding(self, check: dict[str, Any]) -> Reads:
        """These reads and what ``check`` reads."""
        spans = _SPANS.get(check["type"])
        return Reads(
            tuple(sorted({*self.payloads, *payloads(check)})),
            None if spans is None or self.spans is None else self.spans | spans,
        )


def _last(target: Target) -> str | None:
    return target.traces[-1]["trace_id"] if target.traces else None


def _error_in_last_turn(target: Target, params: dict[str, Any]) -> Finding:
    if not target.traces:
        return Finding(False, None, "No turn to read.")
    last = target.traces[-1]
    failed = [s for s in last.get("spans") or [] if s["status"] == "error"]
    if last.get("error_count") or failed:
        message = next((s["status_message"] for s in failed if s["status_message"]), "")
        detail = f": {message[:300]}" if message else ""
        return Finding(True, last["trace_id"], f"The last turn ended in an error{detail}.")
    return Finding(False, last["trace_id"], "The last turn ended without an error.")


def _normal(text: str) -> str:
    return " ".join(text.lower().split())[:MAX_COMPARED]


def _user_repeated(target: Target, params: dict[str, Any]) -> Finding:
    previous: str | None = None
    for number, trace in enumerate(target.traces, 1):
        words = said(trace)
        now = _normal(words) if words else None
        if now and previous:
            ratio = difflib.SequenceMatcher(None, previous, now).ratio()
            if ratio >= params["similarity"]:
                return Finding(
                    True,
                    trace["trace_id"],
                    f"In turn {number} the user said again what they said in turn "
                    f"{number - 1} ({ratio:.0%} alike).",
                )
        previous = now
    return Finding(False, _last(target), "The user never repeated a message.")


def _tool_loop(target: Target, params: dict[str, Any]) -> Finding:
    times = params["times"]
    run_of: tuple[str, str] | None = None
    count = 0
    for trace in target.traces:
        tools = sorted(
            (s for s in trace.get("spans") or [] if s["span_type"] == "TOOL"),
            key=lambda s: (s["start_ns"], s["span_id"]),
        )
        for span in tools:
            call = (span["name"], str(span.get("input") or ""))
            count = count + 1 if call == run_of else 1
            run_of = call
            if count >= times:
                return Finding(
                    True,
                    trace["trace_id"],
                    f"The tool {span['name']} was called {count} times in a row with the "
                    "same arguments.",
                )
    return Finding(False, _last(target), f"No tool was called {times} times in a row alike.")


def _max_cost(target: Target, params: dict[str, Any]) -> Finding:
    total = 0.0
    for trace in target.traces:
        total += trace.get("cost") or 0.0
        if total > params["max"]:
            return Finding(
                True, trace["trace_id"], f"The cost reached ${total:.6g} (over ${params['max']:g})."
            )
    return Finding(False, _last(target), f"The cost was ${total:.6g} (at most ${params['max']:g}).")


def _max_duration(target: Target, params: dict[str, Any]) -> Finding:
    if not target.traces:
        return Finding(False, None, "No turn to read.")
    start = min(trace["start_ns"] for trace in target.traces)
    limit = params["seconds"]
    for trace in sorted(target.traces, key=lambda t: t["end_ns"]):
        took = (trace["end_ns"] - start) / 1e9
        if took > limit:
            return Finding(True, trace["trace_id"], f"It took {took:.1f} s (over {limit:g} s).")
    took = (max(trace["end_ns"] for trace in target.traces) - start) / 1e9
    return Finding(False, _last(target), f"It took {took:.1f} s (at most {limit:g} s).")


def _is_json(text: str) -> bool:
    """Whether text is JSON other than a bare string (or holds JSON in a JSON string, as
    an SDK that serialises a returned string records it)."""
    try:
        value = orjson.loads(text)
        if isinstance(value, str):
            value = orjson.loads(value)
    except orjson.JSONDecodeError:
        return False
    return not isinstance(value, str)


def _json_output(target: Target, params: dict[str, Any]) -> Finding:
    for number, trace in enumerate(target.traces, 1):
        text = output(trace)
        if text is not None and not _is_json(text):
            return Finding(True, trace["trace_id"], f"The output of turn {number} is not JSON.")
    return Finding(False, _last(target), "Every output is JSON.")


def _regex(target: Target, params: dict[str, Any]) -> Finding:
    pattern = re.compile(params["pattern"])
    read: Callable[[Row], str | None] = output if params["field"] == "output" else said
    for number, trace in enumerate(target.traces, 1):
        text = read(trace)
        if text is not None and (match := pattern.search(text[:MAX_REGEX_TEXT])):
            shown = match.group(0)[:200]
            return Finding(
                True, trace["trace_id"], f"Turn {number}'s {params['field']} matched: {shown!r}."
            )
    return Finding(False, _last(target), f"No {params['field']} matched.")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


CHECKS: dict[str, Callable[[Target, dict[str, Any]], Finding]] = {
    "error_in_last_turn": _error_in_last_turn,
    "user_repeated": _user_repeated,
    "tool_loop": _tool_loop,
    "max_cost": _max_cost,
    "max_duration": _max_duration,
    "json_output": _json_output,
    "regex": _regex,
}
# what each finds, for a person choosing one
FOUND = {
    "error_in_last_turn": "the last turn ended in an error",
    "user_repeated": "the user said (nearly) the same thing again",
    "tool_loop": "one tool called alike several times in a row",
    "max_cost": "the cost went over a limit",
    "max_duration": "it took longer than a limit",
    "json_output": "an output is not JSON",
    "regex": "a pattern matched a turn",
}
# what said() and output() read (lamina.evaluation.target); the others need neither
_PAYLOADS = {
    "user_repeated": ("input",),
    "tool_loop": ("input",),
    "json_output": ("output",),
}
# the spans each reads (Reads.spans); the others read every span (a turn's root and its
# LLM calls, found among all of them)
_SPANS: dict[str, frozenset[str] | None] = {
    "error_in_last_turn": frozenset({"error"}),
    "tool_loop": frozenset({"tool"}),
    "max_cost": frozenset(),
    "max_duration": frozenset(),
}
_DEFAULTS: dict[str, dict[str, Any]] = {
    "user_repeated": {"similarity": 0.9},
    "tool_loop": {"times": 3},
    "regex": {"field": "output"},
}
_PARAMS: dict[str, dict[str, tuple[Callable[[Any], bool], str]]] = {
    "error_in_last_turn": {},
    "user_repeated": {
        "similarity": (lambda v: _number(v) and 0 < v <= 1, "a number above 0, at most 1")
    },
    "tool_loop": {
        "times": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 2, "2 or more")
    },
    "max_cost": {"max": (_number, "a cost in USD, 0 or more")},
    "max_duration": {"seconds": (_number, "a number of seconds, 0 or more")},
    "json_output": {},
    "regex": {
        "pattern": (
            lambda v: isinstance(v, str) and 0 < len(v) <= MAX_PATTERN,
            f"a regular expression of at most {MAX_PATTERN} characters",
        ),
        "field": (lambda v: v in ("output", "input"), '"output" or "input"'),
    },
}


def params_help(kind: str) -> dict[str, str]:
    """The params a check of ``kind`` takes, each with what it must be (for a form)."""
    return {name: help_text for name, (_, help_text) in _PARAMS[kind].items()}


def defaults(kind: str) -> dict[str, Any]:
    return dict(_DEFAULTS.get(kind, {}))
