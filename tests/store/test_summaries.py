"""Spans of a trace may arrive in any order, across many requests: summaries end the same.

Real exporters send child spans first (they end first) and a long trace's root last,
often in a later batch; retries and several processes shuffle them further. Each test
sends the same traces twice, once in order in one request and once shuffled across
several requests, and compares everything the API says about them.
"""

from __future__ import annotations

import concurrent.futures
import random
import time
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from tests.conftest import LaminaServer
from tests.support import otlp
from tests.support.otlp import MS

pytestmark = pytest.mark.both_stores  # tests/conftest.py

Span = Any


def _agent_trace(session_id: str, start: int, turn: int) -> list[Span]:
    """A root, an LLM call, a tool call that fails, a second LLM call, a nested span."""
    trace = otlp.new_trace_id()
    root = otlp.span(
        trace,
        f"agent-turn-{turn}",
        start_ns=start,
        duration_ms=900,
        attributes={
            "session.id": session_id,
            "user.id": f"user-{turn % 2}",
            "input.value": f'{{"question": "q{turn}"}}',
            "output.value": f"final answer {turn}",
            "tag.tags": ["agent", f"turn-{turn}"],
            "metadata": f'{{"env": "prod", "turn": "{turn}"}}',
        },
    )
    plan = otlp.span(
        trace,
        "plan",
        parent=root.span_id,
        start_ns=start + 10 * MS,
        duration_ms=200,
        attributes={
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 700 + turn,
            "gen_ai.usage.output_tokens": 40,
            "gen_ai.usage.cost": 0.00123,
            "input.value": "child input that must not be the trace's",
            "output.value": "child output that must not be the trace's",
            "tag.tags": ["llm"],
        },
    )
    tool = otlp.span(
        trace,
        "search",
        parent=root.span_id,
        start_ns=start + 250 * MS,
        duration_ms=100,
        attributes={"lamina.span.type": "TOOL", "input.value": "query"},
        error="timeout",
    )
    inner = otlp.span(
        trace,
        "http.get",
        parent=tool.span_id,
        start_ns=start + 260 * MS,
        duration_ms=80,
        attributes={"http.url": "https://example.com"},
    )
    answer = otlp.span(
        trace,
        "answer",
        parent=root.span_id,
        start_ns=start + 400 * MS,
        duration_ms=450,
        attributes={
            "gen_ai.system": "anthropic",
            "gen_ai.request.model": "claude-sonnet-4-5",
            "gen_ai.usage.input_tokens": 1500,
            "gen_ai.usage.output_tokens": 300 + turn,
            "gen_ai.usage.cost": 0.0456,
        },
    )
    return [root, plan, tool, inner, answer]


def _session(session_id: str, start: int) -> list[list[Span]]:
    return [_agent_trace(session_id, start + turn * 5_000 * MS, turn) for turn in range(3)]


def _send(server: LaminaServer, spans: list[Span]) -> None:
    response = otlp.post(server.url, server.api_key, otlp.export(spans))
    assert response.status_code == 200, response.text


def _normalise(session: dict[str, Any]) -> dict[str, Any]:
    """A session as the API gives it, with the ids that differ between the copies removed."""
    out = {k: v for k, v in session.items() if k not in ("session_id", "traces")}
    out["cost"] = pytest.approx(out["cost"], rel=1e-12)
    out["traces"] = []
    for trace in session["traces"]:
        fields = {k: v for k, v in trace.items() if k not in ("trace_id", "session_id")}
        fields["cost"] = pytest.approx(fields["cost"], rel=1e-12)
        out["traces"].append(fields)
    return out


def _trace_detail(server: LaminaServer, trace_id: str) -> dict[str, Any]:
    trace = otlp.api(server, f"/api/v1/traces/{trace_id}")
    spans = sorted(
        (
            {k: v for k, v in span.items() if k not in ("span_id", "parent_span_id", "session_id")}
            for span in trace["spans"]
        ),
        key=lambda span: span["start_time"],
    )
    for span in spans:
        span["attributes"].pop("session.id", None)
    fields = {k: v for k, v in trace.items() if k not in ("trace_id", "session_id", "spans")}
    fields["cost"] = pytest.approx(fields["cost"], rel=1e-12)
    return {**fields, "spans": spans}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_shuffled_spans_give_the_same_summaries_as_in_order(
    server: LaminaServer, seed: int
) -> None:
    start = time.time_ns() - 60_000 * MS
    ordered_id, shuffled_id = otlp.uid("ordered"), otlp.uid("shuffled")
    ordered = _session(ordered_id, start)
    shuffled = _session(shuffled_id, start)

    _send(server, [span for trace in ordered for span in trace])
    rng = random.Random(seed)
    pieces = [span for trace in shuffled for span in trace]
    rng.shuffle(pieces)
    # the roots come last, in their own request, as a real exporter sends long traces
    roots = [trace[0] for trace in shuffled]
    pieces = [span for span in pieces if span not in roots]
    cuts = sorted(rng.sample(range(1, len(pieces)), 3))
    for begin, end in zip([0, *cuts], [*cuts, len(pieces)], strict=True):
        _send(server, pieces[begin:end])
    # before the roots arrive, the traces exist already, named after their earliest span
    for trace in shuffled:
        early = otlp.api(server, f"/api/v1/traces/{trace[0].trace_id.hex()}")
        assert (early["span_count"], early["name"]) == (4, "plan")
    _send(server, roots)

    expected = otlp.api(server, f"/api/v1/sessions/{ordered_id}")
    got = otlp.api(server, f"/api/v1/sessions/{shuffled_id}")
    assert _normalise(got) == _normalise(expected)
    # and what the sessions were built from is right, not merely equal
    assert [t["name"] for t in got["traces"]] == ["agent-turn-0", "agent-turn-1", "agent-turn-2"]
    assert [t["input_preview"] for t in got["traces"]] == ["q0", "q1", "q2"]
    assert got["last_output"] == "final answer 2"
    assert got["first_input"] == "q0"
    assert got["trace_count"] == 3 and got["span_count"] == 15
    assert got["input_tokens"] == 3 * 2200 + 3 and got["output_tokens"] == 3 * 340 + 3
    assert got["cost"] == pytest.approx(3 * (0.00123 + 0.0456))
    assert got["error_count"] == 3
    assert got["user_ids"] == ["user-0", "user-1"]
    first = got["traces"][0]
    assert first["tags"] == ["agent", "llm", "turn-0"]
    assert first["metadata"] == {"env": "prod", "turn": "0"}
    assert first["status"] == "error"
    assert first["user_id"] == "user-0"
    assert first["duration_ms"] == pytest.approx(900)

    for ordered_trace, shuffled_trace in zip(expected["traces"], got["traces"], strict=True):
        assert _trace_detail(server, shuffled_trace["trace_id"]) == _trace_detail(
            server, ordered_trace["trace_id"]
        )


def test_pieces_of_one_trace_sent_at_once_over_both_transports(server: LaminaServer) -> None:
    """Concurrent requests land in one group commit: their spans of the same traces are
    merged within one write as well as across writes."""
    start = time.time_ns() - 60_000 * MS
    ordered_id, concurrent_id = otlp.uid("ordered"), otlp.uid("concurrent")
    _send(server, [span for trace in _session(ordered_id, start) for span in trace])
    pieces = [span for trace in _session(concurrent_id, start) for span in trace]
    random.Random(7).shuffle(pieces)
    batches = [pieces[n::6] for n in range(6)]

    def send(n: int) -> None:
        if n % 2:
            _send(server, batches[n])
            return
        with grpc.insecure_channel(server.grpc_target) as channel:
            trace_service_pb2_grpc.TraceServiceStub(channel).Export(  # type: ignore[no-untyped-call]
                otlp.export(batches[n]),
                metadata=[("authorization", f"Bearer {server.api_key}")],
                timeout=30,
            )

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        list(pool.map(send, range(6)))
    expected = otlp.api(server, f"/api/v1/sessions/{ordered_id}")
    got = otlp.api(server, f"/api/v1/sessions/{concurrent_id}")
    assert _normalise(got) == _normalise(expected)
    assert got["span_count"] == 15


def test_session_set_only_on_a_late_child_span(server: LaminaServer) -> None:
    """The session comes from whichever span carries it, whenever it arrives."""
    session_id = otlp.uid("late-child")
    trace = otlp.new_trace_id()
    start = time.time_ns()
    root = otlp.span(trace, "root", start_ns=start, attributes={"input.value": "hi"})
    child = otlp.span(
        trace,
        "child",
        parent=root.span_id,
        start_ns=start + MS,
        attributes={"session.id": session_id, "user.id": "late-user"},
    )
    _send(server, [root])
    assert otlp.api(server, f"/api/v1/traces/{trace.hex()}")["session_id"] is None
    _send(server, [child])
    session = otlp.api(server, f"/api/v1/sessions/{session_id}")
    assert [t["trace_id"] for t in session["traces"]] == [trace.hex()]
    assert session["user_ids"] == ["late-user"]
    assert session["first_input"] == "hi"
    assert session["traces"][0]["name"] == "root"


def test_conflicting_metadata_is_resolved_the_same_in_any_order(server: LaminaServer) -> None:
    """OpenInference (LangChain, LangGraph) write a per-span `metadata` whose values differ
    between spans of one trace, e.g. langgraph_step. The trace's value must not depend on
    which span happened to arrive first."""
    start = time.time_ns()
    results = []
    for order in ("root-first", "root-last"):
        trace = otlp.new_trace_id()
        root = otlp.span(
            trace, "graph", start_ns=start, attributes={"metadata": '{"langgraph_step": "0"}'}
        )
        step = otlp.span(
            trace,
            "node",
            parent=root.span_id,
            start_ns=start + MS,
            attributes={"metadata": '{"langgraph_step": "3"}'},
        )
        batches = [[root], [step]] if order == "root-first" else [[step], [root]]
        for batch in batches:
            _send(server, batch)
        results.append(otlp.api(server, f"/api/v1/traces/{trace.hex()}")["metadata"])
    assert results[0] == results[1]
