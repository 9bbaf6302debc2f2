"""The Store contract for the SQL console (lamina.store.console): on every store, a
query reads only its project's rows whatever it says, what the guard refuses is
refused with a message that names it, the engine's limits cut a query off, and
legitimate queries answer what the lists answer.

Two projects hold data; every query runs as prj_a, and no answer may hold a row,
count or id of prj_b.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlglot import exp

from lamina.errors import BadRequest
from lamina.query import saved_queries
from lamina.store.base import Store
from lamina.store.console import VIEWS, ConsoleQuery, ConsoleResult, saved_queries_setting
from lamina.store.queries import MAX_LIMIT, SessionQuery, TraceQuery
from lamina.store.scores import Score
from tests.store.backends import STORES, Maker, store_id
from tests.store.backends import duckdb as duckdb_backend
from tests.store.test_contract import BASE, SECOND, rec, trace_id
from tests.store.test_metrics_contract import make_data
from tests.store.writing import write

MINE, OTHER = "prj_a", "prj_b"


@pytest.fixture(scope="module", params=STORES, ids=store_id)
def filled(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    """One store a module (the queries change nothing), holding both projects."""
    make: Maker = request.param
    store = make(tmp_path_factory.mktemp(f"console_{make.__name__}")).open()
    for project, seed in ((MINE, 1), (OTHER, 2)):
        data = make_data(random.Random(seed), project)
        write(store, [span for trace in data.traces for span in trace.spans])
        first = data.traces[0]
        store.add_scores(
            project,
            [
                Score(
                    f"{project}-score-{n}",
                    "helpful",
                    n / 4,
                    None,
                    "api",
                    None,
                    first.session_id,
                    None if first.session_id else first.trace_id,
                    None,
                    None,
                    BASE + n * SECOND,
                )
                for n in range(3)
            ],
        )
    yield store
    store.close()


def run(store: Store, text: str, max_rows: int = 1000, timeout_s: float = 5) -> ConsoleResult:
    return store.run_sql(MINE, ConsoleQuery(text, max_rows, timeout_s, 256))


def refused(store: Store, text: str, *words: str) -> str:
    with pytest.raises(BadRequest) as caught:
        run(store, text)
    message = caught.value.message
    for word in words:  # "a|b": either (the dialects read some queries differently)
        assert any(w.lower() in message.lower() for w in word.split("|")), (text, message)
    return message


def all_sessions(store: Store, project: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = store.list_sessions(project, SessionQuery(limit=MAX_LIMIT, cursor=cursor))
        rows += page.items
        if page.next_cursor is None:
            return rows
        cursor = page.next_cursor


def all_traces(store: Store, project: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = store.list_traces(project, TraceQuery(limit=MAX_LIMIT, cursor=cursor))
        rows += page.items
        if page.next_cursor is None:
            return rows
        cursor = page.next_cursor


def _day(value: datetime) -> str:
    return value.replace(tzinfo=None).date().isoformat()


# -- legitimate queries answer what the lists answer ------------------------------------------


def test_sessions_by_day_is_the_lists_count(filled: Store) -> None:
    """The issue's query, in the store's dialect as written."""
    result = run(filled, "SELECT date_trunc('day', start_time), count(*) FROM sessions GROUP BY 1")
    got = {_day(day): count for day, count in result.rows}
    listed = Counter(
        datetime.fromtimestamp(row["start_ns"] / 1e9, UTC).date().isoformat()
        for row in all_sessions(filled, MINE)
    )
    assert got == dict(listed)
    assert [c.type for c in result.columns] == ["timestamp", "integer"]


def test_session_and_trace_rows_are_the_lists(filled: Store) -> None:
    result = run(
        filled,
        "SELECT session_id, user_id, trace_count, span_count, error_count, cost "
        "FROM sessions ORDER BY session_id",
    )
    listed = sorted(all_sessions(filled, MINE), key=lambda row: row["session_id"])
    assert [row[0] for row in result.rows] == [row["session_id"] for row in listed]
    for got, row in zip(result.rows, listed, strict=True):
        assert got[2:5] == [row["trace_count"], row["span_count"], row["error_count"]]
        assert got[5] == pytest.approx(row["cost"])
    traces = run(filled, "SELECT trace_id, name, span_count FROM traces ORDER BY trace_id")
    listed_traces = sorted(all_traces(filled, MINE), key=lambda row: row["trace_id"])
    assert traces.rows == [[t["trace_id"], t["name"], t["span_count"]] for t in listed_traces]
    (count,) = run(filled, "SELECT count(*) FROM spans").rows[0]
    assert count == filled.count_spans(MINE)
    scores = run(filled, "SELECT score_id FROM scores ORDER BY score_id")
    assert scores.rows == [[f"{MINE}-score-{n}"] for n in range(3)]


def test_every_view_has_its_documented_columns(filled: Store) -> None:
    for view, columns in VIEWS.items():
        result = run(filled, f"SELECT * FROM {view} LIMIT 1")
        assert [c.name for c in result.columns] == [c.name for c in columns], view


def test_row_cap_answers_the_first_rows_and_says_truncated(filled: Store) -> None:
    result = run(filled, "SELECT span_id FROM spans ORDER BY span_id", max_rows=5)
    assert len(result.rows) == 5 and result.truncated
    whole = run(filled, "SELECT span_id FROM spans ORDER BY span_id LIMIT 5", max_rows=5)
    assert whole.rows == result.rows and not whole.truncated


# -- another project's rows: never ----------------------------------------------------------

SPANS_OF_MINE = "SELECT count(*) FROM spans"
SNEAKY = [
    # joins, subqueries, UNION, CTEs: each only ever reads the project's views
    "SELECT count(*) FROM spans a JOIN traces b ON true WHERE b.trace_id = a.trace_id",
    "SELECT count(*) FROM (SELECT * FROM spans UNION ALL SELECT * FROM spans WHERE false)",
    "WITH mine AS (SELECT * FROM spans) SELECT count(*) FROM mine",
    "WITH x AS (SELECT trace_id FROM traces) SELECT count(*) FROM spans WHERE trace_id IN "
    "(SELECT trace_id FROM x) OR trace_id NOT IN (SELECT trace_id FROM x)",
    "select COUNT(*) from SPANS /* prj_b */ -- where project_id = 'prj_b'",
    'SELECT count(*) FROM "spans"',
    "SELECT count(*) FROM (SELECT * FROM spans) AS traces",
]


@pytest.mark.parametrize("text", SNEAKY)
def test_joins_unions_ctes_and_tricks_see_only_the_project(filled: Store, text: str) -> None:
    (expected,) = run(filled, SPANS_OF_MINE).rows[0]
    assert run(filled, text).rows == [[expected]]
    assert expected == filled.count_spans(MINE) != filled.count_spans()


def test_no_answer_names_another_projects_rows(filled: Store) -> None:
    for view, key in (("sessions", "session_id"), ("traces", "trace_id"), ("scores", "score_id")):
        mine = {row[0] for row in run(filled, f"SELECT {key} FROM {view}").rows}
        assert mine and all(OTHER not in str(value) for value in mine), view
    others = run(filled, "SELECT count(*) FROM sessions WHERE session_id LIKE 'prj_b%'")
    assert others.rows == [[0]]


HOSTILE = [
    ("SELECT * FROM sessions WHERE project_id = 'prj_b'", ["project_id"]),
    ("SELECT * FROM read_csv('/etc/passwd')", ["read_csv", "not allowed"]),
    ("SELECT * FROM read_parquet('/tmp/x.parquet')", ["read_parquet", "not allowed"]),
    ("SELECT * FROM glob('/etc/*')", ["glob|could not read"]),
    ("SELECT getenv('HOME')", ["getenv", "not allowed"]),
    ("SELECT * FROM duckdb_settings()", ["duckdb_settings", "not allowed"]),
    ("SELECT current_setting('memory_limit')", ["current_setting", "not allowed"]),
    ("SELECT * FROM system.tables", ["Unknown table system.tables", "sessions, traces"]),
    ("SELECT * FROM file('/etc/passwd')", ["file", "not allowed|unknown table"]),
    ("SELECT * FROM url('http://127.0.0.1:9/x')", ["url", "not allowed"]),
    ("SELECT * FROM '/etc/passwd'", ["Unknown table /etc/passwd"]),
    ("SELECT * FROM api_keys", ["Unknown table api_keys"]),
    ("SELECT * FROM lamina.main.spans", ["Unknown table lamina.main.spans"]),
    (
        "SELECT * FROM (WITH api_keys AS (SELECT 1 AS x) SELECT * FROM api_keys), api_keys",
        ["Unknown table api_keys"],
    ),
    ("WITH spans AS (SELECT * FROM spans) SELECT * FROM spans", ["cannot be named spans"]),
    ("COPY (SELECT * FROM spans) TO '/tmp/out.csv'", ["Only one SELECT", "COPY"]),
    ("ATTACH '/tmp/other.duckdb' AS other", ["Only one SELECT"]),
    ("PRAGMA database_list", ["Only one SELECT"]),
    ("SET memory_limit = '10GB'", ["Only one SELECT"]),
    ("INSTALL httpfs", ["Only one SELECT"]),
    ("LOAD httpfs", ["Only one SELECT"]),
    ("DELETE FROM spans", ["Only one SELECT"]),
    ("SELECT 1; SELECT * FROM api_keys", ["Only one SELECT"]),
    ("SELECT count(*) FROM spans; DROP TABLE spans", ["Only one SELECT"]),
    ("SELECT 1 SETTINGS readonly = 0", ["settings|could not read"]),
    ("SELECT * FROM range(10)", ["range", "not allowed"]),
    ("SELECT * FROM numbers(10)", ["numbers", "not allowed"]),
    ("SELECT * FROM query('SELECT * FROM api_keys')", ["query", "not allowed"]),
    (
        "WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r) SELECT * FROM r",
        ["RECURSIVE"],
    ),
    ("SELECT ?", ["Parameters"]),
    # ClickHouse reads x IN name from the table of that name
    ("SELECT count(*) FROM sessions WHERE session_id IN api_keys", ["IN takes a subquery"]),
    ("SELECT count(*) FROM traces WHERE trace_id IN (session_traces)", ["IN takes"]),
    ("SELECT count(*) FROM traces WHERE trace_id IN ((system.tables))", ["IN takes"]),
    ("SELECT count(*) FROM traces WHERE trace_id NOT IN settings", ["IN takes"]),
    (  # a membership oracle over another project's rows, were it let through
        "SELECT count(*) FROM traces WHERE ('prj_b', 'prj_b-s1', trace_id) IN session_traces",
        ["IN takes"],
    ),
    ("", ["empty"]),
]


@pytest.mark.parametrize(("text", "words"), HOSTILE, ids=[t[:40] for t, _ in HOSTILE])
def test_hostile_queries_are_refused_and_say_why(
    filled: Store, text: str, words: list[str]
) -> None:
    refused(filled, text, *words)


def test_a_long_query_is_stopped_at_the_time_limit(filled: Store) -> None:
    """Five spans tables crossed: 156^5 rows, hours of work; stopped at 0.5 s."""
    started = time.monotonic()
    with pytest.raises(BadRequest) as caught:
        run(
            filled,
            "SELECT count(*) FROM spans a, spans b, spans c, spans d, spans e",
            timeout_s=0.5,
        )
    assert "longer than 0.5 s" in caught.value.message
    assert time.monotonic() - started < 10
    # the store answers the next query (chDB kept no half-read answer for it)
    assert run(filled, SPANS_OF_MINE).rows == [[filled.count_spans(MINE)]]


def test_a_huge_cross_join_is_cut_off(filled: Store) -> None:
    """Every row of a cross join asked for: the row cap answers the first ones."""
    result = run(
        filled,
        "SELECT a.span_id, b.span_id FROM spans a, spans b, spans c",
        max_rows=100,
        timeout_s=5,
    )
    assert len(result.rows) == 100 and result.truncated


TRICKY = [
    "it's",
    "a\\'b",
    "back\\\\slash\\",
    "x'); SELECT * FROM api_keys; --",
    "*/ 1 /*",
    "{project:String}",
    "$lamina_project",
    "\\n\\t",
    "é 中",
]


def test_a_string_is_read_by_the_engine_as_the_guard_read_it(filled: Store) -> None:
    """The SQL that runs is generated from the checked tree: a literal with quotes,
    backslashes, comment marks or parameter syntax is one value to the engine too (were
    the dialects' escapes to disagree, text inside it could run as SQL)."""
    dialect = filled.sql_dialect
    for text in TRICKY:
        literal = exp.Literal.string(text).sql(dialect=dialect)
        result = run(filled, f"SELECT {literal} AS x, 1 AS y")
        assert result.rows == [[text, 1]], (text, literal)


def test_an_outer_join_means_the_same_on_every_store(filled: Store) -> None:
    """A trace without a session finds no session row: NULL there on every store (on
    ClickHouse only with join_use_nulls; by default it would be '' and 0)."""
    result = run(
        filled,
        "SELECT count(*), count(s.trace_count) FROM traces t "
        "LEFT JOIN sessions s ON s.session_id = t.session_id WHERE s.session_id IS NULL",
    )
    alone = sum(1 for row in all_traces(filled, MINE) if row["session_id"] is None)
    assert alone > 0 and result.rows == [[alone, 0]]


def test_deleting_a_project_deletes_its_saved_queries(store: Store) -> None:
    doomed, kept = store.create_project("doomed"), store.create_project("kept")
    for project in (doomed, kept):
        saved_queries.save(store, project.id, "by day", "SELECT count(*) FROM sessions", None)
    store.delete_project(doomed.id)
    assert saved_queries.list_saved(store, doomed.id) == []
    assert store.get_setting(saved_queries_setting(doomed.id)) is None
    assert [q.name for q in saved_queries.list_saved(store, kept.id)] == ["by day"]


@pytest.mark.parametrize("make", [duckdb_backend], ids=["duckdb"])
def test_a_running_query_does_not_hold_up_ingest(make: Maker, tmp_path: Path) -> None:
    """While a query runs on the DuckDB store (its own cursor, 2 s of a cross join), a
    batch of spans is written, stored and listed. (chDB runs one statement at a time:
    there the time limit bounds the wait; docs/decisions.md.)"""
    store = make(tmp_path).open()
    try:
        data = make_data(random.Random(3), MINE)
        write(store, [span for trace in data.traces for span in trace.spans])
        failures: list[str] = []

        def heavy() -> None:
            try:
                run(
                    store,
                    "SELECT count(*) FROM spans a, spans b, spans c, spans d, spans e",
                    timeout_s=2,
                )
            except BadRequest as exc:
                failures.append(exc.message)

        query = threading.Thread(target=heavy)
        query.start()
        started = time.monotonic()
        while time.monotonic() - started < 0.3:  # the query's cursor has begun by then
            query.join(0.05)
        session = f"{MINE}-during"
        write(store, [rec(trace_id(), "late", project=MINE, session_id=session)])
        listed = store.list_sessions(MINE, SessionQuery(limit=MAX_LIMIT)).items
        assert session in {row["session_id"] for row in listed}
        assert query.is_alive(), "the query ended before the write: nothing was shown"
        assert time.monotonic() - started < 1.9
        query.join(10)
        assert failures and "longer than 2 s" in failures[0]
    finally:
        store.close()


@pytest.mark.parametrize("make", [duckdb_backend], ids=["duckdb"])
def test_a_query_takes_at_most_half_the_stores_memory_while_ingest_goes_on(
    make: Maker, tmp_path: Path
) -> None:
    """On DuckDB a console query shares the store's memory (256 MB here) with ingest:
    one asked to hold a cross join in a list with a limit of 4 GB is stopped at half the
    store's, 128 MB, while batches of spans are written beside it, each stored. (Before
    the console watched its memory, the query took the whole store's and failed on
    DuckDB's own limit, and a statement of any other cursor could fail with it.)"""
    store = make(tmp_path).open()
    try:
        data = make_data(random.Random(4), MINE)
        write(store, [span for trace in data.traces for span in trace.spans])
        failures: list[str] = []
        text = "SELECT list(concat(a.span_id, b.span_id, c.span_id)) FROM spans a, spans b, spans c"

        def heavy() -> None:
            try:
                store.run_sql(MINE, ConsoleQuery(text, 10, 10, 4096))
            except BadRequest as exc:
                failures.append(exc.message)

        query = threading.Thread(target=heavy)
        query.start()
        written, beside = [], 0
        while query.is_alive() and len(written) < 200:
            session = f"{MINE}-beside-{len(written)}"
            write(store, [rec(trace_id(), "beside", project=MINE, session_id=session)])
            written.append(session)
            beside += query.is_alive()
        query.join(10)
        assert failures and "more than 128 MB of memory" in failures[0]
        assert beside >= 1, "the query ended before a write: nothing was shown"
        listed = store.list_sessions(MINE, SessionQuery(limit=MAX_LIMIT)).items
        assert set(written) <= {row["session_id"] for row in listed}
    finally:
        store.close()


def test_a_query_over_its_memory_is_stopped(filled: Store) -> None:
    """--sql-memory-mb: every row of a cross join held in one list is stopped at 16 MB
    (ClickHouse's max_memory_usage; on DuckDB the console's watch of what query work
    holds), well before its 10 s, and the next query answers."""
    held = "list" if filled.sql_dialect == "duckdb" else "groupArray"
    text = f"SELECT {held}(concat(a.span_id, b.span_id, c.span_id)) FROM spans a, spans b, spans c"
    started = time.monotonic()
    with pytest.raises(BadRequest) as caught:
        filled.run_sql(MINE, ConsoleQuery(text, 10, 10, 16))
    assert "more than 16 MB of memory" in caught.value.message
    assert time.monotonic() - started < 5
    assert run(filled, SPANS_OF_MINE).rows == [[filled.count_spans(MINE)]]
