"""The JSON API v1 as ARCHITECTURE.md and docs/api.md define it.

A data set of ten sessions with known values is sent through OTLP into a project of its
own on the shared server; every expectation is computed here, from that data set, by the
rules the docs state (an oracle), and compared to what the API answers.
"""

from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from tests.conftest import LaminaServer
from tests.support import otlp
from tests.support.otlp import MS

pytestmark = pytest.mark.both_stores  # tests/conftest.py

BASE_NS = 1_767_225_600 * 1_000_000_000  # 2026-01-01T00:00:00Z
SECOND = 1_000_000_000
IDLE_NS = 30 * 60 * SECOND
TRACE_COUNTS = [1, 2, 3, 1, 2, 3, 1, 2, 3, 2]
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")


@dataclass
class TraceSpec:
    trace_id: str
    session: int
    turn: int
    start_ns: int
    end_ns: int
    span_count: int
    input_tokens: int | None
    output_tokens: int | None
    cost: float | None
    user_id: str
    error: bool
    tags: list[str]
    metadata: dict[str, str]
    name: str
    input: str
    output: str
    spans: list[Any] = field(default_factory=list)

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6

    @property
    def total_tokens(self) -> int | None:
        if self.input_tokens is None and self.output_tokens is None:
            return None
        return (self.input_tokens or 0) + (self.output_tokens or 0)


def _build(i: int, j: int, session_id: str) -> TraceSpec:
    start = BASE_NS + ((i * 7) % 10) * 300 * SECOND + j * 600 * SECOND + (i * 1000 + j) * 1000
    duration = (100 * (i + 1) + 10 * j) * MS
    has_llm = i % 4 != 0
    spec = TraceSpec(
        trace_id="",
        session=i,
        turn=j,
        start_ns=start,
        end_ns=start + duration,
        span_count=1 + int(has_llm) + int(j % 2 == 1),
        input_tokens=100 * (i % 4) if has_llm else None,
        output_tokens=10 * (i % 4) if has_llm else None,
        cost=0.25 * (i % 3) if has_llm else None,
        user_id=f"user-{(i + j) % 3}" if i == 9 else f"user-{i % 3}",
        error=i % 4 == 1 and j == 0,
        tags=sorted({"even" if i % 2 == 0 else "odd", *(["multi"] if j == 1 else [])}),
        metadata={"tier": "gold" if i < 5 else "free"},
        name="checkout" if i in (2, 5) else "turn",
        input="save 100% now" if (i, j) == (3, 0) else f"question {i}.{j}",
        output=f"answer {i}.{j}",
    )
    trace = otlp.new_trace_id()
    spec.trace_id = trace.hex()
    root = otlp.span(
        trace,
        spec.name,
        start_ns=start,
        duration_ms=duration / MS,
        attributes={
            "session.id": session_id,
            "user.id": spec.user_id,
            "input.value": spec.input,
            "output.value": spec.output,
            "tag.tags": spec.tags,
            "metadata": orjson.dumps(spec.metadata).decode(),
        },
        error="failed" if spec.error else None,
    )
    spec.spans.append(root)
    if has_llm:
        spec.spans.append(
            otlp.span(
                trace,
                "llm",
                parent=root.span_id,
                start_ns=start + MS,
                duration_ms=duration / MS / 2,
                attributes={
                    "gen_ai.system": "openai",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.usage.input_tokens": spec.input_tokens,
                    "gen_ai.usage.output_tokens": spec.output_tokens,
                    "gen_ai.usage.cost": spec.cost,
                },
            )
        )
    if j % 2 == 1:
        spec.spans.append(
            otlp.span(
                trace,
                "tool",
                parent=root.span_id,
                start_ns=start + 2 * MS,
                duration_ms=duration / MS - 3,
                attributes={
                    "lamina.span.type": "TOOL",
                    "input.value": "tool input",
                    "output.value": f"found Needle-Pin {i}" if i == 7 else f"tool output {i}",
                },
            )
        )
    return spec


@dataclass
class DataSet:
    key: str
    project: str
    session_ids: list[str]
    traces: list[TraceSpec]

    def session_traces(self, i: int) -> list[TraceSpec]:
        return sorted(
            (t for t in self.traces if t.session == i), key=lambda t: (t.start_ns, t.trace_id)
        )

    def raw_session(self, i: int) -> dict[str, Any]:
        """The session's fields by the documented rules, as exact numbers."""
        traces = self.session_traces(i)
        ins = [t.input_tokens for t in traces if t.input_tokens is not None]
        outs = [t.output_tokens for t in traces if t.output_tokens is not None]
        costs = [t.cost for t in traces if t.cost is not None]
        start = min(t.start_ns for t in traces)
        end = max(t.end_ns for t in traces)
        return {
            "session_id": self.session_ids[i],
            "trace_count": len(traces),
            "span_count": sum(t.span_count for t in traces),
            "start_time": _iso(start),
            "end_time": _iso(end),
            "duration_ms": (end - start) / 1e6,
            "active_duration_ms": sum(t.duration_ms for t in traces),
            "input_tokens": sum(ins) if ins else None,
            "output_tokens": sum(outs) if outs else None,
            "total_tokens": sum(ins) + sum(outs) if ins or outs else None,
            "cost": sum(costs) if costs else None,
            "user_ids": sorted({t.user_id for t in traces}),
            "error_count": sum(t.error for t in traces),
            "first_input": traces[0].input,
            "last_output": max(traces, key=lambda t: t.end_ns).output,
            # the data set is of 2026-01-01: every session ended the project's idle
            # timeout (30 minutes by default) after its last span
            "status": "ended",
            "ended_at": _iso(end + IDLE_NS),
            "score_summary": {},
        }

    def expected_session(self, i: int) -> dict[str, Any]:
        """The same, compared loosely where floating point is involved."""
        out = self.raw_session(i)
        for name in ("duration_ms", "active_duration_ms", "cost"):
            if out[name] is not None:
                out[name] = pytest.approx(out[name])
        return out

    def expected_trace(self, t: TraceSpec) -> dict[str, Any]:
        return {
            "trace_id": t.trace_id,
            "session_id": self.session_ids[t.session],
            "user_id": t.user_id,
            "name": t.name,
            "start_time": _iso(t.start_ns),
            "end_time": _iso(t.end_ns),
            "duration_ms": pytest.approx(t.duration_ms),
            "status": "error" if t.error else "ok",
            "span_count": t.span_count,
            "input_tokens": t.input_tokens,
            "output_tokens": t.output_tokens,
            "total_tokens": t.total_tokens,
            "cost": pytest.approx(t.cost) if t.cost is not None else None,
            "tags": t.tags,
            "metadata": t.metadata,
            "input_preview": t.input,
            "output_preview": t.output,
            "score_summary": {},
        }


def _iso(ns: int) -> str:
    moment = datetime.fromtimestamp(ns // SECOND, tz=UTC).replace(microsecond=(ns // 1000) % 10**6)
    return moment.isoformat().replace("+00:00", "Z")


def _parse_iso(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(moment.timestamp()) * SECOND + moment.microsecond * 1000


@pytest.fixture(scope="module")
def data(server: LaminaServer) -> DataSet:
    project, key = otlp.new_project(server, "api")
    session_ids = [f"{project}-s{i}" for i in range(10)]
    traces = [_build(i, j, session_ids[i]) for i in range(10) for j in range(TRACE_COUNTS[i])]
    spans = [span for trace in traces for span in trace.spans]
    for begin in range(0, len(spans), 20):  # several requests
        response = otlp.post(server.url, key, otlp.export(spans[begin : begin + 20]))
        assert response.status_code == 200, response.text
    return DataSet(key, project, session_ids, traces)


def _get(server: LaminaServer, data: DataSet, path: str, **params: Any) -> Any:
    return otlp.api(server, path, key=data.key, **params)


def _all_pages(
    server: LaminaServer, data: DataSet, path: str, limit: int, **params: Any
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        page = _get(
            server, data, path, limit=limit, **params, **({"cursor": cursor} if cursor else {})
        )
        totals = {"total", "total_exact"} if path.endswith("/sessions") else set()
        assert set(page) == {"items", "next_cursor", *totals}
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert isinstance(cursor, str) and page["items"]
    raise AssertionError("pagination never ended")


# -- fields and types ----------------------------------------------------------------------


def test_session_list_fields_and_values(server: LaminaServer, data: DataSet) -> None:
    page = _get(server, data, "/api/v1/sessions", limit=500)
    assert page["next_cursor"] is None
    by_id = {item["session_id"]: item for item in page["items"]}
    assert set(by_id) == set(data.session_ids)
    for i, session_id in enumerate(data.session_ids):
        got = by_id[session_id]
        assert got == data.expected_session(i), session_id
        _check_session_types(got)


def _check_session_types(got: dict[str, Any]) -> None:
    ints = ("trace_count", "span_count", "error_count")
    assert all(type(got[name]) is int for name in ints)
    for name in ("input_tokens", "output_tokens", "total_tokens"):
        assert got[name] is None or type(got[name]) is int
    assert got["cost"] is None or isinstance(got["cost"], float)
    assert all(isinstance(got[name], int | float) for name in ("duration_ms", "active_duration_ms"))
    assert ISO.match(got["start_time"]) and ISO.match(got["end_time"])
    assert isinstance(got["user_ids"], list) and all(isinstance(u, str) for u in got["user_ids"])
    assert all(isinstance(got[name], str) for name in ("first_input", "last_output"))


def test_one_session_has_its_traces_in_time_order(server: LaminaServer, data: DataSet) -> None:
    for i in (0, 5, 9):
        got = _get(server, data, f"/api/v1/sessions/{data.session_ids[i]}")
        traces = got.pop("traces")
        assert got.pop("scores") == []
        assert got == data.expected_session(i)
        assert traces == [data.expected_trace(t) for t in data.session_traces(i)]
        for trace in traces:
            _check_trace_types(trace)


def _check_trace_types(got: dict[str, Any]) -> None:
    assert re.fullmatch(r"[0-9a-f]{32}", got["trace_id"])
    assert ISO.match(got["start_time"]) and ISO.match(got["end_time"])
    assert type(got["span_count"]) is int
    assert got["status"] in ("ok", "error")
    assert isinstance(got["tags"], list) and isinstance(got["metadata"], dict)
    assert isinstance(got["duration_ms"], int | float)


def test_trace_list_fields_and_values(server: LaminaServer, data: DataSet) -> None:
    items = _get(server, data, "/api/v1/traces", limit=500)["items"]
    assert len(items) == len(data.traces)
    by_id = {item["trace_id"]: item for item in items}
    for spec in data.traces:
        assert by_id[spec.trace_id] == data.expected_trace(spec)
        _check_trace_types(by_id[spec.trace_id])


def test_one_trace_has_every_span_field(server: LaminaServer, data: DataSet) -> None:
    spec = next(t for t in data.traces if t.session == 7 and t.turn == 1)
    got = _get(server, data, f"/api/v1/traces/{spec.trace_id}")
    spans = got.pop("spans")
    assert got.pop("scores") == []
    assert got == data.expected_trace(spec)
    assert [span["name"] for span in spans] == ["turn", "llm", "tool"]  # start order
    fields = {
        "span_id": str,
        "parent_span_id": (str, type(None)),
        "name": str,
        "span_type": str,
        "start_time": str,
        "end_time": str,
        "duration_ms": (int, float),
        "status": str,
        "status_message": str,
        "input": (str, type(None)),
        "output": (str, type(None)),
        "attributes": dict,
        "events": list,
        "model": (str, type(None)),
        "provider": (str, type(None)),
        "input_tokens": (int, type(None)),
        "output_tokens": (int, type(None)),
        "cost": (float, type(None)),
    }
    for span in spans:
        for name, kind in fields.items():
            assert name in span, name
            assert isinstance(span[name], kind), (name, span[name])
        assert re.fullmatch(r"[0-9a-f]{16}", span["span_id"])
        assert ISO.match(span["start_time"])
    root, llm, tool = spans
    assert root["parent_span_id"] is None
    assert llm["parent_span_id"] == tool["parent_span_id"] == root["span_id"]
    assert root["span_id"] == spec.spans[0].span_id.hex()
    assert (root["input"], root["output"]) == (spec.input, spec.output)
    assert root["attributes"]["user.id"] == spec.user_id
    assert "input.value" not in root["attributes"]  # moved into input, not stored twice
    assert root["status"] == "ok" and root["span_type"] == "DEFAULT"
    assert (llm["span_type"], llm["model"], llm["provider"]) == ("LLM", "gpt-4o-mini", "openai")
    assert (llm["input_tokens"], llm["output_tokens"]) == (300, 30)
    assert llm["cost"] == pytest.approx(0.25)
    assert (tool["span_type"], tool["output"]) == ("TOOL", "found Needle-Pin 7")
    assert _parse_iso(tool["start_time"]) == spec.start_ns + 2 * MS
    assert tool["duration_ms"] == pytest.approx(spec.duration_ms - 3)


def test_values_never_reported_are_null_not_zero(server: LaminaServer, data: DataSet) -> None:
    got = _get(server, data, f"/api/v1/sessions/{data.session_ids[4]}")  # no LLM spans
    assert got["input_tokens"] is None and got["total_tokens"] is None and got["cost"] is None
    assert all(t["cost"] is None and t["total_tokens"] is None for t in got["traces"])


def test_trace_ids_are_case_insensitive(server: LaminaServer, data: DataSet) -> None:
    spec = data.traces[0]
    got = _get(server, data, f"/api/v1/traces/{spec.trace_id.upper()}")
    assert got["trace_id"] == spec.trace_id


# -- sorting and pagination ------------------------------------------------------------------

SESSION_SORTS = {
    "start_time": lambda s: _parse_iso(s["start_time"]),
    "end_time": lambda s: _parse_iso(s["end_time"]),
    "duration_ms": lambda s: s["duration_ms"],
    "active_duration_ms": lambda s: s["active_duration_ms"],
    "trace_count": lambda s: s["trace_count"],
    "span_count": lambda s: s["span_count"],
    "total_tokens": lambda s: s["total_tokens"] or 0,
    "cost": lambda s: s["cost"] or 0,
    "error_count": lambda s: s["error_count"],
    "session_id": lambda s: s["session_id"],
    "user_id": lambda s: s["user_ids"][0] if s["user_ids"] else "",
}
TRACE_SORTS = {
    "start_time": lambda t: t.start_ns,
    "end_time": lambda t: t.end_ns,
    "duration_ms": lambda t: t.end_ns - t.start_ns,
    "span_count": lambda t: t.span_count,
    "total_tokens": lambda t: t.total_tokens or 0,
    "cost": lambda t: t.cost or 0,
    "name": lambda t: t.name,
    "user_id": lambda t: t.user_id,
}


@pytest.mark.parametrize("order", ["desc", "asc"])
@pytest.mark.parametrize("sort", list(SESSION_SORTS))
def test_sessions_sort_and_paginate_without_gaps_or_repeats(
    server: LaminaServer, data: DataSet, sort: str, order: str
) -> None:
    oracle = [data.raw_session(i) for i in range(10)]
    key = SESSION_SORTS[sort]
    expected = [
        row["session_id"]
        for row in sorted(oracle, key=lambda r: (key(r), r["session_id"]), reverse=order == "desc")
    ]
    pages = _all_pages(server, data, "/api/v1/sessions", 3, sort=sort, order=order)
    assert [item["session_id"] for item in pages] == expected


@pytest.mark.parametrize("order", ["desc", "asc"])
@pytest.mark.parametrize("sort", list(TRACE_SORTS))
def test_traces_sort_and_paginate_without_gaps_or_repeats(
    server: LaminaServer, data: DataSet, sort: str, order: str
) -> None:
    key = TRACE_SORTS[sort]
    expected = [
        t.trace_id
        for t in sorted(data.traces, key=lambda t: (key(t), t.trace_id), reverse=order == "desc")
    ]
    pages = _all_pages(server, data, "/api/v1/traces", 4, sort=sort, order=order)
    assert [item["trace_id"] for item in pages] == expected


def test_default_order_is_newest_first(server: LaminaServer, data: DataSet) -> None:
    sessions = _get(server, data, "/api/v1/sessions")["items"]
    starts = [_parse_iso(s["start_time"]) for s in sessions]
    assert starts == sorted(starts, reverse=True)
    traces = _get(server, data, "/api/v1/traces")["items"]
    starts = [_parse_iso(t["start_time"]) for t in traces]
    assert starts == sorted(starts, reverse=True)


def test_limit_caps_a_page(server: LaminaServer, data: DataSet) -> None:
    page = _get(server, data, "/api/v1/traces", limit=1)
    assert len(page["items"]) == 1 and page["next_cursor"]
    page = _get(server, data, "/api/v1/traces", limit=500)
    assert len(page["items"]) == len(data.traces) and page["next_cursor"] is None
    exact = _get(server, data, "/api/v1/sessions", limit=10)
    assert len(exact["items"]) == 10 and exact["next_cursor"] is None


def test_pages_do_not_shift_when_new_sessions_arrive(server: LaminaServer, data: DataSet) -> None:
    """New (newer) sessions arriving between pages neither repeat nor skip an item."""
    project, key = otlp.new_project(server, "moving")
    start = time.time_ns() - 3600 * SECOND
    first = [
        otlp.conversation_turn(f"{project}-{n}", 0, start_ns=start + n * SECOND) for n in range(6)
    ]
    otlp.post(server.url, key, otlp.export([s for spans in first for s in spans]))
    seen: list[str] = []
    cursor = None
    for round_ in range(10):
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = otlp.api(server, "/api/v1/sessions", key=key, **params)
        seen += [item["session_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
        newer = otlp.conversation_turn(f"{project}-new{round_}", 0, start_ns=time.time_ns())
        assert otlp.post(server.url, key, otlp.export(newer)).status_code == 200
    assert seen == [f"{project}-{n}" for n in reversed(range(6))]


# -- filters ---------------------------------------------------------------------------------


def _session_ids(server: LaminaServer, data: DataSet, **params: Any) -> list[int]:
    items = _get(server, data, "/api/v1/sessions", limit=500, **params)["items"]
    return sorted(data.session_ids.index(item["session_id"]) for item in items)


def _trace_set(server: LaminaServer, data: DataSet, **params: Any) -> set[str]:
    items = _all_pages(server, data, "/api/v1/traces", 500, **params)
    return {item["trace_id"] for item in items}


def _traces_where(data: DataSet, predicate: Any) -> set[str]:
    return {t.trace_id for t in data.traces if predicate(t)}


def test_session_filters(server: LaminaServer, data: DataSet) -> None:
    assert _session_ids(server, data, user_id="user-1") == [1, 4, 7, 9]
    assert _session_ids(server, data, user_id="user-0") == [0, 3, 6, 9]
    assert _session_ids(server, data, user_id="nobody") == []
    assert _session_ids(server, data, min_traces="3") == [2, 5, 8]
    assert _session_ids(server, data, min_traces="2") == [1, 2, 4, 5, 7, 8, 9]
    assert _session_ids(server, data, min_traces="0") == list(range(10))
    # q: case-insensitive over every span's input and output, not only the root's
    assert _session_ids(server, data, q="needle-pin") == [7]
    assert _session_ids(server, data, q="ANSWER 8.2") == [8]
    assert _session_ids(server, data, q="question 5.") == [5]
    # q is text, not a pattern: % and _ match themselves
    assert _session_ids(server, data, q="0%") == [3]
    assert _session_ids(server, data, q="question_1") == []


def _sessions_where(data: DataSet, predicate: Any) -> list[int]:
    return [i for i in range(10) if predicate(data.raw_session(i))]


def test_session_filters_by_id_cost_duration_errors_tags_and_metadata(
    server: LaminaServer, data: DataSet
) -> None:
    """#23: the Sessions tab's filters, each against the oracle."""
    ids = data.session_ids
    assert _session_ids(server, data, session_id_prefix=ids[1]) == [1]
    assert _session_ids(server, data, session_id_prefix=ids[1][:-1]) == list(range(10))
    assert _session_ids(server, data, session_id_prefix=ids[1].upper()) == []
    # a search finds a session by the start of its id or of a user's id, in any case
    assert _session_ids(server, data, q=ids[3].upper()) == [3]
    assert _session_ids(server, data, q="USER-2") == _sessions_where(
        data, lambda s: "user-2" in s["user_ids"]
    )
    assert _session_ids(server, data, has_errors="true") == [1, 5, 9]
    assert _session_ids(server, data, has_errors="false") == [0, 2, 3, 4, 6, 7, 8]
    assert _session_ids(server, data, min_cost="0.5") == _sessions_where(
        data, lambda s: (s["cost"] or 0) >= 0.5
    )
    assert _session_ids(server, data, max_cost="0.25") == _sessions_where(
        data, lambda s: (s["cost"] or 0) <= 0.25
    )
    middle = sorted(data.raw_session(i)["duration_ms"] for i in range(10))[5]
    assert _session_ids(server, data, min_duration_ms=str(middle)) == _sessions_where(
        data, lambda s: s["duration_ms"] >= middle
    )
    assert _session_ids(server, data, max_duration_ms=str(middle)) == _sessions_where(
        data, lambda s: s["duration_ms"] <= middle
    )
    assert _session_ids(server, data, tag="multi") == _sessions_where(
        data, lambda s: s["trace_count"] >= 2
    )
    assert _session_ids(server, data, tag="odd", metadata="tier=gold") == [1, 3]
    assert _session_ids(server, data, tag="odd", metadata="tier=gold", has_errors="true") == [1]

    def with_pairs(params: list[tuple[str, str]]) -> list[int]:
        response = otlp.client().get(
            server.url + "/api/v1/sessions",
            params=[*params, ("limit", "500")],
            headers={"Authorization": f"Bearer {data.key}"},
        )
        assert response.status_code == 200, response.text
        return sorted(ids.index(item["session_id"]) for item in response.json()["items"])

    assert with_pairs([("metadata", "tier=gold"), ("metadata", "tier=free")]) == []
    assert with_pairs([("metadata", "tier=free"), ("tag", "even")]) == [6, 8]


def test_the_session_list_says_how_many_match(server: LaminaServer, data: DataSet) -> None:
    """The total for the filters, on every page; a search's, only while it is cheap."""
    first = _get(server, data, "/api/v1/sessions", limit=3)
    assert (first["total"], first["total_exact"]) == (10, True)
    later = _get(server, data, "/api/v1/sessions", limit=3, cursor=first["next_cursor"])
    assert (len(later["items"]), later["total"], later["total_exact"]) == (3, 10, True)
    tagged = _get(server, data, "/api/v1/sessions", limit=2, tag="multi", sort="cost")
    expected = len(_sessions_where(data, lambda s: s["trace_count"] >= 2))
    assert (tagged["total"], tagged["total_exact"]) == (expected, True)
    none = _get(server, data, "/api/v1/sessions", tag="nope")
    assert (none["items"], none["total"], none["total_exact"]) == ([], 0, True)
    # a search is not counted past its first page: "more than" that page
    found = _get(server, data, "/api/v1/sessions", limit=3, q="question")
    assert (found["total"], found["total_exact"]) == (3, False)
    beyond = _get(
        server, data, "/api/v1/sessions", limit=3, q="question", cursor=found["next_cursor"]
    )
    assert (beyond["total"], beyond["total_exact"]) == (None, False)
    whole = _get(server, data, "/api/v1/sessions", q="needle-pin")
    assert (whole["total"], whole["total_exact"]) == (1, True)


def test_another_projects_key_finds_none_of_these_sessions(
    server: LaminaServer, data: DataSet
) -> None:
    _, other = otlp.new_project(server, "other")
    for params in (
        {"session_id_prefix": data.session_ids[0]},
        {"q": data.session_ids[0]},
        {"tag": "odd", "metadata": "tier=gold"},
        {"has_errors": "true", "min_cost": "0"},
    ):
        page = otlp.api(server, "/api/v1/sessions", key=other, **params)
        assert (page["items"], page["total"]) == ([], 0), params


def test_session_time_filters(server: LaminaServer, data: DataSet) -> None:
    sessions = [data.expected_session(i) for i in range(10)]
    moment = _parse_iso(sessions[4]["start_time"]) + SECOND
    since = _iso(moment)
    expected = [i for i, s in enumerate(sessions) if _parse_iso(s["end_time"]) >= moment]
    assert _session_ids(server, data, since=since) == expected
    expected = [i for i, s in enumerate(sessions) if _parse_iso(s["start_time"]) < moment]
    assert _session_ids(server, data, until=since) == expected
    assert 0 < len(expected) < 10
    # a time without a zone is UTC; another zone is converted
    assert _session_ids(server, data, until=since.rstrip("Z")) == expected
    local = datetime.fromisoformat(since.replace("Z", "+00:00")).astimezone(
        datetime.now().astimezone().tzinfo
    )
    assert _session_ids(server, data, until=local.isoformat()) == expected
    assert _session_ids(server, data, since="2030-01-01T00:00:00Z") == []
    assert _session_ids(server, data, until="2020-01-01T00:00:00Z") == []


def test_trace_filters(server: LaminaServer, data: DataSet) -> None:
    s5 = data.session_ids[5]
    assert _trace_set(server, data, session_id=s5) == _traces_where(data, lambda t: t.session == 5)
    assert _trace_set(server, data, user_id="user-2") == _traces_where(
        data, lambda t: t.user_id == "user-2"
    )
    assert _trace_set(server, data, name="checkout") == _traces_where(
        data, lambda t: t.name == "checkout"
    )
    assert _trace_set(server, data, status="error") == _traces_where(data, lambda t: t.error)
    assert _trace_set(server, data, status="ok") == _traces_where(data, lambda t: not t.error)
    assert _trace_set(server, data, tag="multi") == _traces_where(data, lambda t: t.turn == 1)
    assert _trace_set(server, data, tag="odd") == _traces_where(data, lambda t: t.session % 2)
    assert _trace_set(server, data, tag="nope") == set()
    assert _trace_set(server, data, metadata="tier=gold") == _traces_where(
        data, lambda t: t.session < 5
    )
    assert _trace_set(server, data, q="needle-PIN") == _traces_where(
        data, lambda t: t.session == 7 and t.turn == 1
    )
    assert _trace_set(server, data, q="0%") == _traces_where(
        data, lambda t: (t.session, t.turn) == (3, 0)
    )
    # filters combine
    assert _trace_set(server, data, session_id=s5, tag="multi") == _traces_where(
        data, lambda t: t.session == 5 and t.turn == 1
    )


def test_several_metadata_filters_must_all_match(server: LaminaServer, data: DataSet) -> None:
    def traces(params: list[tuple[str, str]]) -> set[str]:
        response = otlp.client().get(
            server.url + "/api/v1/traces",
            params=[*params, ("limit", "500")],
            headers={"Authorization": f"Bearer {data.key}"},
        )
        assert response.status_code == 200, response.text
        return {t["trace_id"] for t in response.json()["items"]}

    assert traces([("metadata", "tier=gold"), ("metadata", "tier=free")]) == set()
    assert traces([("metadata", "tier=free"), ("tag", "even")]) == _traces_where(
        data, lambda t: t.session >= 5 and t.session % 2 == 0
    )
    assert traces([("metadata", "tier=free"), ("metadata", "other=x")]) == set()


def test_trace_time_filters(server: LaminaServer, data: DataSet) -> None:
    moment = sorted(t.start_ns for t in data.traces)[8] + 50 * MS
    assert _trace_set(server, data, since=_iso(moment)) == _traces_where(
        data, lambda t: t.end_ns >= moment
    )
    assert _trace_set(server, data, until=_iso(moment)) == _traces_where(
        data, lambda t: t.start_ns < moment
    )


# -- errors ---------------------------------------------------------------------------------


def _error(response: Any, status: int, says: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert says in body["error"]["message"], body


@pytest.mark.parametrize(
    ("path", "params", "says"),
    [
        ("/api/v1/sessions", {"limit": "0"}, "limit"),
        ("/api/v1/sessions", {"limit": "501"}, "limit"),
        ("/api/v1/sessions", {"limit": "ten"}, "limit"),
        ("/api/v1/sessions", {"sort": "name"}, "sort"),
        ("/api/v1/sessions", {"order": "up"}, "order"),
        ("/api/v1/sessions", {"since": "yesterday"}, "since"),
        ("/api/v1/sessions", {"until": "2026-13-01"}, "until"),
        ("/api/v1/sessions", {"min_traces": "-1"}, "min_traces"),
        ("/api/v1/sessions", {"min_traces": "many"}, "min_traces"),
        ("/api/v1/sessions", {"q": "x" * 1001}, "q"),
        ("/api/v1/sessions", {"has_errors": "maybe"}, "has_errors"),
        ("/api/v1/sessions", {"min_cost": "-1"}, "min_cost"),
        ("/api/v1/sessions", {"max_cost": "cheap"}, "max_cost"),
        ("/api/v1/sessions", {"min_duration_ms": "nan"}, "min_duration_ms"),
        ("/api/v1/sessions", {"max_duration_ms": "1e13"}, "max_duration_ms"),
        ("/api/v1/sessions", {"metadata": "tier"}, "metadata"),
        ("/api/v1/sessions", {"sort": "user"}, "sort"),
        ("/api/v1/traces", {"sort": "trace_count"}, "sort"),
        ("/api/v1/traces", {"status": "failed"}, "status"),
        ("/api/v1/traces", {"metadata": "tier"}, "metadata"),
        ("/api/v1/traces", {"limit": "-5"}, "limit"),
        ("/api/v1/traces", {"since": "soon"}, "since"),
    ],
)
def test_invalid_parameters_are_400_with_a_clear_message(
    server: LaminaServer, data: DataSet, path: str, params: dict[str, str], says: str
) -> None:
    _error(otlp.get(server, path, key=data.key, **params), 400, says)


@pytest.mark.parametrize("path", ["/api/v1/sessions", "/api/v1/traces"])
@pytest.mark.parametrize(
    "cursor",
    ["garbage!", "eyJ0cnVuY2F0ZWQ", base64.urlsafe_b64encode(b'{"a": 1}').decode(), "W10"],
    ids=["not-base64", "truncated", "object", "empty-list"],
)
def test_bad_cursor_is_400(server: LaminaServer, data: DataSet, path: str, cursor: str) -> None:
    response = otlp.get(server, path, key=data.key, cursor=cursor)
    _error(response, 400, "cursor")
    assert response.json()["error"]["code"] == "invalid_cursor"


@pytest.mark.parametrize("path", ["/api/v1/sessions", "/api/v1/traces"])
def test_cursor_from_another_sort_is_400_not_500(
    server: LaminaServer, data: DataSet, path: str
) -> None:
    by_name = _get(server, data, "/api/v1/traces", sort="name", limit=2)["next_cursor"]
    assert by_name
    response = otlp.get(server, path, key=data.key, cursor=by_name, sort="start_time")
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_cursor"


def test_unknown_ids_are_404_json(server: LaminaServer, data: DataSet) -> None:
    _error(
        otlp.get(server, "/api/v1/sessions/no-such-session", key=data.key), 404, "no-such-session"
    )
    _error(otlp.get(server, f"/api/v1/traces/{'0' * 32}", key=data.key), 404, "0" * 32)
    _error(otlp.get(server, "/api/v1/traces/not-hex", key=data.key), 404, "not-hex")


@pytest.mark.parametrize(
    "path", ["/api/v1/sessions", "/api/v1/traces", "/api/v1/sessions/x", "/api/v1/traces/x"]
)
def test_every_route_needs_a_key(server: LaminaServer, path: str) -> None:
    _error(otlp.get(server, path, key=""), 401, "API key")
    _error(otlp.get(server, path, key="lmn_unknown"), 401, "API key")


def test_session_ids_with_slashes_and_spaces(server: LaminaServer) -> None:
    session_id = otlp.uid("user 42/chat #1")
    spans = otlp.conversation_turn(session_id, 0, start_ns=time.time_ns())
    assert otlp.post(server.url, server.api_key, otlp.export(spans)).status_code == 200
    from urllib.parse import quote

    got = otlp.api(server, f"/api/v1/sessions/{quote(session_id, safe='')}")
    assert got["session_id"] == session_id and got["trace_count"] == 1


def test_health_needs_no_key_and_unknown_routes_are_json_404(server: LaminaServer) -> None:
    health = otlp.get(server, "/healthz", key="")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert isinstance(health.json()["spans_written"], int)
    _error(otlp.get(server, "/api/v1/nothing-here"), 404, "nothing")
