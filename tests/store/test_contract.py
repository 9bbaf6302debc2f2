"""The Store contract: what every store (DuckDB, ClickHouse) must do.

Each test runs once per store in tests/store/backends.py's STORES (the ``store`` and
``backend`` fixtures of tests/store/conftest.py), on the Store protocol only (no
store-specific call), with real files / servers.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from lamina.errors import Conflict
from lamina.query.params import parse_session_query, parse_trace_query
from lamina.store.base import Store
from tests.spans.record import SpanRecord
from tests.store.backends import STORES, Backend, Maker, store_id
from tests.store.writing import column_batch, write

SECOND = 1_000_000_000
MS = 1_000_000
BASE = 1_767_225_600 * SECOND  # 2026-01-01T00:00:00Z


# -- span records ---------------------------------------------------------------------------

_ids = itertools.count(1)


def trace_id() -> str:
    return f"{next(_ids):032x}"


def span_id() -> str:
    return f"{next(_ids):016x}"


def rec(
    trace: str,
    name: str = "span",
    *,
    project: str = "prj_a",
    parent: str | None = None,
    start: int = BASE,
    ms: float = 10,
    **fields: Any,
) -> SpanRecord:
    return SpanRecord(
        project_id=project,
        trace_id=trace,
        span_id=fields.pop("span_id", None) or span_id(),
        parent_span_id=parent,
        name=name,
        span_type=fields.pop("span_type", "DEFAULT"),
        start_ns=start,
        end_ns=start + int(ms * MS),
        status=fields.pop("status", "ok"),
        **fields,
    )


def agent_trace(
    session: str | None, start: int, *, project: str = "prj_a", user: str = "u-1", turn: int = 0
) -> list[SpanRecord]:
    """A root with session, user, input and output; an LLM child; a failing tool child."""
    trace = trace_id()
    root = rec(
        trace,
        f"turn-{turn}",
        project=project,
        start=start,
        ms=1000,
        session_id=session,
        user_id=user,
        input=f'{{"question": "q{turn}"}}',
        output=f"answer {turn}",
        tags=("agent",),
        metadata={"env": "prod"},
        attributes='{"http.route": "/chat"}',
        events=f'[{{"name": "log", "time_ns": {start + MS}, "attributes": {{"n": 1}}}}]',
        resource='{"service.name": "svc"}',
        service_name="svc",
    )
    llm = rec(
        trace,
        "llm",
        project=project,
        parent=root.span_id,
        start=start + 10 * MS,
        ms=400,
        span_type="LLM",
        input='[{"role": "user", "content": "child"}]',
        output="child output",
        model="gpt-4o-mini",
        provider="openai",
        input_tokens=1000 + turn,
        output_tokens=200,
        cost=0.25,
        tags=("llm",),
        metadata={"model_family": "gpt"},
    )
    tool = rec(
        trace,
        "tool",
        project=project,
        parent=root.span_id,
        start=start + 500 * MS,
        ms=100,
        span_type="TOOL",
        status="error",
        status_message="timeout",
        input="tool input",
    )
    return [root, llm, tool]


def sessions(store: Store, project: str = "prj_a", **params: str) -> list[dict[str, Any]]:
    metadata = params.pop("metadata", None)
    query = parse_session_query({"limit": "500", **params}, [metadata] if metadata else None)
    return store.list_sessions(project, query).items


def traces(store: Store, project: str = "prj_a", **params: str) -> list[dict[str, Any]]:
    metadata = params.pop("metadata", None)
    query = parse_trace_query({"limit": "500", **params}, [metadata] if metadata else None)
    return store.list_traces(project, query).items


def _plain(value: Any, where: str = "row") -> None:
    """Only plain Python values cross the Store boundary."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str), where
            _plain(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _plain(item, f"{where}[{index}]")
    else:
        assert value is None or type(value) in (str, int, float, bool), (where, type(value))


# -- spans, traces, sessions ---------------------------------------------------------------------


def test_a_written_trace_reads_back_whole(store: Store) -> None:
    spans = agent_trace("s-1", BASE)
    root, llm, tool = spans
    write(store, spans)
    trace = store.get_trace("prj_a", root.trace_id)
    assert trace is not None
    _plain(trace, "trace")
    got = {k: v for k, v in trace.items() if k != "spans"}
    assert got == {
        "trace_id": root.trace_id,
        "session_id": "s-1",
        "user_id": "u-1",
        "name": "turn-0",
        "start_ns": BASE,
        "end_ns": BASE + 1000 * MS,
        "duration_ms": 1000.0,
        "status": "error",
        "error_count": 1,
        "span_count": 3,
        "input_tokens": 1000,
        "output_tokens": 200,
        "total_tokens": 1200,
        "cost": pytest.approx(0.25),
        "tags": ["agent", "llm"],
        "metadata": {"env": "prod", "model_family": "gpt"},
        "input_preview": "q0",  # the words of {"question": "q0"}, as the transcript shows
        "output_preview": "answer 0",
        "score_summary": {},
        "scores": [],
    }
    by_id = {span["span_id"]: span for span in trace["spans"]}
    assert [span["span_id"] for span in trace["spans"]] == [s.span_id for s in spans]
    first = by_id[root.span_id]
    assert first["parent_span_id"] is None
    assert (first["start_ns"], first["end_ns"], first["duration_ms"]) == (
        BASE,
        BASE + 1000 * MS,
        1000.0,
    )
    assert first["input"] == root.input and first["output"] == root.output
    assert first["attributes"] == {"http.route": "/chat"}
    assert first["events"] == [{"name": "log", "time_ns": BASE + MS, "attributes": {"n": 1}}]
    assert first["session_id"] == "s-1" and first["user_id"] == "u-1"
    second = by_id[llm.span_id]
    assert second["parent_span_id"] == root.span_id
    assert (second["span_type"], second["model"], second["provider"]) == (
        "LLM",
        "gpt-4o-mini",
        "openai",
    )
    assert (second["input_tokens"], second["output_tokens"]) == (1000, 200)
    assert second["cost"] == pytest.approx(0.25)
    third = by_id[tool.span_id]
    assert (third["status"], third["status_message"]) == ("error", "timeout")
    assert third["input_tokens"] is None and third["cost"] is None and third["model"] is None


def test_unknown_ids_are_none(store: Store) -> None:
    assert store.get_trace("prj_a", "f" * 32) is None
    assert store.get_session("prj_a", "nope") is None
    assert sessions(store) == [] and traces(store) == []


def test_an_empty_write_is_a_no_op(store: Store) -> None:
    write(store, [])
    assert store.count_spans() == 0


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_summaries_do_not_depend_on_order_or_batches(backend: Backend, seed: int) -> None:
    """The same spans, in order in one write, and shuffled across several writes with
    reads between them."""
    rng = random.Random(seed)
    ordered = [agent_trace("s-ordered", BASE + n * 5 * SECOND, turn=n) for n in range(3)]
    shuffled = [
        [
            replace(span, trace_id="e" * 31 + str(n + 1), session_id=span.session_id and "s-shuf")
            for span in spans
        ]
        for n, spans in enumerate(ordered)
    ]
    pieces = [span for spans in shuffled for span in spans]
    rng.shuffle(pieces)
    store = backend.open()
    try:
        write(store, [span for spans in ordered for span in spans])
        cuts = sorted(rng.sample(range(1, len(pieces)), 3))
        for begin, end in zip([0, *cuts], [*cuts, len(pieces)], strict=True):
            write(store, pieces[begin:end])
            # A read between writes: the next pieces meet traces already summarised.
            store.get_session("prj_a", "s-shuf")
        expected = store.get_session("prj_a", "s-ordered")
        got = store.get_session("prj_a", "s-shuf")
    finally:
        store.close()
    assert expected is not None and got is not None
    for row in (expected, got):
        row.pop("session_id")
        row["cost"] = pytest.approx(row["cost"])
        for trace in row["traces"]:
            trace.pop("trace_id")
            trace.pop("session_id")
            trace["cost"] = pytest.approx(trace["cost"])
    assert got == expected
    assert got["trace_count"] == 3 and got["span_count"] == 9


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_group_commit_of_many_batches_equals_writing_in_order(
    backend: Backend, seed: int
) -> None:
    """The ingest path: several requests' column batches, holding pieces of the same
    traces, in one write_columns call (one transaction)."""
    rng = random.Random(seed)
    ordered = [agent_trace("s-ordered", BASE + n * 5 * SECOND, turn=n) for n in range(3)]
    grouped = [
        [
            replace(
                span,
                trace_id=f"{seed + 1:02d}{n + 1:030d}",
                session_id=span.session_id and "s-group",
            )
            for span in spans
        ]
        for n, spans in enumerate(ordered)
    ]
    pieces = [span for spans in grouped for span in spans]
    rng.shuffle(pieces)
    cuts = sorted(rng.sample(range(1, len(pieces)), 4))
    batches = [
        column_batch(pieces[a:b]) for a, b in zip([0, *cuts], [*cuts, len(pieces)], strict=True)
    ]
    store = backend.open()
    try:
        write(store, [span for spans in ordered for span in spans])
        store.write_columns(batches)
        expected = store.get_session("prj_a", "s-ordered")
        got = store.get_session("prj_a", "s-group")
        spans_expected = [store.get_trace("prj_a", t["trace_id"]) for t in expected["traces"]]  # type: ignore[index]
        spans_got = [store.get_trace("prj_a", t["trace_id"]) for t in got["traces"]]  # type: ignore[index]
    finally:
        store.close()
    assert expected is not None and got is not None
    for row in (expected, got):
        row.pop("session_id")
        row["cost"] = pytest.approx(row["cost"])
        for trace in row["traces"]:
            trace.pop("trace_id")
            trace.pop("session_id")
            trace["cost"] = pytest.approx(trace["cost"])
    assert got == expected
    for want, have in zip(spans_expected, spans_got, strict=True):
        assert want is not None and have is not None
        assert len(have["spans"]) == len(want["spans"]) == 3
        assert [s["name"] for s in have["spans"]] == [s["name"] for s in want["spans"]]


def test_the_root_span_names_the_trace_and_gives_its_previews(store: Store) -> None:
    root, llm, tool = agent_trace("s-late-root", BASE)
    write(store, [llm])
    early = store.get_trace("prj_a", root.trace_id)
    assert early is not None
    assert (early["name"], early["input_preview"], early["output_preview"]) == (
        "llm",
        "child",  # a chat message list previews as its last message
        "child output",
    )
    assert early["session_id"] is None
    write(store, [tool])
    write(store, [root])
    late = store.get_trace("prj_a", root.trace_id)
    assert late is not None
    assert (late["name"], late["input_preview"], late["output_preview"]) == (
        "turn-0",
        "q0",
        "answer 0",
    )
    assert late["session_id"] == "s-late-root" and late["span_count"] == 3
    assert (late["start_ns"], late["end_ns"]) == (BASE, BASE + 1000 * MS)


def test_a_traces_session_and_user_are_its_earliest_spans(store: Store) -> None:
    trace = trace_id()
    late = rec(trace, "late", start=BASE + 5 * MS, session_id="s-late", user_id="u-late")
    early = rec(trace, "early", start=BASE + 1 * MS, session_id="s-early", user_id="u-early")
    none = rec(trace, "none", start=BASE, session_id=None, user_id=None)
    write(store, [late])
    write(store, [none, early])
    got = store.get_trace("prj_a", trace)
    assert got is not None
    assert (got["session_id"], got["user_id"]) == ("s-early", "u-early")


def test_late_spans_find_their_trace_whatever_its_id(store: Store) -> None:
    """Ids that end alike, and ids that are not hex at all (a store may look traces
    up by part of the id): each late span joins its own trace and no other."""
    ending = "abcdef0123456789"
    ids = ["0" * 16 + ending, "1" * 16 + ending, "not-hex-trace", "other-not-hex"]
    write(store, [rec(trace, "first", session_id="s-ids") for trace in ids])
    assert store.get_session("prj_a", "s-ids") is not None  # summarised before the rest
    write(store, [rec(trace, "late", start=BASE + MS, session_id="s-ids") for trace in ids])
    session = store.get_session("prj_a", "s-ids")
    assert session is not None
    assert sorted(trace["trace_id"] for trace in session["traces"]) == sorted(ids)
    assert [trace["span_count"] for trace in session["traces"]] == [2, 2, 2, 2]
    assert (session["trace_count"], session["span_count"]) == (4, 8)


def test_session_fields(store: Store) -> None:
    turns = [
        agent_trace("s-fields", BASE, user="u-2", turn=0),
        agent_trace("s-fields", BASE + 60 * SECOND, user="u-1", turn=1),
        agent_trace("s-fields", BASE + 30 * SECOND, user="u-1", turn=2),
    ]
    turns[1][2] = replace(turns[1][2], status="ok")  # one trace without an error
    write(store, [span for spans in turns for span in spans])
    session = store.get_session("prj_a", "s-fields")
    assert session is not None
    _plain(session, "session")
    listed = sessions(store)
    assert [row["session_id"] for row in listed] == ["s-fields"]
    summary = {k: v for k, v in session.items() if k not in ("traces", "scores")}
    assert listed[0] == summary and session["scores"] == []
    assert summary == {
        "session_id": "s-fields",
        "trace_count": 3,
        "span_count": 9,
        "start_ns": BASE,
        "end_ns": BASE + 61 * SECOND,
        "duration_ms": 61_000.0,
        "active_duration_ms": 3000.0,
        "input_tokens": 3003,
        "output_tokens": 600,
        "total_tokens": 3603,
        "cost": pytest.approx(0.75),
        "user_ids": ["u-1", "u-2"],
        "error_count": 2,
        "first_input": "q0",
        "last_output": "answer 1",
        "status": "ended",  # its last span ended long ago
        "ended_ns": BASE + 61 * SECOND + 30 * 60 * SECOND,  # then the idle time passed
        "score_summary": {},
    }
    assert [trace["name"] for trace in session["traces"]] == ["turn-0", "turn-2", "turn-1"]


def test_traces_without_a_session_are_not_a_session(store: Store) -> None:
    write(store, agent_trace(None, BASE))
    assert sessions(store) == []
    assert len(traces(store)) == 1


def test_values_never_reported_stay_null(store: Store) -> None:
    trace = trace_id()
    write(store, [rec(trace, "plain", session_id="s-null")])
    session = store.get_session("prj_a", "s-null")
    assert session is not None
    for name in ("input_tokens", "output_tokens", "total_tokens", "cost"):
        assert session[name] is None, name
        assert session["traces"][0][name] is None, name
    assert session["first_input"] is None and session["last_output"] is None


def test_projects_never_see_each_other(store: Store) -> None:
    mine = agent_trace("shared-session", BASE, project="prj_a")
    theirs = [
        replace(span, project_id="prj_b", span_id=span_id())
        for span in agent_trace("shared-session", BASE, project="prj_b", user="u-b")
    ]
    # the very same trace id in the other project
    theirs += [replace(span, project_id="prj_b", span_id=span_id()) for span in mine]
    write(store, mine + theirs)
    trace = store.get_trace("prj_a", mine[0].trace_id)
    assert trace is not None and trace["span_count"] == 3
    session = store.get_session("prj_a", "shared-session")
    assert session is not None and session["trace_count"] == 1 and session["user_ids"] == ["u-1"]
    assert len(traces(store, "prj_a")) == 1 and len(traces(store, "prj_b")) == 2
    assert traces(store, "prj_a", user_id="u-b") == []
    assert store.get_trace("prj_c", mine[0].trace_id) is None
    assert store.get_session("prj_c", "shared-session") is None
    assert store.count_spans("prj_a") == 3 and store.count_spans("prj_b") == 6
    assert store.count_spans() == 9


def test_a_large_batch(store: Store) -> None:
    spans = []
    for n in range(500):
        spans += agent_trace(f"s-{n % 50}", BASE + n * SECOND, turn=n)
    write(store, spans)
    assert store.count_spans("prj_a") == 1500
    assert len(sessions(store)) == 50
    assert all(row["trace_count"] == 10 and row["span_count"] == 30 for row in sessions(store))


def test_payloads_are_stored_exactly_and_previews_are_short(store: Store) -> None:
    big = "ünïcödé 🙂 " * 50_000
    root = rec(trace_id(), "big", input=big, output="x" * 1000, session_id="s-big")
    write(store, [root])
    trace = store.get_trace("prj_a", root.trace_id)
    assert trace is not None
    span = trace["spans"][0]  # a trace cuts a value this long; it is stored whole
    assert big.startswith(span["input"]) and span["truncated"] == {"input": len(big)}
    whole = store.span_value("prj_a", root.trace_id, root.span_id, "input")
    assert whole is not None and whole["value"] == big
    assert len(trace["input_preview"]) <= 240 and trace["input_preview"].startswith("ünïcödé 🙂")
    assert len(trace["output_preview"]) <= 240 and trace["output_preview"].endswith("…")


def test_data_survives_closing_and_reopening(backend: Backend) -> None:
    store = backend.open()
    spans = agent_trace("s-durable", BASE)
    write(store, spans)
    project = store.create_project("durable")
    store.set_setting("marker", "1")
    store.close()
    again = backend.open()
    try:
        session = again.get_session("prj_a", "s-durable")
        assert session is not None and session["span_count"] == 3
        assert again.find_project("durable") == project
        assert again.get_setting("marker") == "1"
        more = agent_trace("s-durable", BASE + SECOND, turn=1)  # writing goes on after reopen
        write(again, more)
        session = again.get_session("prj_a", "s-durable")
        assert session is not None and session["trace_count"] == 2
        trace = again.get_trace("prj_a", more[0].trace_id)
        assert trace is not None and len(trace["spans"]) == 3
    finally:
        again.close()


# -- lists: filters, sorts, pagination ----------------------------------------------------------


@pytest.fixture(scope="module", params=STORES, ids=store_id)
def filled(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    """Twelve sessions of one to three traces, with varied fields (read-only: shared)."""
    make: Maker = request.param
    store = make(tmp_path_factory.mktemp("filled")).open()
    batch: list[SpanRecord] = []
    for n in range(12):
        for turn in range(1 + n % 3):
            spans = agent_trace(
                f"s-{n:02d}",
                BASE + ((n * 5) % 12) * 60 * SECOND + turn * SECOND,
                user=f"u-{n % 4}",
                turn=turn,
            )
            if n % 2:  # odd sessions have no errors
                spans = [replace(span, status="ok") for span in spans]
            if n == 7:
                spans[1] = replace(spans[1], output="the 100% NEEDLE here")
            if n % 3 == 0:
                metadata = {"tier": "gold"}
                if n == 6:  # keys a JSON path must escape
                    metadata |= {"dir\\": "c:\\", 'say "hi"': "yes"}
                spans[0] = replace(spans[0], name="checkout", tags=("shop",), metadata=metadata)
            batch += spans
    write(store, batch[:40])
    write(store, batch[40:])
    yield store
    store.close()


def test_session_filters(filled: Store) -> None:
    def ids(**params: str) -> list[str]:
        return sorted(row["session_id"] for row in sessions(filled, **params))

    assert ids(user_id="u-1") == ["s-01", "s-05", "s-09"]
    assert ids(min_traces="3") == ["s-02", "s-05", "s-08", "s-11"]
    assert ids(q="needle") == ["s-07"]
    assert ids(q="100%") == ["s-07"]
    assert ids(q="1_0") == []
    all_rows = sessions(filled)
    moment = sorted(row["start_ns"] for row in all_rows)[6]
    iso = _iso(moment)
    assert ids(since=iso) == sorted(r["session_id"] for r in all_rows if r["end_ns"] >= moment)
    assert ids(until=iso) == sorted(r["session_id"] for r in all_rows if r["start_ns"] < moment)


# The filled sessions s-00 to s-11: session n has 1 + n % 3 traces of 0.25 USD, one
# second apart (so it lasts 1, 2 or 3 s); user u-{n % 4}; errors when n is even; tag
# "shop" and metadata tier=gold (instead of env=prod) when n % 3 == 0.
def _numbered(predicate: Callable[[int], bool]) -> list[str]:
    return [f"s-{n:02d}" for n in range(12) if predicate(n)]


SESSION_FILTERS: list[tuple[dict[str, str], list[str]]] = [
    ({"session_id_prefix": "s-1"}, ["s-10", "s-11"]),
    ({"session_id_prefix": "s-0"}, _numbered(lambda n: n < 10)),
    ({"session_id_prefix": "S-1"}, []),  # an id prefix is exact
    ({"session_id_prefix": "s-1%"}, []),
    ({"q": "s-1"}, ["s-10", "s-11"]),  # a search finds a session by the start of its id
    ({"q": "S-1"}, ["s-10", "s-11"]),  # ... in any case, like the text it searches
    ({"q": "u-3"}, _numbered(lambda n: n % 4 == 3)),  # ... or of one of its users' ids
    ({"q": "s_1"}, []),
    ({"q": "needle", "session_id_prefix": "s-0"}, ["s-07"]),
    ({"has_errors": "true"}, _numbered(lambda n: n % 2 == 0)),
    ({"has_errors": "false"}, _numbered(lambda n: n % 2 == 1)),
    ({"min_cost": "0.5"}, _numbered(lambda n: n % 3 > 0)),
    ({"max_cost": "0.25"}, _numbered(lambda n: n % 3 == 0)),
    ({"min_cost": "0.5", "max_cost": "0.5"}, _numbered(lambda n: n % 3 == 1)),
    ({"min_duration_ms": "2000"}, _numbered(lambda n: n % 3 > 0)),
    ({"max_duration_ms": "1000"}, _numbered(lambda n: n % 3 == 0)),
    ({"min_duration_ms": "1500", "max_duration_ms": "2500.5"}, _numbered(lambda n: n % 3 == 1)),
    ({"tag": "shop"}, _numbered(lambda n: n % 3 == 0)),
    ({"tag": "llm"}, _numbered(lambda n: True)),  # a child span's tag is its trace's
    ({"tag": "nope"}, []),
    ({"metadata": "tier=gold"}, _numbered(lambda n: n % 3 == 0)),
    ({"metadata": "env=prod"}, _numbered(lambda n: n % 3 > 0)),
    ({"metadata": "env=prod", "tag": "shop"}, []),  # one trace must have both
    ({"metadata": "tier=gold", "tag": "shop", "has_errors": "true"}, ["s-00", "s-06"]),
    ({"metadata": 'say "hi"=yes'}, ["s-06"]),
    ({"metadata": "dir\\=c:\\"}, ["s-06"]),
    ({"tag": "shop", "user_id": "u-1"}, ["s-09"]),
]


@pytest.mark.parametrize(
    ("params", "expected"), SESSION_FILTERS, ids=[str(p) for p, _ in SESSION_FILTERS]
)
def test_session_filters_on_summaries_and_traces(
    filled: Store, params: dict[str, str], expected: list[str]
) -> None:
    got = sorted(row["session_id"] for row in sessions(filled, **params))
    assert got == expected
    metadata = params.get("metadata")
    query = parse_session_query(
        {k: v for k, v in params.items() if k != "metadata"}, [metadata] if metadata else None
    )
    assert filled.count_sessions("prj_a", query, 1000) == len(expected)
    # another project's filters see none of them
    assert filled.list_sessions("prj_b", query).items == []
    assert filled.count_sessions("prj_b", query, 1000) == 0


def test_counting_sessions_stops_where_asked(filled: Store) -> None:
    every = parse_session_query({})
    assert filled.count_sessions("prj_a", every, 1000) == 12
    assert filled.count_sessions("prj_a", every, 5) == 5
    assert filled.count_sessions("prj_a", parse_session_query({"tag": "shop"}), 3) == 3
    # the sort, cursor and limit do not change the count
    first = filled.list_sessions("prj_a", parse_session_query({"limit": "2"}))
    assert first.next_cursor is not None
    later = parse_session_query({"limit": "2", "cursor": first.next_cursor})
    assert filled.count_sessions("prj_a", later, 1000) == 12


def test_trace_filters(filled: Store) -> None:
    every = traces(filled)
    assert len(every) == sum(1 + n % 3 for n in range(12))

    def ids(**params: str) -> set[str]:
        return {row["trace_id"] for row in traces(filled, **params)}

    def where(predicate: Callable[[dict[str, Any]], bool]) -> set[str]:
        return {row["trace_id"] for row in every if predicate(row)}

    assert ids(session_id="s-05") == where(lambda t: t["session_id"] == "s-05")
    assert len(ids(session_id="s-05")) == 3
    assert ids(user_id="u-2") == where(lambda t: t["user_id"] == "u-2")
    assert ids(name="checkout") == where(lambda t: t["name"] == "checkout")
    assert ids(status="error") == where(lambda t: t["status"] == "error")
    assert ids(status="ok") == where(lambda t: t["status"] == "ok")
    assert ids(tag="shop") == where(lambda t: "shop" in t["tags"])
    assert ids(metadata="tier=gold") == where(lambda t: t["metadata"].get("tier") == "gold")
    assert ids(metadata="dir\\=c:\\") == where(lambda t: "dir\\" in t["metadata"])
    assert len(ids(metadata='say "hi"=yes')) == 1
    assert ids(q="NEEDLE") == where(lambda t: t["session_id"] == "s-07")
    assert ids(session_id="s-03", tag="shop") == where(lambda t: t["session_id"] == "s-03")


SESSION_KEYS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "start_time": lambda r: r["start_ns"],
    "end_time": lambda r: r["end_ns"],
    "duration_ms": lambda r: r["end_ns"] - r["start_ns"],
    "active_duration_ms": lambda r: r["active_duration_ms"],
    "trace_count": lambda r: r["trace_count"],
    "span_count": lambda r: r["span_count"],
    "total_tokens": lambda r: r["total_tokens"] or 0,
    "cost": lambda r: r["cost"] or 0,
    "error_count": lambda r: r["error_count"],
    "session_id": lambda r: r["session_id"],
    "user_id": lambda r: r["user_ids"][0] if r["user_ids"] else "",
}
TRACE_KEYS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "start_time": lambda r: r["start_ns"],
    "end_time": lambda r: r["end_ns"],
    "duration_ms": lambda r: r["end_ns"] - r["start_ns"],
    "span_count": lambda r: r["span_count"],
    "total_tokens": lambda r: r["total_tokens"] or 0,
    "cost": lambda r: r["cost"] or 0,
    "name": lambda r: r["name"],
    "session_id": lambda r: r["session_id"] or "",
    "user_id": lambda r: r["user_id"] or "",
}


def _pages(
    fetch: Callable[[dict[str, str]], Any], params: dict[str, str], limit: int
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        page = fetch({**params, "limit": str(limit), **({"cursor": cursor} if cursor else {})})
        assert len(page.items) <= limit
        rows += page.items
        cursor = page.next_cursor
        if cursor is None:
            return rows
    raise AssertionError("no end")


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_sessions_sort_and_paginate(filled: Store, order: str) -> None:
    every = sessions(filled)
    for sort, key in SESSION_KEYS.items():
        expected = [
            row["session_id"]
            for row in sorted(
                every, key=lambda r: (key(r), r["session_id"]), reverse=order == "desc"
            )
        ]
        got = _pages(
            lambda p: filled.list_sessions("prj_a", parse_session_query(p)),
            {"sort": sort, "order": order},
            5,
        )
        assert [row["session_id"] for row in got] == expected, sort


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_traces_sort_and_paginate(filled: Store, order: str) -> None:
    every = traces(filled)
    for sort, key in TRACE_KEYS.items():
        expected = [
            row["trace_id"]
            for row in sorted(every, key=lambda r: (key(r), r["trace_id"]), reverse=order == "desc")
        ]
        got = _pages(
            lambda p: filled.list_traces("prj_a", parse_trace_query(p)),
            {"sort": sort, "order": order},
            7,
        )
        assert [row["trace_id"] for row in got] == expected, sort


def test_default_sort_is_newest_first(filled: Store) -> None:
    starts = [row["start_ns"] for row in sessions(filled)]
    assert starts == sorted(starts, reverse=True)
    starts = [row["start_ns"] for row in traces(filled)]
    assert starts == sorted(starts, reverse=True)


def test_searching_newest_first_pages_like_a_full_scan(store: Store) -> None:
    """A newest-first search may look at the newest rows first; paging through it must
    give exactly what filtering everything gives: for a word in many sessions, in the
    oldest two only, and in none, with sessions that share a start time."""
    batch: list[SpanRecord] = []
    holders: dict[str, set[int]] = {"common": set(), "ancient": set(), "nowhere": set()}
    for n in range(200):
        spans = agent_trace(f"w-{n:03d}", BASE + (n // 2) * SECOND, turn=n)
        if n % 9 == 4:
            spans[2] = replace(spans[2], input=f"a Common word in {n}")
            holders["common"].add(n)
        if n < 2:
            spans[1] = replace(spans[1], output="an ancient word")
            holders["ancient"].add(n)
        batch += spans
    write(store, batch)
    every = sessions(store)
    every_trace = traces(store)
    for word, numbers in holders.items():
        names = {f"w-{n:03d}" for n in numbers}
        expected = [row["session_id"] for row in every if row["session_id"] in names]
        got = _pages(lambda p: store.list_sessions("prj_a", parse_session_query(p)), {"q": word}, 3)
        assert [row["session_id"] for row in got] == expected, word
        expected = [row["trace_id"] for row in every_trace if row["session_id"] in names]
        got = _pages(lambda p: store.list_traces("prj_a", parse_trace_query(p)), {"q": word}, 4)
        assert [row["trace_id"] for row in got] == expected, word
    assert len(holders["common"]) == 22
    # a search that finds the oldest sessions by their id, past every window
    got = _pages(lambda p: store.list_sessions("prj_a", parse_session_query(p)), {"q": "W-00"}, 3)
    assert [row["session_id"] for row in got] == [f"w-{n:03d}" for n in range(9, -1, -1)]


def test_a_sessions_spans_are_every_span_of_its_traces(store: Store) -> None:
    turns = [agent_trace("s-spans", BASE + n * 10 * SECOND, turn=n) for n in range(3)]
    # a trace whose spans name no session but its root: all of them are the session's
    lone = trace_id()
    late_root = rec(lone, "late-root", start=BASE + 5 * SECOND, ms=50, session_id="s-spans")
    late_child = rec(lone, "child", parent=late_root.span_id, start=BASE + 5 * SECOND + MS)
    theirs = [
        replace(span, project_id="prj_b", span_id=span_id())
        for span in agent_trace("s-spans", BASE, project="prj_b")
    ]
    other = agent_trace("s-other", BASE + SECOND)
    write(store, [s for t in turns for s in t] + [late_root, late_child] + theirs + other)
    got = store.session_spans("prj_a", "s-spans", 100)
    _plain(got, "spans")
    expected = sorted(
        [s for t in turns for s in t] + [late_root, late_child],
        key=lambda s: (s.start_ns, s.span_id),
    )
    assert [(row["trace_id"], row["span_id"]) for row in got] == [
        (s.trace_id, s.span_id) for s in expected
    ]
    first = got[0]
    root = turns[0][0]
    assert first == {
        "trace_id": root.trace_id,
        "span_id": root.span_id,
        "parent_span_id": None,
        "name": "turn-0",
        "span_type": "DEFAULT",
        "start_ns": BASE,
        "end_ns": BASE + 1000 * MS,
        "duration_ms": 1000.0,
        "status": "ok",
    }
    assert [row["span_id"] for row in store.session_spans("prj_a", "s-spans", 4)] == [
        s.span_id for s in expected[:4]
    ]
    assert len(store.session_spans("prj_b", "s-spans", 100)) == 3
    assert store.session_spans("prj_c", "s-spans", 100) == []
    assert store.session_spans("prj_a", "nope", 100) == []


def test_the_spans_of_a_session_interleaved_with_others(store: Store) -> None:
    """More traces than a store may look for one by one, each written between another
    session's, and a late span that widens an early trace's range."""
    mine: list[SpanRecord] = []
    for n in range(70):
        ours = rec(trace_id(), f"turn-{n}", start=BASE + n * SECOND, session_id="s-many")
        theirs = rec(trace_id(), "other", start=BASE + n * SECOND, session_id="s-else")
        write(store, [ours, theirs])
        mine.append(ours)
    late = rec(mine[0].trace_id, "late", parent=mine[0].span_id, start=BASE + 100 * SECOND)
    write(store, [late])
    got = store.session_spans("prj_a", "s-many", 1000)
    assert [row["span_id"] for row in got] == [s.span_id for s in [*mine, late]]
    assert [row["span_id"] for row in store.session_spans("prj_a", "s-many", 3)] == [
        s.span_id for s in mine[:3]
    ]


def test_many_traces_read_at_once_are_each_as_one_trace_reads(store: Store) -> None:
    """get_traces answers what get_trace answers for each trace, in the order asked
    (each once), leaving out what the project does not have: another project's trace,
    an unknown id."""
    turns = [agent_trace("s-many", BASE + n * SECOND, turn=n) for n in range(3)]
    theirs = agent_trace("s-many", BASE, project="prj_b")
    write(store, [s for t in turns for s in t] + theirs)
    ids = [t[0].trace_id for t in turns]
    asked = [ids[2], theirs[0].trace_id, ids[0], "f" * 32, ids[2], ids[1]]
    got = store.get_traces("prj_a", asked)
    _plain(got, "traces")
    assert got == [store.get_trace("prj_a", trace) for trace in (ids[2], ids[0], ids[1])]
    assert [len(trace["spans"]) for trace in got] == [3, 3, 3]
    assert store.get_traces("prj_b", ids) == []
    assert store.get_traces("prj_a", []) == []


def test_many_traces_interleaved_with_others_read_at_once(store: Store) -> None:
    """More traces than a store may look for one by one, each written between another
    session's, a late span that widens an early trace's range, and a large value cut
    as get_trace cuts it."""
    from lamina.store.rows import TRACE_VALUE_CHARS

    mine: list[SpanRecord] = []
    for n in range(70):
        ours = rec(trace_id(), f"turn-{n}", start=BASE + n * SECOND, session_id="s-many")
        theirs = rec(trace_id(), "other", start=BASE + n * SECOND, session_id="s-else")
        write(store, [ours, theirs])
        mine.append(ours)
    late = rec(mine[0].trace_id, "late", parent=mine[0].span_id, start=BASE + 100 * SECOND)
    large = rec(
        mine[1].trace_id,
        "large",
        parent=mine[1].span_id,
        start=BASE + SECOND + MS,
        input="x" * (TRACE_VALUE_CHARS + 1),
    )
    write(store, [late, large])
    ids = [span.trace_id for span in reversed(mine)]
    got = store.get_traces("prj_a", ids)
    assert got == [store.get_trace("prj_a", trace) for trace in ids]
    assert [len(trace["spans"]) for trace in got[-2:]] == [2, 2]
    assert got[-1]["spans"][1]["name"] == "late"
    assert got[-2]["spans"][1]["truncated"] == {"input": TRACE_VALUE_CHARS + 1}


def _iso(ns: int) -> str:
    from datetime import UTC, datetime

    moment = datetime.fromtimestamp(ns // SECOND, tz=UTC).replace(microsecond=(ns // 1000) % 10**6)
    return moment.isoformat().replace("+00:00", "Z")


# -- projects, keys, users, settings ----------------------------------------------------------


def test_a_store_says_whether_other_processes_share_it(backend: Backend) -> None:
    """What is made once per store (the cookie secret) waits for other servers' only on
    a store they can write at the same moment: ClickHouse, not a DuckDB file."""
    store = backend.open()
    try:
        assert store.shared is (backend.name != "duckdb")
    finally:
        store.close()


def test_projects(store: Store) -> None:
    first = store.create_project("alpha")
    second = store.create_project("beta")
    assert first.id != second.id and first.name == "alpha"
    assert [p.name for p in store.list_projects()] == ["alpha", "beta"]
    assert store.find_project("alpha") == first
    assert store.find_project(second.id) == second
    assert store.find_project("gamma") is None
    with pytest.raises(Conflict):
        store.create_project("alpha")
    assert len(store.list_projects()) == 2


def test_keys(store: Store) -> None:
    alpha = store.create_project("alpha")
    beta = store.create_project("beta")
    one = store.create_key(alpha.id, "ci", "hash-1", "lmn_abc123")
    two = store.create_key(beta.id, "prod", "hash-2", "lmn_def456")
    assert (one.project_id, one.name, one.prefix, one.revoked_ns) == (
        alpha.id,
        "ci",
        "lmn_abc123",
        None,
    )
    assert [k.id for k in store.list_keys()] == [one.id, two.id]
    assert store.list_keys(beta.id) == [two]
    assert store.project_for_key("hash-1") == alpha.id
    assert store.project_for_key("hash-2") == beta.id
    assert store.project_for_key("hash-unknown") is None

    revoked = store.revoke_key(one.id)
    assert revoked is not None and revoked.revoked_ns is not None and revoked.id == one.id
    assert store.project_for_key("hash-1") is None
    assert store.project_for_key("hash-2") == beta.id
    assert store.list_keys(alpha.id)[0].revoked_ns == revoked.revoked_ns
    again = store.revoke_key(one.id)  # revoking twice keeps the first time
    assert again is not None and again.revoked_ns == revoked.revoked_ns
    assert store.revoke_key("key_unknown") is None


def test_users(store: Store) -> None:
    admin = store.create_user("Admin@Example.com", "hash-a", True)
    user = store.create_user("user@example.com", "hash-u", False)
    assert admin.is_admin and not user.is_admin
    assert store.find_user("admin@example.com") == admin  # emails match case-insensitively
    assert store.find_user(user.id) == user
    assert store.find_user("nobody@example.com") is None
    assert [u.email for u in store.list_users()] == ["Admin@Example.com", "user@example.com"]
    with pytest.raises(Conflict):
        store.create_user("user@example.com", "hash-x", False)


def test_settings(store: Store) -> None:
    assert store.get_setting("secret") is None
    store.set_setting("secret", "one")
    assert store.get_setting("secret") == "one"
    store.set_setting("secret", "two")
    assert store.get_setting("secret") == "two"


def test_projects_keys_and_users_are_plain_values(store: Store) -> None:
    project = store.create_project("plain")
    key = store.create_key(project.id, "k", "h", "p")
    user = store.create_user("a@b.c", "h", False)
    for value in (project, key, user):
        for name in value.__slots__:  # type: ignore[attr-defined]
            _plain(getattr(value, name), name)


@pytest.mark.parametrize(
    ("text", "preview"),
    [
        ('[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]', "hi"),
        ('{"messages": [{"role": "user", "content": "from a dict"}]}', "from a dict"),
        (
            '[{"role": "user", "content": [{"type": "text", "text": "part one"}, '
            '{"type": "image_url"}, {"type": "text", "text": "part two"}]}]',
            "part one [image] part two",
        ),
        (
            '[{"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "function": '
            '{"name": "search", "arguments": "{}"}}]}]',
            "search({})",
        ),
        ('{"a": 1,\n "b": [1, 2]}', '{"a":1,"b":[1,2]}'),
        ('"a JSON string"', "a JSON string"),
        ("line one\n\n  line   two", "line one line two"),
        ("not { json", "not { json"),
    ],
    ids=[
        "chat",
        "messages-dict",
        "content-parts",
        "tool-calls",
        "json",
        "string",
        "text",
        "broken",
    ],
)
def test_previews_are_one_readable_line(store: Store, text: str, preview: str) -> None:
    root = rec(trace_id(), "root", input=text, output=text)
    write(store, [root])
    trace = store.get_trace("prj_a", root.trace_id)
    assert trace is not None
    assert trace["input_preview"] == preview and trace["output_preview"] == preview
    assert trace["spans"][0]["input"] == text  # the span keeps the full text


def test_a_trace_cuts_large_values_and_one_is_read_whole(store: Store) -> None:
    """A trace answers with each value over TRACE_VALUE_CHARS characters cut (named in
    ``truncated`` with its full length, in characters, not bytes); span_value reads one
    whole, and only in its own project."""
    from lamina.store.rows import TRACE_VALUE_CHARS

    trace = trace_id()
    long_text = "é" * (TRACE_VALUE_CHARS + 10)
    large = rec(trace, "large", input=long_text, output="short")
    small = rec(trace, "small", start=BASE + MS, input="tiny")
    write(store, [large, small])
    got = store.get_trace("prj_a", trace)
    assert got is not None
    by_name = {span["name"]: span for span in got["spans"]}
    assert by_name["large"]["truncated"] == {"input": TRACE_VALUE_CHARS + 10}
    assert by_name["large"]["input"] == "é" * TRACE_VALUE_CHARS
    assert by_name["large"]["output"] == "short"
    assert "truncated" not in by_name["small"] and by_name["small"]["input"] == "tiny"
    whole = store.span_value("prj_a", trace, large.span_id, "input")
    assert whole == {
        "trace_id": trace,
        "span_id": large.span_id,
        "field": "input",
        "value": long_text,
    }
    attributes = store.span_value("prj_a", trace, large.span_id, "attributes")
    assert attributes is not None and attributes["value"] == by_name["large"]["attributes"]
    assert store.span_value("prj_b", trace, large.span_id, "input") is None
    assert store.span_value("prj_a", trace, "0" * 16, "input") is None
    assert store.span_value("prj_a", trace, large.span_id, "name") is None


def test_values_longer_than_a_chunk_and_shorter_than_the_cut_are_whole(store: Store) -> None:
    """Values of tens of KB but under TRACE_VALUE_CHARS characters (the DuckDB store keeps
    all but their first 16 KiB apart) are answered whole by a trace, get_traces and an
    export, JSON ones parsed; a store holding several on one span joins each to its own."""
    import orjson

    from lamina.store.base import ExportKind
    from lamina.store.rows import TRACE_VALUE_CHARS

    words = {"k": "ä" * 12_000, "l": "b" * 9_000}
    attributes = orjson.dumps({"input.value": "x" * 30_000, **words}).decode()
    events = orjson.dumps([{"name": "e", "attributes": words}]).decode()
    trace = trace_id()
    wide = rec(
        trace,
        "wide",
        input="ü" * (TRACE_VALUE_CHARS - 1),
        output="o" * 20_000,
        attributes=attributes,
        events=events,
        metadata={"m": "ß" * 17_000},
    )
    write(store, [wide, rec(trace, "small", start=BASE + MS, input="tiny")])
    got = store.get_trace("prj_a", trace)
    assert got is not None and store.get_traces("prj_a", [trace]) == [got]
    by_name = {span["name"]: span for span in got["spans"]}
    span = by_name["wide"]
    assert "truncated" not in span and span["input"] == wide.input
    assert span["output"] == wide.output and span["metadata"] == {"m": "ß" * 17_000}
    assert span["attributes"] == orjson.loads(attributes)
    assert span["events"] == orjson.loads(events)
    assert by_name["small"]["input"] == "tiny"
    exported = {s["name"]: s for s in store.export_page("prj_a", ExportKind.SPANS).items}
    for name in ("input", "output", "attributes", "events"):
        assert exported["wide"][name] == span[name]
    whole = store.span_value("prj_a", trace, wide.span_id, "events")
    assert whole is not None and whole["value"] == orjson.loads(events)
