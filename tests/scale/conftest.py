"""Many Lamina servers on one ClickHouse: the ClickHouse is tests/fakes/clickhouse_http.py
(ClickHouse's HTTP interface over its engine, chDB, in the test process), shared by the
run; each test has a database of its own."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes import clickhouse_http
from tests.fakes.clickhouse_http import FakeClickHouse


@pytest.fixture(scope="session", autouse=True)
def _stop_clickhouse_http() -> Iterator[None]:
    yield
    clickhouse_http.close_shared()


@pytest.fixture
def clickhouse(tmp_path_factory: pytest.TempPathFactory) -> FakeClickHouse:
    return clickhouse_http.shared(tmp_path_factory.getbasetemp() / "chdb")


@pytest.fixture
def store_url(clickhouse: FakeClickHouse, tmp_path: Path) -> str:
    """``clickhouse://...`` on a database of this test's own."""
    return clickhouse.store_url("ms_" + re.sub(r"\W", "_", tmp_path.name))
