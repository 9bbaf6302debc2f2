"""The store suites' fixtures: ``backend`` and ``store``, once per store in
tests/store/backends.py's STORES (a module may define its own to narrow them). The
ClickHouse HTTP server (tests/fakes/clickhouse_http.py) is shared by the whole run; it
stops when the run ends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lamina.store.base import Store
from tests.fakes import clickhouse_http
from tests.store.backends import STORES, Backend, Maker, store_id


@pytest.fixture(scope="session", autouse=True)
def _stop_clickhouse_http() -> Iterator[None]:
    yield
    clickhouse_http.close_shared()


@pytest.fixture(params=STORES, ids=store_id)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """One store's backing data set, in this test's directory."""
    make: Maker = request.param
    return make(tmp_path)


@pytest.fixture
def store(backend: Backend) -> Iterator[Store]:
    """The store, open on ``backend``; closed after the test."""
    opened = backend.open()
    yield opened
    opened.close()
