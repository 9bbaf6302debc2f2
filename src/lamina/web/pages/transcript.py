"""A session read as a conversation: one turn per trace, with the idle time between.

Each turn takes what was said from its root span's input and the answer from
its root span's output (falling back to the first and last LLM call's
messages when the root recorded none). Tool spans become chips. A turn whose
trace was not loaded (past the page's limit) shows the list previews.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from lamina.spans import payload
from lamina.spans.preview import error_text
from lamina.store.base import Row
from lamina.web.pages import spans
from lamina.web.pages.render import display_preview

IDLE_GAP_MS = 60_000
MAX_CHIPS = 8


@dataclass(frozen=True, slots=True)
class Chip:
    name: str
    span_id: str
    duration_ms: float
    status: str


@dataclass(slots=True)
class Turn:
    trace: Row
    said: payload.Message | None = None
    reply: payload.Message | None = None
    tools: list[Chip] = field(default_factory=list)
    more_tools: int = 0
    problem: str | None = None
    gap_ms: float | None = None
    tree: list[spans.TreeRow] | None = None
    loaded: bool = False
    scores: list[Row] = field(default_factory=list)  # on its trace or spans, newest first


@dataclass(frozen=True, slots=True)
class Mark:
    """One trace on the session's compact timeline."""

    trace: Row
    offset_pct: float
    width_pct: float


def turns(session: Row, loaded: dict[str, Row]) -> list[Turn]:
    result: list[Turn] = []
    previous_end: datetime | None = None
    by_trace: dict[str, list[Row]] = {}
    for score in session.get("scores") or []:
        if score.get("trace_id"):
            by_trace.setdefault(score["trace_id"], []).append(score)
    for trace in session["traces"]:
        full = loaded.get(trace["trace_id"])
        turn = _turn(trace, full) if full is not None else _preview_turn(trace)
        turn.scores = by_trace.get(trace["trace_id"], [])
        if previous_end is not None and trace["start_time"] is not None:
            gap_ms = (trace["start_time"] - previous_end).total_seconds() * 1000
            if gap_ms >= IDLE_GAP_MS:
                turn.gap_ms = gap_ms
        if trace["end_time"] is not None and (
            previous_end is None or trace["end_time"] > previous_end
        ):
            previous_end = trace["end_time"]
        result.append(turn)
    return result


def _preview_turn(trace: Row) -> Turn:
    said = display_preview(trace.get("input_preview"))
    reply = display_preview(trace.get("output_preview"))
    return Turn(
        trace=trace,
        said=payload.Message("user", text=said) if said else None,
        reply=payload.Message("assistant", text=reply) if reply else None,
        problem="This turn ended in error." if trace["status"] == "error" else None,
    )


def full_turn(trace: Row, full: Row) -> Turn:
    """One turn from its whole trace (for the script that fills in lazy turns)."""
    turn = _turn(trace, full)
    turn.scores = list(full.get("scores") or [])
    return turn


def _turn(trace: Row, full: Row) -> Turn:
    all_spans: list[Row] = full["spans"]
    root = spans.root_span(all_spans)
    llm_calls = [s for s in all_spans if s["span_type"] == "LLM"]
    said = payload.said(payload.read_payload(root["input"])) if root else None
    if said is None and llm_calls:
        said = payload.said(payload.read_payload(llm_calls[0]["input"]))
    reply = payload.replied(payload.read_payload(root["output"])) if root else None
    failed = next((s for s in all_spans if s["status"] == "error"), None)
    if reply is None and llm_calls and failed is None:
        reply = payload.replied(payload.read_payload(llm_calls[-1]["output"]))
    tools = [
        Chip(s["name"], s["span_id"], s["duration_ms"], s["status"])
        for s in all_spans
        if s["span_type"] == "TOOL"
    ]
    problem = error_text(failed["events"], failed["status_message"]) if failed else None
    return Turn(
        trace=trace,
        said=said,
        reply=reply,
        tools=tools[:MAX_CHIPS],
        more_tools=max(0, len(tools) - MAX_CHIPS),
        problem=problem,
        tree=spans.tree_rows(all_spans),
        loaded=True,
    )


def timeline(session: Row) -> list[Mark]:
    traces: list[Row] = session["traces"]
    start, end = session["start_time"], session["end_time"]
    if not traces or start is None or end is None:
        return []
    total = max((end - start).total_seconds(), 1e-6)
    marks = []
    for trace in traces:
        offset = (trace["start_time"] - start).total_seconds()
        marks.append(
            Mark(
                trace=trace,
                offset_pct=round(100 * offset / total, 3),
                width_pct=round(100 * (trace["duration_ms"] or 0) / 1000 / total, 3),
            )
        )
    return marks
