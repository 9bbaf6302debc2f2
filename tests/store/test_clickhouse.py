"""What only the ClickHouse store does: exact reads before merges, many servers on one
database, its schema version, its parameters and its store addresses.

Runs the store's SQL on chDB (ClickHouse's engine in-process); each test has a database
of its own in one chDB directory per test run (chDB runs one engine per process).
"""

from __future__ import annotations

import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lamina.errors import ConfigError, Conflict
from lamina.store.clickhouse.client import StoreAddress, parse_store
from lamina.store.clickhouse.schema import SCHEMA_VERSION
from lamina.store.clickhouse.store import ClickHouseStore
from tests.spans.record import SpanRecord
from tests.store.test_contract import BASE, SECOND, agent_trace, rec, sessions, trace_id
from tests.store.writing import write

SUMMARY_TABLES = ("traces", "session_traces", "sessions")


@pytest.fixture
def opener(tmp_path: Path) -> Iterator[Callable[[str], ClickHouseStore]]:
    """Opens stores on databases of this test (each open is one 'server')."""
    opened: list[ClickHouseStore] = []
    prefix = "t_" + re.sub(r"\W", "_", tmp_path.name)

    def open_(name: str = "main") -> ClickHouseStore:
        address = parse_store(f"chdb://{tmp_path.parent}/chdb?database={prefix}_{name}")
        store = ClickHouseStore(address)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


def _query(store: ClickHouseStore, sql: str) -> list[dict[str, Any]]:
    return store.connection.client.query(sql).to_pylist()  # a test may look inside


def _pieces(seed: int) -> tuple[list[SpanRecord], list[list[SpanRecord]]]:
    """Three traces of one session, in order; and the same spans cut into shuffled writes."""
    rng = random.Random(seed)
    spans = [
        span
        for n in range(3)
        for span in agent_trace("s-1", BASE + n * 5 * SECOND, turn=n, user=f"u-{n % 2}")
    ]
    shuffled = spans[:]
    rng.shuffle(shuffled)
    cuts = sorted(rng.sample(range(1, len(shuffled)), 4))
    return spans, [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(shuffled)], strict=True)]


def _everything(store: ClickHouseStore) -> dict[str, Any]:
    session = store.get_session("prj_a", "s-1")
    assert session is not None
    return {
        "session": session,
        "sessions": sessions(store),
        "traces": [store.get_trace("prj_a", t["trace_id"]) for t in session["traces"]],
    }


@pytest.mark.parametrize("seed", [0, 1])
def test_reads_are_exact_before_any_merge(
    opener: Callable[[str], ClickHouseStore], seed: int
) -> None:
    """Summaries read from unmerged delta rows and session versions equal merged ones."""
    spans, writes = _pieces(seed)
    merged = opener("merged")
    write(merged, spans)
    for table in SUMMARY_TABLES:
        merged.connection.client.execute(f"OPTIMIZE TABLE {table} FINAL")

    unmerged = opener("unmerged")
    for table in SUMMARY_TABLES:
        unmerged.connection.client.execute(f"SYSTEM STOP MERGES {table}")
    for piece in writes:
        write(unmerged, piece)
    rows = _query(unmerged, "SELECT count() AS n FROM traces")[0]["n"]
    versions = _query(unmerged, "SELECT count() AS n FROM sessions")[0]["n"]
    assert rows > 3 and versions > 1  # the reads below really meet unmerged rows

    assert _everything(unmerged) == _everything(merged)
    # lists and filters meet only the newest version of a session
    assert [row["trace_count"] for row in sessions(unmerged)] == [3]
    assert [row["session_id"] for row in sessions(unmerged, min_traces="3")] == ["s-1"]


def test_two_servers_writing_pieces_of_the_same_traces_at_once_agree(
    opener: Callable[[str], ClickHouseStore],
) -> None:
    spans, writes = _pieces(7)
    alone = opener("alone")
    write(alone, spans)
    first, second = opener("shared"), opener("shared")
    errors: list[BaseException] = []

    def write_all(store: ClickHouseStore, parts: list[list[SpanRecord]]) -> None:
        try:
            for part in parts:
                write(store, part)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=write_all, args=(first, writes[0::2])),
        threading.Thread(target=write_all, args=(second, writes[1::2])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    # a write's session refresh may have run before the other server's pieces
    # arrived: the last refresh, which saw everything, is the version read
    assert _everything(first) == _everything(second) == _everything(alone)


def test_servers_share_projects_keys_users_and_settings(
    opener: Callable[[str], ClickHouseStore],
) -> None:
    one, two = opener("shared"), opener("shared")
    project = one.create_project("alpha")
    with pytest.raises(Conflict):
        two.create_project("alpha")
    key = two.create_key(project.id, "ci", "hash-1", "lmn_abc")
    assert one.project_for_key("hash-1") == project.id
    one.revoke_key(key.id)
    assert two.project_for_key("hash-1") is None
    one.create_user("a@example.com", "h", True)
    with pytest.raises(Conflict):
        two.create_user("A@example.com", "h", False)
    two.set_setting("secret", "s1")
    assert one.get_setting("secret") == "s1"
    assert one.list_projects() == two.list_projects() == [project]


def test_text_with_any_characters_round_trips(opener: Callable[[str], ClickHouseStore]) -> None:
    store = opener("main")
    odd = 'tab\there\nnew line \\ back\'slash "quoted" {x:String} ünï 🙂 \\N'
    store.set_setting(odd, odd)
    assert store.get_setting(odd) == odd
    trace = trace_id()
    write(store, [rec(trace, odd, session_id=odd, user_id=odd, input=odd, tags=(odd,))])
    session = store.get_session("prj_a", odd)
    assert session is not None and session["user_ids"] == [odd]
    assert sessions(store, user_id=odd)[0]["session_id"] == odd
    got = store.get_trace("prj_a", trace)
    assert got is not None and got["name"] == odd and got["spans"][0]["input"] == odd
    assert got["tags"] == [odd]


def test_a_late_span_starting_after_its_trace_ends_is_still_found(
    opener: Callable[[str], ClickHouseStore],
) -> None:
    """A span whose end is before its start (clock skew) lies past its trace's end."""
    store = opener("main")
    trace = trace_id()
    root = rec(trace, "root", ms=10)
    odd = replace(rec(trace, "skewed", start=BASE + 5 * SECOND), end_ns=BASE + SECOND)
    write(store, [root, odd])
    got = store.get_trace("prj_a", trace)
    assert got is not None and [s["name"] for s in got["spans"]] == ["root", "skewed"]
    assert store.get_traces("prj_a", [trace]) == [got]


def test_a_database_from_a_newer_release_is_refused_clearly(
    opener: Callable[[str], ClickHouseStore],
) -> None:
    store = opener("main")
    store.connection.client.execute(f"INSERT INTO schema_version VALUES ({SCHEMA_VERSION + 1}, 0)")
    with pytest.raises(ConfigError) as raised:
        opener("main")
    assert "newer" in raised.value.message


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("", StoreAddress("duckdb")),
        ("duckdb", StoreAddress("duckdb")),
        ("chdb:///var/lib/lamina", StoreAddress("chdb", path=Path("/var/lib/lamina"))),
        (
            "chdb:///x?database=other",
            StoreAddress("chdb", path=Path("/x"), database="other"),
        ),
        (
            "clickhouse://ops:p%40ss@ch.internal:8123/traces",
            StoreAddress(
                "clickhouse",
                host="ch.internal",
                port=8123,
                username="ops",
                password="p@ss",
                database="traces",
            ),
        ),
        (
            "clickhouses://ch.example.com",
            StoreAddress("clickhouse", host="ch.example.com", port=8443, secure=True),
        ),
    ],
)
def test_store_addresses(text: str, address: StoreAddress) -> None:
    assert parse_store(text) == address


@pytest.mark.parametrize(
    "text",
    [
        "postgres://u:secret@h/db",
        "clickhouse://u:secret@/db",
        "clickhouse://u:secret@h:port/db",
        "clickhouse://u:secret@h/bad-name;",
        "chdb://",
    ],
)
def test_bad_store_addresses_are_refused_without_showing_the_password(text: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_store(text)
    assert "secret" not in raised.value.message
    assert "secret" not in parse_store("clickhouse://u:secret@h/db").describe()


def test_an_unreachable_clickhouse_server_is_a_clear_start_up_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(ConfigError) as raised:
        ClickHouseStore(parse_store(f"clickhouse://u:secret@127.0.0.1:{port}/db"))
    assert f"127.0.0.1:{port}" in raised.value.message
    assert "secret" not in raised.value.message


def test_a_claim_whose_server_died_before_marking_its_run_blocks_it_only_for_a_lease(
    opener: Callable[[str], ClickHouseStore],
) -> None:
    """A server killed between winning a claim and marking the run running (the run still
    queued at attempt 0, its claim of attempt 1 left behind): no other server claims the
    run while that lease could still be held, and once it ran out one does, as attempt 2."""
    from lamina.store.evaluators import RunStatus
    from tests.store.test_evaluators_contract import evaluator, queued

    store = opener("main")
    judge = store.put_evaluator("prj_a", evaluator())
    run = queued("prj_a", judge, "s-1", "1:1", 1)
    store.queue_runs("prj_a", [run])
    lease = 60 * SECOND
    tick = time.time_ns()  # a claim's time is the clock's (rows expire a week after it)
    store.connection.execute(  # what the killed server wrote, and nothing after it
        "INSERT INTO evaluator_claims (run_id, attempt, owner, claimed_ns, version, "
        "lease_until_ns) VALUES ({run:String}, 1, 'killed', {tick:Int64}, -{tick:Int64}, "
        "{until:Int64})",
        {"run": run.run_id, "tick": tick, "until": 10 * SECOND + lease},
    )
    assert store.claim_runs("server-2", 10 * SECOND, lease, 10) == []  # maybe only slow
    (claimed,) = store.claim_runs("server-2", 71 * SECOND, lease, 10)
    assert (claimed.run_id, claimed.status, claimed.attempts) == (
        run.run_id,
        RunStatus.RUNNING,
        2,
    )
    assert store.claim_runs("server-3", 72 * SECOND, lease, 10) == []  # server-2 holds it
