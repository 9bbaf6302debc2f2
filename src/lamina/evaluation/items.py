"""Dataset items made from the data (#22): a trace, a session, or a session up to a turn.

- A trace: its root span's input, and its output as the expected output (each read
  whole, as JSON when it is JSON, else as text).
- A session: one item whose input is the whole conversation as chat messages
  (``[{"role": "user", "content": ...}, {"role": "assistant", "content": ...}, ...]``),
  each turn read as the session page's transcript reads it (lamina.evaluation.target:
  the root span's words, else the first and last LLM call's); no expected output.
- A session up to turn N (turns count from 1, in the order the session page shows
  them): the conversation before turn N as the input history, turn N's user message
  last, and turn N's reply as the expected output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lamina.errors import BadRequest, NotFound, PayloadTooLarge
from lamina.evaluation import target
from lamina.spans import payload
from lamina.store.base import Row, Store

MAX_TURNS = 1_000  # in one item
MAX_VALUE_CHARS = 1024 * 1024  # a trace's input or output read whole for an item


@dataclass(frozen=True, slots=True)
class Made:
    input: Any
    expected_output: Any
    session_id: str | None
    trace_id: str | None
    turn: int | None


def from_trace(store: Store, project_id: str, trace_id: str) -> Made:
    trace = store.get_trace(project_id, trace_id)
    if trace is None:
        raise NotFound(f'No trace "{trace_id[:100]}" in this project.')
    root = target.root(trace)
    value = _whole(store, project_id, trace_id, root, "input") if root else None
    if value is None:
        raise BadRequest(
            f'The root span of trace "{trace_id}" recorded no input, so it makes no item: '
            "give the item's input instead."
        )
    expected = _whole(store, project_id, trace_id, root, "output") if root else None
    return Made(value, expected, trace.get("session_id"), trace_id, None)


def _whole(store: Store, project_id: str, trace_id: str, span: Row, field: str) -> Any:
    """The span's value of ``field`` whole (a trace's may be cut short), as JSON when it
    parses, else its text; None when it recorded none."""
    text = span.get(field)
    chars = (span.get("truncated") or {}).get(field)
    if chars is not None:
        if chars > MAX_VALUE_CHARS:
            raise PayloadTooLarge(
                f"The {field} of trace {trace_id}'s root span is {chars:,} characters; an "
                f"item holds at most {MAX_VALUE_CHARS // 1024:,} KiB."
            )
        found = store.span_value(project_id, trace_id, span["span_id"], field)
        text = found["value"] if found is not None else text
    if not text:
        return None
    is_json, value = payload.parse(text)
    return value if is_json else text


def _whole_root(store: Store, project_id: str, trace: Row) -> None:
    """The trace's root span with its input and output whole (a trace's may be cut
    short, and a cut value no longer reads as JSON), so its turn reads as recorded."""
    root = target.root(trace)
    for field, chars in ((root or {}).get("truncated") or {}).items():
        if field in ("input", "output") and root is not None:
            if chars > MAX_VALUE_CHARS:
                raise PayloadTooLarge(
                    f"The {field} of trace {trace['trace_id']}'s root span is {chars:,} "
                    f"characters; an item holds at most {MAX_VALUE_CHARS // 1024:,} KiB."
                )
            found = store.span_value(project_id, trace["trace_id"], root["span_id"], field)
            if found is not None:
                root[field] = found["value"]


def from_session(store: Store, project_id: str, session_id: str, up_to: int | None) -> Made:
    session = store.get_session(project_id, session_id)
    if session is None:
        raise NotFound(f'No session "{session_id[:100]}" in this project.')
    ids = [trace["trace_id"] for trace in session.get("traces") or []]
    if up_to is not None:
        if not 1 <= up_to <= len(ids):
            raise BadRequest(
                f"up_to_turn must be between 1 and {len(ids)}: the session has {len(ids)} "
                f"turn{'s' if len(ids) != 1 else ''} (they count from 1); got {up_to}."
            )
        ids = ids[:up_to]
    if not ids:
        raise BadRequest(f'The session "{session_id[:100]}" has no turns to make an item of.')
    if len(ids) > MAX_TURNS:
        raise BadRequest(
            f"An item holds at most {MAX_TURNS:,} turns; this session has {len(ids):,}. "
            "Give up_to_turn to take its first turns."
        )
    traces = store.get_traces(project_id, ids)  # in the order of ids
    if len(traces) != len(ids):  # a trace deleted meanwhile
        raise NotFound(f'The session "{session_id[:100]}" changed while it was read; try again.')
    for trace in traces:
        _whole_root(store, project_id, trace)
    history = traces[:-1] if up_to is not None else traces
    messages: list[dict[str, Any]] = []
    for trace in history:
        for role, words in (("user", target.said(trace)), ("assistant", target.replied(trace))):
            if words is not None:
                messages.append({"role": role, "content": words})
    if up_to is None:
        return Made(messages, None, session_id, None, None)
    last = traces[-1]
    messages.append({"role": "user", "content": target.said(last)})
    return Made(messages, target.replied(last), session_id, last["trace_id"], up_to)
