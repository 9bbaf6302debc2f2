"""The ClickHouse store's connection: its client, its clock, its write lock, its schema.

Every module of the store talks to the database through one :class:`Connection`.
It turns a client's failures into the errors a user reads (``StoreUnavailable``),
hands out increasing nanosecond ticks for ids and versions, and brings the
database to this release's schema when the store opens.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pyarrow as pa

from lamina.errors import ConfigError, StoreUnavailable
from lamina.store.clickhouse import stamps
from lamina.store.clickhouse.client import Client, ClientError, StoreAddress, connect
from lamina.store.clickhouse.schema import MIGRATIONS, SCHEMA_TABLE, SCHEMA_VERSION
from lamina.store.rollups import Rollups


class Connection:
    """One client to the store's database, safe to share between threads."""

    def __init__(self, address: StoreAddress, client: Client | None = None) -> None:
        self.address = address
        self.client = client if client is not None else connect(address)
        # Held by every write of this process (ingest, deletes) and by close.
        self.write_lock = threading.Lock()
        self._clock_lock = threading.Lock()
        self._last_tick = 0
        # charts kept by hour (lamina.store.rollups), their stamps in the database
        self.rollups = Rollups(lambda *hours: stamps.read(self, *hours))
        try:
            self._migrate()
        except ClientError as exc:
            self.client.close()
            raise ConfigError(
                f"Cannot prepare the ClickHouse store at {address.describe()}: {exc}"
            ) from None

    def tick(self, count: int = 1) -> int:
        """A number above every earlier one from this process, near the clock in ns."""
        with self._clock_lock:
            now = max(time.time_ns(), self._last_tick + 1)
            self._last_tick = now + count - 1
            return now

    def query(self, text: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        try:
            rows: list[dict[str, Any]] = self.client.query(text, params).to_pylist()
        except ClientError as exc:
            raise StoreUnavailable(
                f"The ClickHouse store did not answer ({exc}). Check that ClickHouse is up."
            ) from exc
        return rows

    def execute(self, text: str, params: dict[str, Any] | None = None) -> None:
        try:
            self.client.execute(text, params)
        except ClientError as exc:
            raise StoreUnavailable(
                f"The ClickHouse store did not answer ({exc}). Check that ClickHouse is up."
            ) from exc

    def insert(self, table: str, data: pa.Table, what: str = "spans") -> None:
        try:
            self.client.insert_arrow(table, data)
        except ClientError as exc:
            raise StoreUnavailable(
                f"The ClickHouse store could not save {what} ({exc}). Check that ClickHouse "
                "is up and has disk space; senders should retry."
            ) from exc

    def _migrate(self) -> None:
        client = self.client
        client.execute(f"CREATE DATABASE IF NOT EXISTS {self.address.database}")
        client.use(self.address.database)
        client.execute(SCHEMA_TABLE)
        current = int(client.query("SELECT max(version) AS v FROM schema_version").column(0)[0])
        if current > SCHEMA_VERSION:
            raise ConfigError(
                f"The ClickHouse database {self.address.describe()} was written by a newer "
                f"Lamina (schema version {current}; this release knows up to "
                f"{SCHEMA_VERSION}). Upgrade Lamina, or use another database."
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version - 1]:
                client.execute(statement)
            client.execute(
                "INSERT INTO schema_version VALUES ({v:Int64}, {t:Int64})",
                {"v": version, "t": time.time_ns()},
            )

    def close(self) -> None:
        with self.write_lock:
            self.client.close()
