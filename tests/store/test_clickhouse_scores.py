"""Scores on the ClickHouse store (issue #19), on chDB and over HTTP: summaries, list
filters and the sort by a score, session status, scores, configs and deletes.

(The contract suite, tests/store/test_scores_contract.py, holds every store to the
same; these are the ClickHouse store's own checks, written beside it.)
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from lamina.store.base import Store
from lamina.store.queries import Cursor, ScoreCondition, SessionQuery, TraceQuery
from lamina.store.scores import OUTCOME, Category, Score, ScoreConfig, ScoreQuery, ScoreType
from tests.store.backends import Maker, clickhouse, clickhouse_http, store_id
from tests.store.test_contract import SECOND, rec, trace_id
from tests.store.writing import write

MINUTE = 60 * SECOND


@pytest.fixture(params=[clickhouse, clickhouse_http], ids=store_id)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    make: Maker = request.param
    opened = make(tmp_path).open()
    yield opened
    opened.close()


_n = iter(range(1, 1_000_000))


def score(name: str, value: float | None = None, **fields: Any) -> Score:
    n = next(_n)
    given: dict[str, Any] = {
        "score_id": f"sc-{n}",
        "name": name,
        "value": value,
        "label": None,
        "source": "api",
        "author": None,
        "session_id": None,
        "trace_id": None,
        "span_id": None,
        "comment": None,
        "created_ns": 1_000 + n,
    }
    given.update(fields)
    return Score(**given)


def session_trace(store: Store, session: str, start: int, project: str = "prj_a") -> str:
    trace = trace_id()
    write(store, [rec(trace, "turn", project=project, start=start, ms=5, session_id=session)])
    return trace


def cursor_of(text: str | None) -> Cursor:
    assert text is not None
    sort, value, key = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    return Cursor(sort, value, key)


def summary(row: dict[str, Any]) -> dict[str, tuple[float | None, int]]:
    return {name: (held["avg"], held["count"]) for name, held in row["score_summary"].items()}


def test_summaries_count_a_sessions_own_scores_and_its_traces(store: Store) -> None:
    now = time.time_ns()
    early = score("helpful", 1.0, trace_id="t-later")  # before its trace arrives
    store.add_scores("prj_a", [early, score("helpful", 0.0, session_id="s1")])
    store.add_scores("prj_a", [early])  # a retry: not a second score
    store.add_scores("prj_a", [replace(early, value=0.0)])  # a retry that differs: the first wins
    t1 = session_trace(store, "s1", now)
    write(store, [rec("t-later", "turn", start=now + SECOND, ms=5, session_id="s1")])
    store.add_scores(
        "prj_a",
        [
            score("outcome", None, label="unknown", session_id="s1"),
            score("outcome", 1.0, label="success", session_id="s1"),
            score("helpful", 0.5, trace_id=t1, span_id="abc"),
            score("other", 3.0, session_id="s-elsewhere"),
            score("both", 1.0, session_id="s1", trace_id=t1),  # counted once for s1
        ],
    )
    [row] = store.list_sessions("prj_a", SessionQuery()).items
    assert summary(row) == {"both": (1.0, 1), "helpful": (0.5, 3), "outcome": (1.0, 2)}
    detail = store.get_session("prj_a", "s1")
    assert detail is not None
    assert summary(detail) == summary(row)
    assert [s["created_ns"] for s in detail["scores"]] == sorted(
        (s["created_ns"] for s in detail["scores"]), reverse=True
    )
    assert len(detail["scores"]) == 6
    by_trace = {t["trace_id"]: summary(t) for t in detail["traces"]}
    assert by_trace == {
        t1: {"both": (1.0, 1), "helpful": (0.5, 1)},
        "t-later": {"helpful": (1.0, 1)},
    }
    trace = store.get_trace("prj_a", "t-later")
    assert trace is not None and [s["score_id"] for s in trace["scores"]] == [early.score_id]
    assert trace["scores"][0]["value"] == 1.0
    [many] = store.get_traces("prj_a", [t1])
    assert summary(many) == by_trace[t1] and len(many["scores"]) == 2
    listed = {t["trace_id"]: summary(t) for t in store.list_traces("prj_a", TraceQuery()).items}
    assert listed == by_trace


def test_filters_and_the_sort_by_a_score(store: Store) -> None:
    now = time.time_ns()
    for n, session in enumerate(("a", "b", "c", "d")):
        session_trace(store, session, now + n * SECOND)
    store.add_scores(
        "prj_a",
        [
            score("q", 1.0, session_id="a"),
            score("q", 0.0, session_id="a"),  # a: 0.5
            score("q", 0.9, session_id="b"),
            score("q", 0.2, session_id="c"),
            score("q", None, label="unknown", session_id="c"),
            score("outcome", 1.0, label="success", session_id="a"),
            score("outcome", 0.0, label="failure", session_id="b"),
        ],
    )

    def ids(**fields: Any) -> list[str]:
        return [r["session_id"] for r in store.list_sessions("prj_a", SessionQuery(**fields)).items]

    above = (ScoreCondition("q", ">=", 0.5),)
    assert sorted(ids(scores=above)) == ["a", "b"]
    assert ids(scores=(ScoreCondition("q", "!=", 0.5),), sort="session_id", descending=False) == [
        "b",
        "c",
    ]
    assert ids(scores=(ScoreCondition("outcome", "=", label="success"),)) == ["a"]
    assert ids(scores=(ScoreCondition("outcome", "!=", label="success"),)) == ["b"]
    assert sorted(ids(has_scores=("outcome",))) == ["a", "b"]
    assert ids(sort="score", score_sort="q", descending=True) == ["b", "a", "c", "d"]
    assert ids(sort="score", score_sort="q", descending=False) == ["c", "a", "b", "d"]
    query = SessionQuery(count_limit := 2, sort="score", score_sort="q", descending=False)
    assert query.limit == count_limit
    seen: list[str] = []
    while True:
        found = store.list_sessions("prj_a", query)
        seen += [r["session_id"] for r in found.items]
        if found.next_cursor is None:
            break
        cursor = cursor_of(found.next_cursor)
        assert cursor.sort == "score:q"
        query = replace(query, cursor=cursor)
    assert seen == ["c", "a", "b", "d"]
    counted = store.count_sessions("prj_a", SessionQuery(scores=above), 100)
    assert counted == 2

    traces = store.list_traces(
        "prj_a", TraceQuery(sort="score", score_sort="q", scores=(ScoreCondition("q", "<", 2.0),))
    )
    assert traces.items == []  # the scores are on sessions, not traces


def test_status_ends_and_idle_minutes(store: Store) -> None:
    project = store.create_project("scored")
    now = time.time_ns()
    session_trace(store, "fresh", now, project.id)
    session_trace(store, "idle", now - 40 * MINUTE, project.id)
    store.end_session(project.id, "later", now - SECOND)  # not seen yet
    store.end_session(project.id, "fresh", now - 2 * SECOND)
    store.end_session(project.id, "fresh", now)  # the first end wins

    def status() -> dict[str, tuple[str, int | None]]:
        rows = store.list_sessions(project.id, SessionQuery()).items
        return {r["session_id"]: (r["status"], r["ended_ns"]) for r in rows}

    idle_end = now - 40 * MINUTE + 5_000_000 + 30 * MINUTE
    assert status() == {"fresh": ("ended", now - 2 * SECOND), "idle": ("ended", idle_end)}
    session_trace(store, "later", now, project.id)
    session_trace(store, "open", now, project.id)
    assert status()["later"] == ("ended", now - SECOND)
    assert status()["open"] == ("active", None)
    active = store.list_sessions(project.id, SessionQuery(status="active")).items
    assert [r["session_id"] for r in active] == ["open"]
    updated = store.set_session_idle_minutes(project.id, 60)
    assert updated is not None and updated.session_idle_minutes == 60
    assert status()["idle"] == ("active", None)
    detail = store.get_session(project.id, "idle")
    assert detail is not None and detail["status"] == "active"
    assert store.set_session_idle_minutes("prj_none", 5) is None


def test_list_delete_scores_and_configs(store: Store) -> None:
    t1 = session_trace(store, "s1", time.time_ns())
    given = [score("q", float(n), trace_id=t1, source="sdk" if n % 2 else "api") for n in range(5)]
    given.append(score("q", 9.0, session_id="s1"))
    store.add_scores("prj_a", given)
    query = ScoreQuery(limit=2, session_id="s1")
    seen: list[str] = []
    while True:
        found = store.list_scores("prj_a", query)
        seen += [s.score_id for s in found.items]
        if found.next_cursor is None:
            break
        query = replace(query, cursor=cursor_of(found.next_cursor))
    assert seen == [s.score_id for s in reversed(given)]
    sdk = store.list_scores("prj_a", ScoreQuery(source="sdk", trace_id=t1)).items
    assert [s.value for s in sdk] == [3.0, 1.0]
    assert store.delete_score("prj_a", given[0].score_id) == given[0]
    assert store.delete_score("prj_a", given[0].score_id) is None
    assert len(store.list_scores("prj_a", ScoreQuery()).items) == 5

    rating = ScoreConfig("rating", ScoreType.NUMERIC, min=1, max=5, description="stars")
    stored = store.put_score_config("prj_a", rating)
    assert stored.created_ns > 0
    store.put_score_config("prj_a", OUTCOME)
    mood = ScoreConfig("mood", ScoreType.CATEGORICAL, categories=(Category("ok", 1.0),))
    store.put_score_config("prj_a", mood)
    store.put_score_config("prj_a", replace(mood, description="how it felt"))
    configs = store.list_score_configs("prj_a")
    assert [c.name for c in configs] == ["mood", "outcome", "rating"]
    assert configs[0].description == "how it felt" and configs[0].categories == mood.categories
    assert configs[1].categories == OUTCOME.categories
    assert store.list_score_configs("prj_b") == []
    assert store.delete_score_config("prj_a", "rating") == stored
    assert store.delete_score_config("prj_a", "rating") is None


def test_deletes_take_their_scores(store: Store) -> None:
    project = store.create_project("doomed")
    now = time.time_ns()
    t1 = session_trace(store, "s1", now, project.id)
    t2 = session_trace(store, "s2", now, project.id)
    t3 = session_trace(store, "s3", now, project.id)
    store.add_scores(
        project.id,
        [
            score("q", 1.0, trace_id=t1),
            score("q", 1.0, session_id="s2"),
            score("q", 1.0, trace_id=t2),
            score("q", 1.0, session_id="s3"),
            score("q", 1.0, session_id="s-none"),  # a session with no trace yet
        ],
    )
    store.put_score_config(project.id, OUTCOME)
    store.delete_trace(project.id, t1)
    store.delete_session(project.id, "s2")
    store.delete_session(project.id, "s-none")
    left = store.list_scores(project.id, ScoreQuery()).items
    assert [s.session_id for s in left] == ["s3"]
    store.delete_trace(project.id, t3)  # s3 is left without a trace: it keeps its own
    assert [s.session_id for s in store.list_scores(project.id, ScoreQuery()).items] == ["s3"]
    store.add_scores(project.id, [score("q", 1.0, session_id="s4")])
    store.delete_project(project.id)
    assert store.list_scores(project.id, ScoreQuery()).items == []
    assert store.list_score_configs(project.id) == []


def test_a_database_of_the_first_schema_gains_scores(tmp_path: Path) -> None:
    """A database written before scores (schema 1, a project in it) is brought to
    schema 2 when opened: its project's idle time is the default, and scores work."""
    from lamina.store.clickhouse.client import ChdbClient, parse_store
    from lamina.store.clickhouse.schema import MIGRATIONS, SCHEMA_TABLE, SCHEMA_VERSION
    from lamina.store.clickhouse.store import ClickHouseStore

    database = "old_" + tmp_path.name.replace("-", "_")
    address = parse_store(f"chdb://{tmp_path.parent}/chdb?database={database}")
    assert address.path is not None
    client = ChdbClient(address.path)
    try:
        client.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
        client.use(database)
        client.execute(SCHEMA_TABLE)
        for statement in MIGRATIONS[0]:
            client.execute(statement)
        client.execute("INSERT INTO schema_version VALUES (1, 0)")
        client.execute("INSERT INTO projects VALUES ('old', 'prj_old', 1, NULL, -1)")
    finally:
        client.close()
    store = ClickHouseStore(address)
    try:
        found = store.find_project("old")
        assert found is not None and found.session_idle_minutes == 30
        rows = store.connection.query("SELECT max(version) AS v FROM schema_version")
        assert rows[0]["v"] == SCHEMA_VERSION
        session_trace(store, "s1", time.time_ns(), "prj_old")
        store.add_scores("prj_old", [score("q", 1.0, session_id="s1")])
        [row] = store.list_sessions("prj_old", SessionQuery()).items
        assert summary(row) == {"q": (1.0, 1)} and row["status"] == "active"
    finally:
        store.close()


def test_scores_of_a_store_made_before_trace_sessions_count_for_their_sessions(
    tmp_path: Path,
) -> None:
    """Scores on traces stored before scores kept their trace's session (schema 5) get it
    when the store is opened: a list filtered and sorted by them finds their sessions."""
    from lamina.store.clickhouse.client import ChdbClient, parse_store
    from lamina.store.clickhouse.store import ClickHouseStore

    database = "before_" + tmp_path.name.replace("-", "_")
    address = parse_store(f"chdb://{tmp_path.parent}/chdb?database={database}")
    assert address.path is not None
    store = ClickHouseStore(address)
    try:
        traces = [session_trace(store, f"s{n}", time.time_ns() + n) for n in range(3)]
        store.add_scores("prj_a", [score("q", n / 2, trace_id=t) for n, t in enumerate(traces)])
    finally:
        store.close()
    client = ChdbClient(address.path)  # back to schema 5: no trace_session
    try:
        client.use(address.database)
        client.execute("ALTER TABLE scores DROP COLUMN trace_session")
        client.execute("DELETE FROM schema_version WHERE version >= 6")  # and every later one
    finally:
        client.close()
    store = ClickHouseStore(address)
    try:
        low = SessionQuery(scores=(ScoreCondition("q", "<", 0.75),))
        assert {row["session_id"] for row in store.list_sessions("prj_a", low).items} == {
            "s0",
            "s1",
        }
        ordered = store.list_sessions("prj_a", SessionQuery(sort="score", score_sort="q"))
        assert [row["session_id"] for row in ordered.items] == ["s2", "s1", "s0"]
        assert summary(store.get_session("prj_a", "s1") or {}) == {"q": (0.5, 1)}
    finally:
        store.close()


def test_two_servers_adding_the_same_scores_store_each_once(tmp_path: Path) -> None:
    """Two servers on one database (a client retrying on the other one) add the same
    score_ids at once: each is stored once, with the first server's fields."""
    backend = clickhouse(tmp_path)
    first, second = backend.open(), backend.open()
    try:
        session_trace(first, "s1", time.time_ns())
        given = [score("q", float(n % 2), session_id="s1") for n in range(200)]
        first.add_scores("prj_a", given)
        threads = [
            threading.Thread(target=server.add_scores, args=("prj_a", batch))
            for server, batch in (
                (first, given),
                (second, [replace(s, value=5.0) for s in given]),
            )
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
        for server in (first, second):
            [row] = server.list_sessions("prj_a", SessionQuery()).items
            assert summary(row) == {"q": (0.5, 200)}
            assert len(server.list_scores("prj_a", ScoreQuery(limit=500)).items) == 200
    finally:
        first.close()
        second.close()
