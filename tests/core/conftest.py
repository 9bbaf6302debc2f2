"""Fixtures for the core tests (the shared ones are in tests/conftest.py).

The end-to-end API tests in ``BOTH_STORES`` run twice: against the DuckDB store and
against the ClickHouse store (its SQL on chDB, in the server's process), each with
one shared server (and ``new_server`` on the same store); ``store_kind`` says which.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LaminaServer, start_server
from tests.core import otlp

BOTH_STORES = {
    "tests.core.test_api",
    "tests.core.test_projects",
    "tests.core.test_retries",
    "tests.core.test_smoke_otel",
    "tests.core.test_summaries",
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    uses_a_server = {"server", "new_server"} & set(metafunc.fixturenames)
    if metafunc.module.__name__ in BOTH_STORES and uses_a_server:
        metafunc.parametrize("store_kind", ["duckdb", "clickhouse"], scope="module")


@pytest.fixture(scope="module")
def store_kind() -> str:
    return "duckdb"


@pytest.fixture(scope="session")
def clickhouse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaminaServer]:
    """The shared server, on the ClickHouse store (chDB in its process)."""
    data_dir = tmp_path_factory.mktemp("lamina-clickhouse")
    running = start_server(data_dir, "--store", f"chdb://{data_dir}/chdb")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def server(server: LaminaServer, store_kind: str, request: pytest.FixtureRequest) -> LaminaServer:
    if store_kind == "clickhouse":
        found: LaminaServer = request.getfixturevalue("clickhouse_server")
        return found
    return server


@pytest.fixture
def new_server(
    new_server: Callable[..., LaminaServer], store_kind: str, tmp_path: Path
) -> Callable[..., LaminaServer]:
    """Fresh servers on the test's store (ClickHouse's data under the data dir)."""
    if store_kind != "clickhouse":
        return new_server
    names = itertools.count()

    def start(*extra: str, data_dir: Path | None = None, **options: Any) -> LaminaServer:
        directory = data_dir or tmp_path / f"clickhouse-{next(names)}"
        store = ("--store", f"chdb://{directory}/chdb")
        return new_server(*extra, *store, data_dir=directory, **options)

    return start


@pytest.fixture(scope="session", autouse=True)
def _shared_http_client() -> Iterator[None]:
    yield
    otlp.close_client()
