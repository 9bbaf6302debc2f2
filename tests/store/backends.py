"""The stores every contract suite runs on: one Backend a store, in STORES.

A Backend opens a store on one backing data set; opening it again sees the same data.
To add a store, add its maker to STORES. The ClickHouse store runs twice: on chDB
directly, and through clickhouse-connect over HTTP. tests/store/conftest.py turns
STORES into the ``backend`` and ``store`` fixtures.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lamina.store.base import Store


@dataclass
class Backend:
    """Opens a store on one backing data set; opening again must see the same data."""

    name: str
    open: Callable[[], Store]


def duckdb(tmp_path: Path) -> Backend:
    from lamina.store.duckdb.store import DuckDBStore

    return Backend("duckdb", lambda: DuckDBStore(tmp_path / "data"))


def clickhouse(tmp_path: Path) -> Backend:
    """The ClickHouse store's exact SQL on ClickHouse's engine in-process (chDB).

    chDB runs one engine per process on one directory, so every test's store is a
    database of its own in a directory shared by the test run.
    """
    from lamina.store.clickhouse.client import parse_store
    from lamina.store.clickhouse.store import ClickHouseStore

    database = "t_" + re.sub(r"\W", "_", tmp_path.name)
    address = parse_store(f"chdb://{tmp_path.parent}/chdb?database={database}")
    return Backend("clickhouse", lambda: ClickHouseStore(address))


def clickhouse_http(tmp_path: Path) -> Backend:
    """The production path: clickhouse-connect over HTTP to ClickHouse's HTTP interface,
    served by the test server in tests/fakes/clickhouse_http.py (the statements run on
    ClickHouse's engine, in the same chDB directory as ``clickhouse``), or by a real
    ClickHouse server when LAMINA_TEST_CLICKHOUSE names one."""
    from lamina.store.clickhouse.client import parse_store
    from lamina.store.clickhouse.store import ClickHouseStore
    from tests.fakes.clickhouse_http import shared

    database = "h_" + re.sub(r"\W", "_", tmp_path.name)
    real = os.environ.get("LAMINA_TEST_CLICKHOUSE")  # clickhouse://USER:PASS@HOST:PORT
    url = f"{real.rstrip('/')}/{database}" if real else None
    address = parse_store(url or shared(tmp_path.parent / "chdb").store_url(database))
    return Backend("clickhouse_http", lambda: ClickHouseStore(address))


Maker = Callable[[Path], Backend]
STORES: list[Maker] = [duckdb, clickhouse, clickhouse_http]


def store_id(make: Maker) -> str:
    """A parametrised test's id for a store: ``duckdb``, ``clickhouse``, ..."""
    return make.__name__
