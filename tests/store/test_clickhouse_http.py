"""The production client path: clickhouse-connect over HTTP, against ClickHouse's HTTP
interface (tests/fakes/clickhouse_http.py, running the statements on ClickHouse's engine).

The contract and lifecycle suites run the whole store this way too (``clickhouse_http``);
these tests cover what only the HTTP path has: the client's start-up, parameters and
data as they travel over HTTP, sizes, passwords and errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import clickhouse_connect
import pytest

from lamina.errors import ConfigError, StoreUnavailable
from lamina.store.clickhouse.client import ClientError, HttpClient, parse_store
from lamina.store.clickhouse.store import ClickHouseStore
from tests.fakes.clickhouse_http import FakeClickHouse, shared
from tests.store.test_contract import BASE, agent_trace
from tests.store.writing import column_batch


@pytest.fixture
def fake(tmp_path: Path) -> FakeClickHouse:
    return shared(tmp_path.parent / "chdb")


@pytest.fixture
def database(tmp_path: Path) -> str:
    return "hx_" + re.sub(r"\W", "_", tmp_path.name)


@pytest.fixture
def client(fake: FakeClickHouse, database: str) -> Iterator[HttpClient]:
    opened = HttpClient(parse_store(fake.store_url(database)))
    opened.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
    opened.use(database)
    yield opened
    opened.close()


def test_parameters_arrive_as_the_engine_reads_them(client: HttpClient) -> None:
    awkward = "tab\there, newline\nthere, quote ' and \\ backslash, ünïcode ✓"
    table = client.query(
        "SELECT {s:String} AS s, {n:Int64} AS n, {a:Array(Tuple(String, String))} AS a, "
        "{missing:Nullable(String)} AS missing",
        {"s": awkward, "n": -(2**62), "a": [("x", "y'z"), ("", "\t")], "missing": None},
    )
    pairs = [{"1": "x", "2": "y'z"}, {"1": "", "2": "\t"}]  # Arrow has no tuples: structs
    assert table.to_pylist() == [{"s": awkward, "n": -(2**62), "a": pairs, "missing": None}]


def test_native_inserts_with_compressed_bodies(fake: FakeClickHouse, database: str) -> None:
    """clickhouse-connect's own insert: FORMAT Native, lz4-compressed body."""
    raw = clickhouse_connect.get_client(
        host="127.0.0.1", port=fake.port, database="default", compress="lz4"
    )
    try:
        raw.command(f"CREATE DATABASE IF NOT EXISTS {database}")
        raw.command(f"CREATE TABLE {database}.t (id UInt32, name String) ENGINE = Memory")
        rows = [[n, f"name {n}\t✓"] for n in range(5000)]
        summary = raw.insert(f"{database}.t", rows, column_names=["id", "name"])
        assert summary.written_rows == 5000
        got = raw.query(f"SELECT id, name FROM {database}.t ORDER BY id").result_rows
        assert [list(row) for row in got] == rows
    finally:
        raw.close()


def test_a_batch_binding_more_than_a_url_holds_is_sent(client: HttpClient) -> None:
    """The session refresh binds every key of a batch: over 1 MiB of parameters for a
    20,000-trace batch, more than ClickHouse takes in a URL."""
    keys = [("prj_0123456789ab", f"{n:032x}") for n in range(20_000)]
    client.execute("CREATE TABLE k (trace_id String) ENGINE = Memory")
    client.execute(
        "INSERT INTO k SELECT tupleElement(key, 2) "
        "FROM (SELECT arrayJoin({keys:Array(Tuple(String, String))}) AS key)",
        {"keys": keys},
    )
    assert client.query("SELECT count() AS n FROM k").to_pylist() == [{"n": 20_000}]


def test_engine_errors_come_back_with_their_text(client: HttpClient) -> None:
    with pytest.raises(ClientError, match=r"code: 60.*UNKNOWN_TABLE"):
        client.query("SELECT * FROM no_such_table")
    with pytest.raises(ClientError, match=r"code: 62.*SYNTAX_ERROR"):
        client.execute("SELEC 1")


def test_a_wrong_password_is_a_clear_start_up_error(tmp_path: Path) -> None:
    with FakeClickHouse(tmp_path.parent / "chdb", password="right") as guarded:
        url = guarded.store_url("lamina").replace("default:right@", "default:wrong@")
        with pytest.raises(ConfigError, match=r"Cannot reach ClickHouse .*Authentication failed"):
            ClickHouseStore(parse_store(url))
        store = ClickHouseStore(parse_store(guarded.store_url("pw_ok")))
        store.close()


def test_a_failing_insert_is_a_retryable_error_and_the_retry_stores_the_batch(
    fake: FakeClickHouse, database: str
) -> None:
    store = ClickHouseStore(parse_store(fake.store_url(database)))
    try:
        batch = column_batch(agent_trace("s-retry", BASE))
        fake.fail(r"^INSERT INTO `traces`")
        with pytest.raises(StoreUnavailable, match="could not save spans"):
            store.write_columns([batch])
        store.write_columns([batch])  # the sender's retry
        session = store.get_session("prj_a", "s-retry")
        assert session is not None and session["trace_count"] == 1
    finally:
        store.close()


def test_the_client_meets_a_server_it_cannot_reach() -> None:
    with pytest.raises(ConfigError, match="Cannot reach ClickHouse at clickhouse://default@"):
        HttpClient(parse_store("clickhouse://127.0.0.1:9/lamina"))
