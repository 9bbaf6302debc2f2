"""What an evaluator judges: a session (its traces are its turns) or one trace, read
from the store as the session page reads it, and the words of each turn.

A turn's words are its root span's input and output (the first and last LLM call's
when the root recorded none), read as the session page reads them
(:mod:`lamina.spans.payload`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from lamina.spans import payload
from lamina.store.base import Row, Store
from lamina.store.rows import first_and_last

# A session with more turns than this is judged on its first and last ones (half each).
MAX_TURNS = 200


@dataclass(frozen=True, slots=True)
class Target:
    kind: str  # "session" | "trace"
    target_id: str
    # Store.get_session's row, for an LLM judge's target (its metadata, every turn);
    # None for a check's, which reads only the traces
    session: Row | None
    traces: list[Row]  # Store.get_traces' rows, with their spans, in time order: the turns


def load(store: Store, project_id: str, kind: str, target_id: str) -> Target | None:
    """The target as stored now, for an LLM judge; None once it is gone (deleted)."""
    if kind == "trace":
        traces = store.get_traces(project_id, [target_id])
        return Target(kind, target_id, None, traces) if traces else None
    session = store.get_session(project_id, target_id)
    if session is None:
        return None
    ids = first_and_last([trace["trace_id"] for trace in session.get("traces") or []], MAX_TURNS)
    traces = store.get_traces(project_id, ids)
    traces.sort(key=lambda trace: (trace["start_ns"], trace["trace_id"]))
    return Target(kind, target_id, session, traces)


def load_many(
    store: Store,
    project_id: str,
    kind: str,
    target_ids: list[str],
    payloads: Sequence[str] = ("input", "output"),
    spans_of: Collection[str] | None = None,
) -> dict[str, Target | None]:
    """Each target as :func:`load` without the session reads it (a check's), in one read
    (:meth:`Store.check_sessions` or :meth:`Store.check_traces`: the spans' fields a check
    reads, of input and output ``payloads``, the spans of the kinds ``spans_of`` or all):
    a batch of checks reads each target once, whatever the number of checks on it."""
    targets = list(dict.fromkeys(target_ids))
    if kind == "trace":
        read = store.check_traces(project_id, targets, payloads, spans_of)
        turns = {trace["trace_id"]: [trace] for trace in read}
    else:
        turns = store.check_sessions(project_id, targets, payloads, spans_of, MAX_TURNS)
    return {
        target_id: Target(kind, target_id, None, turns[target_id]) if target_id in turns else None
        for target_id in targets
    }


def root(trace: Row) -> Row | None:
    spans: list[Row] = trace.get("spans") or []
    ids = {span["span_id"] for span in spans}
    roots = [span for span in spans if span["parent_span_id"] not in ids] or spans
    return min(roots, key=lambda span: (span["start_ns"], span["span_id"]), default=None)


def _text(message: payload.Message | None) -> str | None:
    if message is None:
        return None
    if message.text is not None:
        return message.text
    if message.data is not None:
        return orjson.dumps(message.data, default=str).decode()
    return None


def said(trace: Row) -> str | None:
    """What the user said in the turn."""
    first = root(trace)
    words = payload.said(payload.read_payload(first["input"])) if first else None
    llm_calls = [s for s in trace.get("spans") or [] if s["span_type"] == "LLM"]
    if words is None and llm_calls:
        words = payload.said(payload.read_payload(llm_calls[0]["input"]))
    return _text(words)


def output(trace: Row) -> str | None:
    """The turn's output as recorded (the root span's, else its last LLM call's)."""
    first = root(trace)
    if first is not None and first.get("output"):
        return str(first["output"])
    llm_calls = [s for s in trace.get("spans") or [] if s["span_type"] == "LLM"]
    return str(llm_calls[-1]["output"]) if llm_calls and llm_calls[-1].get("output") else None


def replied(trace: Row) -> str | None:
    """What the application answered in the turn."""
    raw = output(trace)
    return _text(payload.replied(payload.read_payload(raw))) if raw is not None else None


def metadata(trace: Row) -> dict[str, Any]:
    value = trace.get("metadata")
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return {}
    return value if isinstance(value, dict) else {}
