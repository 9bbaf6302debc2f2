"""Servers starting at the same moment on a new shared store sign cookies with one secret.

Two stores opened at once on one ClickHouse database stand for two servers; both are
held until each has found no secret, the moment at which both write a candidate.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lamina.store.base import Store
from lamina.store.clickhouse.client import parse_store
from lamina.store.clickhouse.store import ClickHouseStore
from lamina.web.pages.accounts import SECRET_SETTING, cookie_secret
from tests.fakes.clickhouse_http import shared


def _chdb(tmp_path: Path, database: str) -> str:
    return f"chdb://{tmp_path.parent}/chdb?database={database}"


def _http(tmp_path: Path, database: str) -> str:
    return shared(tmp_path.parent / "chdb").store_url(database)


class BothLookFirst:
    """A store whose first read of the cookie secret waits until the other server's has
    happened too: both find none, so both make one. ``slow`` delays its write, as a
    slower round trip would: the other server has read back before it lands."""

    def __init__(self, store: Store, barrier: threading.Barrier, slow: float) -> None:
        self._store = store
        self._barrier = barrier
        self._slow = slow
        self.shared = True

    def get_setting(self, name: str) -> str | None:
        value = self._store.get_setting(name)
        if name == SECRET_SETTING and value is None and not self._barrier.broken:
            self._barrier.wait(10)
        return value

    def set_setting(self, name: str, value: str) -> None:
        time.sleep(self._slow)
        self._store.set_setting(name, value)


@pytest.mark.parametrize("url", [_chdb, _http], ids=["chdb", "clickhouse_http"])
def test_two_servers_starting_at_once_agree_on_the_cookie_secret(
    tmp_path: Path, url: Callable[[Path, str], str]
) -> None:
    database = "cs_" + re.sub(r"\W", "_", tmp_path.name)
    stores = [ClickHouseStore(parse_store(url(tmp_path, database))) for _ in range(2)]
    try:
        barrier = threading.Barrier(2)
        racing = [
            BothLookFirst(store, barrier, slow)
            for store, slow in zip(stores, (0, 0.2), strict=True)
        ]
        with ThreadPoolExecutor(2) as pool:
            secrets = list(pool.map(cookie_secret, racing))  # type: ignore[arg-type]
        assert secrets[0] == secrets[1]
        assert stores[0].get_setting(SECRET_SETTING) == secrets[0]
        # A third server, later, reads the same.
        assert cookie_secret(stores[1]) == secrets[0]
    finally:
        for store in stores:
            store.close()
