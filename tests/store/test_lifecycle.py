"""The Store contract for the data lifecycle: delete a trace, several, a session, old traces
(retention) or a whole project, set a project's retention, page through an export.

Runs once per store in tests/store/backends.py's STORES, on the Store protocol only.
After a delete, every summary must equal the summary of a store that never had the
deleted traces: that is how each test checks the refresh.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from lamina.errors import BadRequest
from lamina.store.base import Deleted, Store
from tests.spans.record import SpanRecord
from tests.store.backends import Backend
from tests.store.test_contract import BASE, SECOND, agent_trace, rec, sessions, trace_id, traces
from tests.store.writing import write


def _write(store: Store, *groups: list[SpanRecord]) -> None:
    write(store, [span for spans in groups for span in spans])


def _as(spans: list[SpanRecord], session: str) -> list[SpanRecord]:
    """The same trace under a new trace id, in ``session``."""
    new_id = trace_id()
    return [
        replace(span, trace_id=new_id, session_id=span.session_id and session) for span in spans
    ]


def _summary(store: Store, session_id: str) -> dict[str, Any] | None:
    """A session's summary without its ids, to compare with a twin's."""
    found = store.get_session("prj_a", session_id)
    if found is None:
        return None
    found.pop("session_id")
    found["cost"] = pytest.approx(found["cost"])
    for trace in found["traces"]:
        trace.pop("trace_id")
        trace.pop("session_id")
        trace["cost"] = pytest.approx(trace["cost"])
    return found


def test_deleting_a_trace_removes_its_spans_and_refreshes_its_session(store: Store) -> None:
    turns = [agent_trace("s-del", BASE + n * 10 * SECOND, turn=n, user=f"u-{n}") for n in range(3)]
    _write(store, *turns)
    # the twin: a session that only ever had the two traces that will remain
    _write(store, _as(turns[0], "s-twin"), _as(turns[2], "s-twin"))
    doomed = turns[1][0].trace_id

    assert store.delete_trace("prj_a", doomed) == Deleted(traces=1, spans=3)

    assert store.get_trace("prj_a", doomed) is None
    assert doomed not in {t["trace_id"] for t in traces(store)}
    assert store.count_spans("prj_a") == 12
    assert _summary(store, "s-del") == _summary(store, "s-twin")
    listed = {row["session_id"]: row for row in sessions(store)}
    assert listed["s-del"]["trace_count"] == 2 and listed["s-del"]["user_ids"] == ["u-0", "u-2"]
    # deleting it again, or a trace that never was, deletes nothing
    assert store.delete_trace("prj_a", doomed) == Deleted(0, 0)
    assert store.delete_trace("prj_a", "f" * 32) == Deleted(0, 0)


def test_deleting_several_traces_takes_those_of_its_project_in_or_out_of_sessions(
    store: Store,
) -> None:
    """What deleting an experiment does to its items' traces (a Laminar SDK's are in no
    session): each trace named goes, in a session or not, and nothing else."""
    turns = [agent_trace("s-many", BASE + n * 10 * SECOND, turn=n) for n in range(3)]
    loose = [agent_trace(None, BASE + (40 + n) * SECOND) for n in range(2)]
    theirs = agent_trace(None, BASE + 40 * SECOND, project="prj_b")
    _write(store, *turns, *loose, theirs, _as(turns[1], "s-twin"))
    doomed = [turns[0][0].trace_id, loose[0][0].trace_id, turns[2][0].trace_id]
    before = {t["trace_id"] for t in traces(store)}

    named = [*doomed, "f" * 32, theirs[0].trace_id]  # one nowhere, one of another project
    assert store.delete_traces("prj_a", named) == Deleted(traces=3, spans=9)

    assert {t["trace_id"] for t in traces(store)} == before - set(doomed)
    assert _summary(store, "s-many") == _summary(store, "s-twin")
    assert store.get_trace("prj_b", theirs[0].trace_id) is not None
    assert store.count_spans("prj_a") == 9 and store.count_spans("prj_b") == 3
    assert store.delete_traces("prj_a", doomed) == Deleted(0, 0)
    assert store.delete_traces("prj_a", []) == Deleted(0, 0)


def test_deleting_a_sessions_last_trace_removes_the_session(store: Store) -> None:
    only = agent_trace("s-alone", BASE)
    _write(store, only, agent_trace("s-other", BASE + SECOND))
    store.delete_trace("prj_a", only[0].trace_id)
    assert store.get_session("prj_a", "s-alone") is None
    assert [row["session_id"] for row in sessions(store)] == ["s-other"]


def test_delete_reaches_only_its_own_project(store: Store) -> None:
    mine = agent_trace("s-shared", BASE)
    theirs = [replace(span, project_id="prj_b") for span in mine]  # the same ids
    _write(store, mine, theirs)
    assert store.delete_trace("prj_b", mine[0].trace_id) == Deleted(1, 3)
    assert store.get_trace("prj_a", mine[0].trace_id) is not None
    assert store.get_session("prj_a", "s-shared") is not None
    assert store.get_session("prj_b", "s-shared") is None
    assert store.delete_session("prj_b", "s-shared") == Deleted(0, 0)
    assert store.count_spans("prj_a") == 3


def test_deleting_a_session_removes_all_its_traces_and_nothing_else(store: Store) -> None:
    doomed = [agent_trace("s-doomed", BASE + n * SECOND, turn=n) for n in range(4)]
    kept = agent_trace("s-kept", BASE + 2 * SECOND)
    loose = agent_trace(None, BASE + 3 * SECOND)
    _write(store, *doomed, kept, loose)

    assert store.delete_session("prj_a", "s-doomed") == Deleted(traces=4, spans=12)

    assert store.get_session("prj_a", "s-doomed") is None
    assert traces(store, session_id="s-doomed") == []
    assert {t["trace_id"] for t in traces(store)} == {kept[0].trace_id, loose[0].trace_id}
    assert [row["session_id"] for row in sessions(store)] == ["s-kept"]
    assert store.count_spans("prj_a") == 6


def test_a_deleted_trace_that_gets_late_spans_starts_afresh(store: Store) -> None:
    root, llm, tool = agent_trace("s-late", BASE)
    _write(store, [root, llm])
    store.delete_trace("prj_a", root.trace_id)
    write(store, [tool])  # a late span of the deleted trace
    again = store.get_trace("prj_a", root.trace_id)
    assert again is not None
    assert again["span_count"] == 1 and [s["name"] for s in again["spans"]] == ["tool"]
    assert again["session_id"] is None and again["input_tokens"] is None
    assert store.get_session("prj_a", "s-late") is None


def test_delete_before_removes_old_traces_and_refreshes_their_sessions(store: Store) -> None:
    day = 86_400 * SECOND
    old = [agent_trace("s-long", BASE + n * SECOND, turn=n) for n in range(2)]
    new = [agent_trace("s-long", BASE + 3 * day + n * SECOND, turn=n) for n in range(2)]
    only_old = agent_trace("s-gone", BASE + 5 * SECOND)
    _write(store, *old, *new, only_old)
    _write(store, *(_as(spans, "s-twin") for spans in new))

    assert store.delete_before("prj_a", BASE + day) == Deleted(traces=3, spans=9)

    assert {t["trace_id"] for t in traces(store, session_id="s-long")} == {
        spans[0].trace_id for spans in new
    }
    assert store.get_session("prj_a", "s-gone") is None
    assert _summary(store, "s-long") == _summary(store, "s-twin")
    assert store.delete_before("prj_a", BASE + day) == Deleted(0, 0)


def test_deleting_a_project_removes_its_keys_and_data(store: Store) -> None:
    gone = store.create_project("gone")
    kept = store.create_project("kept")
    store.create_key(gone.id, "k", "hash-gone", "lmn_gone")
    store.create_key(kept.id, "k", "hash-kept", "lmn_kept")
    _write(
        store,
        agent_trace("s-1", BASE, project=gone.id),
        agent_trace(None, BASE, project=gone.id),
        agent_trace("s-1", BASE, project=kept.id),
    )

    assert store.delete_project(gone.id) == Deleted(traces=2, spans=6)

    assert store.find_project("gone") is None
    assert [p.name for p in store.list_projects()] == ["kept"]
    assert store.project_for_key("hash-gone") is None
    assert store.project_for_key("hash-kept") == kept.id
    assert [k.project_id for k in store.list_keys()] == [kept.id]
    assert store.count_spans(gone.id) == 0 and store.count_spans(kept.id) == 3
    assert sessions(store, gone.id) == [] and traces(store, gone.id) == []
    assert [row["session_id"] for row in sessions(store, kept.id)] == ["s-1"]
    # the name is free again
    assert store.create_project("gone").name == "gone"


def test_deletes_are_durable(backend: Backend) -> None:
    store = backend.open()
    try:
        first, second = agent_trace("s-1", BASE), agent_trace("s-1", BASE + SECOND)
        _write(store, first, second)
        store.delete_trace("prj_a", first[0].trace_id)
    finally:
        store.close()
    store = backend.open()
    try:
        assert store.get_trace("prj_a", first[0].trace_id) is None
        session = store.get_session("prj_a", "s-1")
        assert session is not None and session["trace_count"] == 1
        assert store.count_spans() == 3
    finally:
        store.close()


def test_retention_is_kept_per_project(backend: Backend) -> None:
    store = backend.open()
    try:
        project = store.create_project("kept-a-week")
        other = store.create_project("for-ever")
        assert project.retention_days is None
        changed = store.set_retention(project.id, 7)
        assert changed is not None and changed.retention_days == 7
        assert store.set_retention("prj_nope", 7) is None
    finally:
        store.close()
    store = backend.open()
    try:
        found = store.find_project("kept-a-week")
        assert found is not None and found.retention_days == 7
        assert {p.name: p.retention_days for p in store.list_projects()} == {
            "kept-a-week": 7,
            "for-ever": None,
        }
        cleared = store.set_retention(project.id, None)
        assert cleared is not None and cleared.retention_days is None
        assert store.find_project(other.id) == other
    finally:
        store.close()


def _export(store: Store, kind: str, limit: int, **options: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    after = None
    while True:
        page = store.export_page("prj_a", kind, after=after, limit=limit, **options)
        assert len(page.items) <= limit
        rows += page.items
        if page.next_cursor is None:
            return rows
        after = page.next_cursor


def test_export_pages_through_everything_once(store: Store) -> None:
    groups = [agent_trace(f"s-{n % 3}", BASE + n * SECOND, turn=n) for n in range(7)]
    loose = agent_trace(None, BASE)
    _write(store, *groups[:4])
    _write(store, *groups[4:], loose)
    _write(store, agent_trace("s-0", BASE, project="prj_b"))

    spans = _export(store, "spans", 4)
    assert len(spans) == 24
    assert len({(s["trace_id"], s["span_id"]) for s in spans}) == 24
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for span in spans:
        by_trace.setdefault(span["trace_id"], []).append(span)
    for trace_id_, exported in by_trace.items():
        stored = store.get_trace("prj_a", trace_id_)
        assert stored is not None
        want = sorted(stored["spans"], key=lambda s: s["span_id"])
        got = sorted(
            ({k: v for k, v in s.items() if k != "trace_id"} for s in exported),
            key=lambda s: s["span_id"],
        )
        assert got == want

    listed = {t["trace_id"]: t for t in traces(store)}
    exported_traces = _export(store, "traces", 3)
    assert len(exported_traces) == 8
    assert {t["trace_id"]: t for t in exported_traces} == listed

    exported_sessions = _export(store, "sessions", 2)
    assert {s["session_id"]: s for s in exported_sessions} == {
        s["session_id"]: s for s in sessions(store)
    }


def test_export_of_one_session(store: Store) -> None:
    mine = [agent_trace("s-mine", BASE + n * SECOND, turn=n) for n in range(3)]
    _write(store, *mine, agent_trace("s-other", BASE), agent_trace(None, BASE))
    spans = _export(store, "spans", 5, session_id="s-mine")
    assert {s["trace_id"] for s in spans} == {t[0].trace_id for t in mine} and len(spans) == 9
    assert len(_export(store, "traces", 2, session_id="s-mine")) == 3
    assert [s["session_id"] for s in _export(store, "sessions", 2, session_id="s-mine")] == [
        "s-mine"
    ]
    assert _export(store, "spans", 5, session_id="s-none") == []


def test_export_refuses_an_unknown_kind(store: Store) -> None:
    with pytest.raises(BadRequest):
        store.export_page("prj_a", "users")


def test_a_root_span_alone_exports_with_its_parent_empty(store: Store) -> None:
    trace = trace_id()
    write(store, [rec(trace, "root")])
    (span,) = _export(store, "spans", 10)
    assert span["trace_id"] == trace and span["parent_span_id"] is None


def test_a_spans_export_page_ends_by_bytes(store: Store) -> None:
    """Pages of large spans hold what fits in max_bytes (one span at least), and together
    every span once, whatever the row limit; small spans still fill a page by count."""
    small = [rec(trace_id(), f"small-{n}", start=BASE + n) for n in range(30)]
    large = [
        rec(trace_id(), f"large-{n}", start=BASE + 100 + n, input="x" * (40_000 + 1000 * n))
        for n in range(12)
    ]
    huge = rec(trace_id(), "huge", start=BASE + 200, input="y" * 300_000)
    _write(store, small, large, [huge])
    pages = []
    after = None
    while True:
        page = store.export_page("prj_a", "spans", after=after, limit=1000, max_bytes=100_000)
        pages.append(page.items)
        if page.next_cursor is None:
            break
        after = page.next_cursor
    names = [span["name"] for items in pages for span in items]
    assert sorted(names) == sorted(s.name for s in [*small, *large, huge])
    for items in pages:
        text = sum(len(span["input"] or "") for span in items)
        assert text <= 100_000 or len(items) == 1, [s["name"] for s in items]
    assert [len(items) for items in pages if items[0]["name"] == "huge"] == [1]
    assert max(len(items) for items in pages) >= 30  # the small ones share a page
