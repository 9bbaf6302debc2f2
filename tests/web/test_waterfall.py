"""The session waterfall's layout (pages/waterfall.py): one axis for every trace, each
trace's spans in tree order under it, long idle stretches drawn narrow."""

from __future__ import annotations

from typing import Any

import pytest

from lamina.query.present import moment
from lamina.web.pages import waterfall

SECOND = 1_000_000_000
BASE = 1_767_225_600 * SECOND


def _span(trace: str, span: str, start: int, ms: int, parent: str | None = None) -> dict[str, Any]:
    end = start + ms * 1_000_000
    return {
        "trace_id": trace,
        "span_id": span,
        "parent_span_id": parent,
        "name": f"name-{span}",
        "span_type": "LLM" if parent else "DEFAULT",
        "start_ns": start,
        "end_ns": end,
        "status": "ok",
        "duration_ms": ms,
    }


def _session(*traces: tuple[str, int, int]) -> dict[str, Any]:
    return {
        "traces": [
            {
                "trace_id": trace,
                "name": f"turn-{trace}",
                "status": "ok",
                "start_time": moment(start),
                "end_time": moment(start + ms * 1_000_000),
            }
            for trace, start, ms in traces
        ]
    }


def test_a_long_idle_stretch_is_drawn_narrow() -> None:
    later = BASE + 600 * SECOND  # ten minutes on: the user was away
    session = _session(("a", BASE, 1000), ("b", later, 1000))
    outline = [
        _span("a", "a1", BASE, 1000),
        _span("a", "a2", BASE + SECOND // 10, 500, parent="a1"),
        _span("b", "b1", later, 1000),
    ]
    drawn = waterfall.build(session, outline)
    assert [lane.trace.trace_id for lane in drawn.lanes] == ["a", "b"]
    assert [(bar.span_id, bar.depth) for bar in drawn.lanes[0].spans] == [("a1", 0), ("a2", 1)]
    (gap,) = drawn.gaps
    assert gap.idle_ms == pytest.approx(599_000)
    # 1 s busy, the idle 599 s drawn as 4% of the 2 busy seconds, 1 s busy
    assert gap.width_pct == pytest.approx(100 * 0.08 / 2.08, abs=0.01)
    second = drawn.lanes[1].trace
    assert second.offset_pct == pytest.approx(100 * 1.08 / 2.08, abs=0.01)
    assert second.offset_pct + second.width_pct == pytest.approx(100, abs=0.01)
    first_child = drawn.lanes[0].spans[1]
    assert first_child.offset_pct == pytest.approx(100 * 0.1 / 2.08, abs=0.01)
    assert "var(--idle-band)" in drawn.idle_bands


def test_a_short_pause_keeps_its_length() -> None:
    session = _session(("a", BASE, 1000), ("b", BASE + 1500 * 1_000_000, 1000))
    outline = [_span("a", "a1", BASE, 1000), _span("b", "b1", BASE + 1500 * 1_000_000, 1000)]
    drawn = waterfall.build(session, outline)
    assert drawn.gaps == [] and drawn.idle_bands == "none"
    assert drawn.lanes[1].trace.offset_pct == pytest.approx(100 * 1.5 / 2.5)


def test_traces_past_the_spans_shown_are_left_out() -> None:
    session = _session(("a", BASE, 1000), ("b", BASE + SECOND, 1000))
    drawn = waterfall.build(session, [_span("a", "a1", BASE, 1000)])
    assert [lane.trace.trace_id for lane in drawn.lanes] == ["a"]
    assert drawn.spans_shown == 1
