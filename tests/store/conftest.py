"""The store suites' ClickHouse HTTP server (tests/fakes/clickhouse_http.py) is shared
by the whole run; it stops when the run ends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes import clickhouse_http


@pytest.fixture(scope="session", autouse=True)
def _stop_clickhouse_http() -> Iterator[None]:
    yield
    clickhouse_http.close_shared()
