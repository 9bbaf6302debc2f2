"""Pages by cost on the DuckDB store, which reads them from a copy of each project's
costliest sessions first (fold_sql.COSTLIEST_KEPT): whatever happens to the
sessions, every page must be the one sorting all sessions by cost gives."""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

import duckdb
import pytest

from lamina.query.params import parse_session_query
from lamina.store.duckdb import fold_sql
from lamina.store.duckdb.store import DB_FILE, DuckDBStore
from tests.spans.record import SpanRecord
from tests.store.writing import write
from tests.support.schema import drop_tables_after

MS = 1_000_000
BASE = 1_767_225_600 * 1_000_000_000  # 2026-01-01T00:00:00Z
_ids = itertools.count(1)


def span(
    trace: str, session: str | None, cost: float | None, start: int, project: str = "prj_a"
) -> SpanRecord:
    return SpanRecord(
        project_id=project,
        trace_id=trace,
        span_id=f"{next(_ids):016x}",
        parent_span_id=None,
        name="turn",
        span_type="LLM",
        start_ns=start,
        end_ns=start + MS,
        status="ok",
        session_id=session,
        user_id=f"u-{len(session or '') % 2}",
        cost=cost,
    )


def pages(store: DuckDBStore, project: str, **params: str) -> list[dict[str, Any]]:
    """Every page of sessions, one after the other."""
    rows: list[dict[str, Any]] = []
    cursor: dict[str, str] = {}
    while True:
        page = store.list_sessions(project, parse_session_query({**params, **cursor}))
        rows += page.items
        if page.next_cursor is None:
            return rows
        cursor = {"cursor": page.next_cursor}


def by_cost(store: DuckDBStore, limit: int, project: str = "prj_a", **params: str) -> list[str]:
    """Every page by cost, most expensive first, ``limit`` at a time."""
    rows = pages(store, project, sort="cost", limit=str(limit), **params)
    return [row["session_id"] for row in rows]


def expected(store: DuckDBStore, project: str = "prj_a", **params: str) -> list[str]:
    """All sessions, newest first, sorted here by cost (then id, as the store breaks ties)."""
    rows = pages(store, project, limit="500", **params)
    rows.sort(key=lambda row: (row["cost"] or 0, row["session_id"]), reverse=True)
    return [row["session_id"] for row in rows]


def kept(store: DuckDBStore, project: str) -> list[str]:
    """The sessions the store keeps as the project's costliest, once what is written
    is folded in (as before any read)."""
    with store._storer.reading():
        rows = store._connection.query(
            "SELECT session_id FROM costliest_sessions WHERE project_id = ? "
            f"ORDER BY {fold_sql.COST_ORDER}",
            [project],
        )
    return [row["session_id"] for row in rows]


@pytest.mark.parametrize("seed", range(3))
def test_pages_by_cost_stay_exact_whatever_happens_to_the_sessions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """With 3 sessions kept per project: new sessions, sessions growing costlier, a late
    span moving a trace (and its cost) to another session, deletes of traces and
    sessions, a retention cut, tied and unknown costs, two projects."""
    monkeypatch.setattr(fold_sql, "COSTLIEST_KEPT", 3)
    rng = random.Random(seed)
    store = DuckDBStore(tmp_path)
    traces: dict[str, tuple[str, str, int]] = {}  # trace id: project, session, start
    clock = itertools.count(BASE, 10 * MS)
    try:
        for step in range(60):
            action = rng.choice(["new", "new", "grow", "move", "delete", "drop", "age"])
            known = sorted(traces)
            project = rng.choice(["prj_a", "prj_a", "prj_b"])
            cost = rng.choice([None, 0.0, 1.0, 1.0, 2.5, 4.0, 7.0])
            if action == "new" or not known:
                trace = f"{next(_ids):032x}"
                session = f"s-{rng.randrange(12):02d}"
                start = next(clock)
                traces[trace] = (project, session, start)
                write(store, [span(trace, session, cost, start, project)])
            elif action == "grow":
                trace = rng.choice(known)
                project, session, start = traces[trace]
                write(store, [span(trace, session, cost, next(clock), project)])
            elif action == "move":  # an earlier span names another session
                trace = rng.choice(known)
                project, _, start = traces[trace]
                session = f"s-{rng.randrange(12):02d}"
                start -= MS
                traces[trace] = (project, session, start)
                write(store, [span(trace, session, cost, start, project)])
            elif action == "delete":
                trace = rng.choice(known)
                store.delete_trace(traces.pop(trace)[0], trace)
            elif action == "drop":
                project, session, _ = traces[rng.choice(known)]
                store.delete_session(project, session)
                traces = {t: v for t, v in traces.items() if v[:2] != (project, session)}
            else:
                cut = sorted(start for _, _, start in traces.values())[len(traces) // 4]
                for name in ("prj_a", "prj_b"):
                    store.delete_before(name, cut)  # deletes traces that ended before
                traces = {t: v for t, v in traces.items() if v[2] + MS >= cut}
            for name in ("prj_a", "prj_b"):
                want = expected(store, name)
                assert kept(store, name) == want[:3], (step, action)
                assert by_cost(store, 2, name) == want, (step, action)
                assert by_cost(store, 1, name, user_id="u-1") == expected(
                    store, name, user_id="u-1"
                )
    finally:
        store.close()


def test_an_older_data_dir_gets_its_costliest_sessions_on_upgrade(tmp_path: Path) -> None:
    """Schema migration 8 fills the copy from the sessions already stored."""
    store = DuckDBStore(tmp_path)
    costs: dict[str, float] = {}
    for n in range(8):
        session, cost = f"s-{n}", float((n * 5) % 8)
        costs[session] = cost
        write(store, [span(f"{next(_ids):032x}", session, cost, BASE + n * MS)])
    want = expected(store)
    store.close()
    with duckdb.connect(str(tmp_path / DB_FILE)) as con:
        drop_tables_after(7, con)  # costliest_sessions (migration 8) and all later
        con.execute("ALTER TABLE spans DROP COLUMN cut_lengths")
        con.execute("ALTER TABLE projects DROP COLUMN session_idle_minutes")
        con.execute("DELETE FROM schema_version WHERE version >= 8")
    store = DuckDBStore(tmp_path)
    try:
        assert kept(store, "prj_a") == want  # 8 sessions: all of them
        assert by_cost(store, 3) == want == sorted(costs, key=lambda s: (costs[s], s))[::-1]
    finally:
        store.close()


def test_a_page_past_the_kept_sessions_reads_them_all(tmp_path: Path) -> None:
    """More sessions than are kept: the pages past them come from every session."""
    store = DuckDBStore(tmp_path)
    try:
        records: list[SpanRecord] = []
        for n in range(fold_sql.COSTLIEST_KEPT + 40):
            records.append(span(f"{next(_ids):032x}", f"s-{n:04d}", n % 97 / 10, BASE + n * MS))
        write(store, records)
        want = expected(store)
        got = by_cost(store, 200)
        assert got == want and len(got) == fold_sql.COSTLIEST_KEPT + 40
        assert kept(store, "prj_a") == want[: fold_sql.COSTLIEST_KEPT]
    finally:
        store.close()


def test_a_costly_session_that_loses_cost_gives_way_to_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three kept of four: the costliest loses its dearest trace (deleted), then a trace
    moves from the second to a new session; each time the session ranked fourth must
    take its place on the first page."""
    monkeypatch.setattr(fold_sql, "COSTLIEST_KEPT", 3)
    store = DuckDBStore(tmp_path)
    try:
        dear, cheap = f"{next(_ids):032x}", f"{next(_ids):032x}"
        moving = f"{next(_ids):032x}"
        write(
            store,
            [
                span(dear, "s-a", 10.0, BASE),
                span(cheap, "s-a", 0.5, BASE + MS),
                span(moving, "s-b", 9.0, BASE + 2 * MS),
                span(f"{next(_ids):032x}", "s-b", 0.2, BASE + 2 * MS),
                span(f"{next(_ids):032x}", "s-c", 8.0, BASE + 3 * MS),
                span(f"{next(_ids):032x}", "s-d", 7.0, BASE + 4 * MS),
            ],
        )
        assert by_cost(store, 2) == ["s-a", "s-b", "s-c", "s-d"]
        store.delete_trace("prj_a", dear)
        assert by_cost(store, 2) == ["s-b", "s-c", "s-d", "s-a"]
        assert kept(store, "prj_a") == ["s-b", "s-c", "s-d"]
        write(store, [span(moving, "s-e", None, BASE)])  # earlier: now in s-e
        assert by_cost(store, 2) == ["s-e", "s-c", "s-d", "s-a", "s-b"]
        assert kept(store, "prj_a") == ["s-e", "s-c", "s-d"]
    finally:
        store.close()


def test_a_deleted_project_keeps_nothing(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path)
    try:
        for project in ("prj_a", "prj_b"):
            write(store, [span(f"{next(_ids):032x}", "s-1", 1.0, BASE, project)])
        assert kept(store, "prj_a") == kept(store, "prj_b") == ["s-1"]
        store.delete_project("prj_a")
        assert kept(store, "prj_a") == [] and kept(store, "prj_b") == ["s-1"]
    finally:
        store.close()
