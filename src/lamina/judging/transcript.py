"""A session (or one trace) as the text a judge reads: one numbered turn per trace.

A turn is read the way the session page reads it (``web/pages/transcript.py``): what
the user said from its root span's input, the answer from its root span's output
(else the first and the last LLM call's messages, the answer only when nothing
failed), each tool span as a call with its arguments and result, and the first
failed span's error. A trace whose spans were not loaded is read from its list
previews, as the page does past its limit.

The text is cut to a budget of tokens (estimated at :data:`CHARS_PER_TOKEN`
characters each, so no tokenizer is needed): first each long field from its middle,
then whole turns from the middle of the conversation, keeping its beginning and its
end, with a marker saying how many turns and characters were left out. Turns keep
their numbers, so a judge's ``turn`` always names the trace it meant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from lamina.spans import payload
from lamina.spans.preview import error_text, message_line

Row = Mapping[str, Any]

CHARS_PER_TOKEN = 4
MIN_BUDGET_TOKENS = 100  # below this the markers would not fit
MAX_TOOLS = 20  # tool calls shown per turn; the rest are counted
_MIN_FIELD_CHARS = 200


@dataclass(frozen=True, slots=True)
class ToolUse:
    name: str
    arguments: str | None
    result: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class Turn:
    number: int  # 1-based, in time order: what a judge's ``turn`` names
    trace_id: str
    start_ns: int | None
    said: str | None
    reply: str | None
    tools: tuple[ToolUse, ...] = ()
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Transcript:
    turns: tuple[Turn, ...]
    session_id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def first_input(self) -> str:
        return next((t.said for t in self.turns if t.said is not None), "")

    @property
    def last_output(self) -> str:
        return next((t.reply for t in reversed(self.turns) if t.reply is not None), "")

    def trace_id(self, number: int | None) -> str | None:
        """The trace of turn ``number`` (1-based), or None."""
        if number is None or not 1 <= number <= len(self.turns):
            return None
        return self.turns[number - 1].trace_id


# -- from the store's rows ------------------------------------------------------------------


class Target(Protocol):
    """What is judged, in the store's own rows (``lamina.evaluation.target.Target`` is
    one): a session (``Store.get_session``'s row, whose ``traces`` list every turn) and
    the turns' whole traces (``Store.get_traces``' rows with their spans, perhaps not
    all of them), or one trace (``session`` None, ``traces`` that trace)."""

    @property
    def kind(self) -> str: ...  # "session" or "trace"

    @property
    def session(self) -> Row | None: ...

    @property
    def traces(self) -> Sequence[Row]: ...


def transcript_of(target: Target) -> Transcript:
    if target.kind == "session" and target.session is not None:
        return session_transcript(target.session, target.traces)
    turns = tuple(_turn(number, trace) for number, trace in enumerate(target.traces, start=1))
    metadata: dict[str, Any] = {}
    for trace in target.traces:
        metadata.update(_metadata(trace))
    session_id = target.traces[0].get("session_id") if target.traces else None
    return Transcript(turns, session_id, metadata)


def session_transcript(session: Row, traces: Sequence[Row]) -> Transcript:
    """The transcript of ``session`` (as ``Store.get_session`` gives it: its fields and
    ``traces`` in time order), reading each turn from its whole trace in ``traces`` (as
    ``Store.get_traces`` gives them) and the others from their previews."""
    loaded = {trace["trace_id"]: trace for trace in traces}
    turns = []
    metadata: dict[str, Any] = {}
    for number, row in enumerate(session.get("traces") or [], start=1):
        full = loaded.get(row["trace_id"])
        turns.append(_turn(number, full) if full is not None else _preview_turn(number, row))
        metadata.update(_metadata(full or row))
    return Transcript(tuple(turns), session.get("session_id"), metadata)


def _metadata(trace: Row) -> dict[str, Any]:
    """A trace's metadata: an object (or its JSON text), else nothing."""
    value = trace.get("metadata")
    if isinstance(value, str):
        _, value = payload.parse(value)
    return dict(value) if isinstance(value, dict) else {}


def _preview_turn(number: int, trace: Row) -> Turn:
    return Turn(
        number=number,
        trace_id=trace["trace_id"],
        start_ns=_start_ns(trace),
        said=_preview(trace.get("input_preview")),
        reply=_preview(trace.get("output_preview")),
        error="This turn ended in error." if trace.get("status") == "error" else None,
    )


def _turn(number: int, trace: Row) -> Turn:
    spans: list[Row] = list(trace.get("spans") or [])
    if not spans:
        return _preview_turn(number, trace)
    root = _root_span(spans)
    llm_calls = [s for s in spans if s.get("span_type") == "LLM"]
    said = payload.said(payload.read_payload(root.get("input")))
    if said is None and llm_calls:
        said = payload.said(payload.read_payload(llm_calls[0].get("input")))
    reply = payload.replied(payload.read_payload(root.get("output")))
    failed = next((s for s in spans if s.get("status") == "error"), None)
    if reply is None and llm_calls and failed is None:
        reply = payload.replied(payload.read_payload(llm_calls[-1].get("output")))
    tools = tuple(_tool_use(s) for s in spans if s.get("span_type") == "TOOL")
    return Turn(
        number=number,
        trace_id=trace["trace_id"],
        start_ns=_start_ns(trace),
        said=_message_text(said),
        reply=_message_text(reply),
        tools=tools,
        error=error_text(failed.get("events"), failed.get("status_message")) if failed else None,
    )


def _tool_use(span: Row) -> ToolUse:
    failed = span.get("status") == "error"
    return ToolUse(
        name=str(span.get("name") or "tool"),
        arguments=_payload_text(span.get("input")),
        result=_payload_text(span.get("output")),
        error=error_text(span.get("events"), span.get("status_message")) if failed else None,
    )


def _root_span(spans: list[Row]) -> Row:
    ids = {span["span_id"] for span in spans}
    roots = [s for s in spans if s.get("parent_span_id") not in ids] or spans
    return min(roots, key=lambda s: _start_ns(s) or 0)


def _start_ns(row: Row) -> int | None:
    if row.get("start_ns") is not None:
        return int(row["start_ns"])
    moment = row.get("start_time")
    return int(moment.timestamp() * 1e9) if isinstance(moment, datetime) else None


def _message_text(message: payload.Message | None) -> str | None:
    """A turn's words as text: the message's text, its tool calls, or its data as JSON."""
    if message is None:
        return None
    text = message.text if message.text and not message.text.isspace() else None
    calls = ", ".join(f"{c.name}({c.arguments_text})" for c in message.tool_calls)
    if text and calls:
        return f"{text}\n(calls {calls})"
    return text or message_line(message)


def _payload_text(raw: str | None) -> str | None:
    value = payload.read_payload(raw)
    if value.kind == "none":
        return None
    if value.kind == "text":
        return value.text
    if value.kind == "chat":
        return message_line(value.messages[-1])
    return orjson.dumps(value.value, default=str).decode()


def _preview(text: str | None) -> str | None:
    """A list preview's words (a one-field JSON object shows its text, as the page does)."""
    if not text:
        return None
    if text.startswith("{") and text.endswith("}"):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            return text
        if isinstance(value, dict) and len(value) == 1:
            (only,) = value.values()
            if isinstance(only, str):
                return only
    return text


# -- as text, within a budget ---------------------------------------------------------------


def render(transcript: Transcript, budget_tokens: int) -> str:
    """The transcript as numbered turns, cut from the middle to ``budget_tokens`` (at
    least :data:`MIN_BUDGET_TOKENS`)."""
    budget = max(budget_tokens, MIN_BUDGET_TOKENS) * CHARS_PER_TOKEN
    field_chars = max(_MIN_FIELD_CHARS, budget // 6)
    blocks = [_block(turn, field_chars) for turn in transcript.turns]
    if not blocks:
        return "(The conversation has no turns.)"
    if _size(blocks) <= budget:
        return "\n\n".join(blocks)
    if len(blocks) == 1:
        return cut_middle(blocks[0], budget)
    head, tail = [blocks[0]], [blocks[-1]]
    left, right = 1, len(blocks) - 2  # the next turns to keep, from each end
    marker_room = 120
    while left <= right:
        take_head = len(head) <= len(tail)
        candidate = blocks[left] if take_head else blocks[right]
        if _size(head + tail) + len(candidate) + 2 + marker_room > budget:
            break
        if take_head:
            head.append(candidate)
            left += 1
        else:
            tail.insert(0, candidate)
            right -= 1
    if _size(head + tail) + marker_room > budget:  # the first and last turn alone are too long
        half = max((budget - marker_room) // 2, 1)
        head, tail = [cut_middle(head[0], half)], [cut_middle(tail[-1], half)]
    left_out = blocks[left : right + 1]
    if not left_out:
        return "\n\n".join(head + tail)
    marker = _marker(left + 1, right + 1, sum(len(b) for b in left_out))
    return "\n\n".join([*head, marker, *tail])


def _marker(first: int, last: int, chars: int) -> str:
    count = last - first + 1
    which = f"turn {first}" if count == 1 else f"turns {first} to {last}"
    noun = "turn" if count == 1 else "turns"
    return f"[… {count} {noun} left out here ({which}, {chars:,} characters) to fit the budget …]"


def _size(blocks: list[str]) -> int:
    return sum(len(b) for b in blocks) + 2 * max(len(blocks) - 1, 0)


def _block(turn: Turn, field_chars: int) -> str:
    lines = [f"## Turn {turn.number}" + (f" ({_when(turn.start_ns)})" if turn.start_ns else "")]
    lines.append("User: " + (cut_middle(turn.said, field_chars) if turn.said else "(nothing)"))
    small = max(_MIN_FIELD_CHARS // 2, field_chars // 4)
    for tool in turn.tools[:MAX_TOOLS]:
        call = f"Tool call: {tool.name}({cut_middle(tool.arguments or '', small)})"
        if tool.error:
            call += f" failed: {cut_middle(tool.error, small)}"
        elif tool.result is not None:
            call += f" returned: {cut_middle(tool.result, small)}"
        lines.append(call)
    if len(turn.tools) > MAX_TOOLS:
        lines.append(f"({len(turn.tools) - MAX_TOOLS} more tool calls not shown)")
    lines.append(
        "Assistant: " + (cut_middle(turn.reply, field_chars) if turn.reply else "(no answer)")
    )
    if turn.error:
        lines.append("Error: " + cut_middle(turn.error, field_chars))
    return "\n".join(lines)


def _when(start_ns: int) -> str:
    return datetime.fromtimestamp(start_ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def cut_middle(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters: its beginning and end, with a marker between
    saying how many characters were left out."""
    if len(text) <= limit:
        return text
    marker_room = 48
    keep = max(limit - marker_room, 2)
    head, tail = keep - keep // 2, keep // 2
    left_out = len(text) - head - tail
    return f"{text[:head]} [… {left_out:,} characters left out …] {text[len(text) - tail :]}"
