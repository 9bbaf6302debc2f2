"""Which store a server opens (``--store``), and whether several processes may open it."""

from __future__ import annotations

from lamina.errors import ConfigError
from lamina.settings import Settings
from lamina.store.base import Store
from lamina.store.clickhouse.client import parse_store


def open_store(settings: Settings) -> Store:
    """The DuckDB file in the data dir, or the ClickHouse store ``--store`` names (each
    store's modules imported only when it is the one opened: 0.07 s a start)."""
    address = parse_store(settings.store)
    if address.kind == "duckdb":
        from lamina.store.duckdb.store import DuckDBStore

        return DuckDBStore(
            settings.data_dir,
            settings.store_memory_mb,
            settings.threads_for_store,
            unstored_limit=settings.max_queue_spans,
        )
    from lamina.store.clickhouse.store import ClickHouseStore

    return ClickHouseStore(address)


def check_store(settings: Settings) -> None:
    """Refuse ``--workers`` above 1 on a store that only one process can open."""
    if settings.workers <= 1:
        return
    kind = parse_store(settings.store).kind
    if kind == "clickhouse":
        return
    what = (
        "the embedded DuckDB file in the data dir"
        if kind == "duckdb"
        else "chDB (--store chdb://), whose engine runs inside one process"
    )
    raise ConfigError(
        f"--workers {settings.workers} needs a store that several processes can share, and "
        f"this server keeps its data in {what}, which only one process can open at a time. "
        "Run with --workers 1 (one process already uses every core for decoding), or keep "
        "the data in a ClickHouse server: --store clickhouse://USER:PASS@HOST:8123/DB."
    )
