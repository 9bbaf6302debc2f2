"""What only the DuckDB store does: its file, its schema version, its lock."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from lamina.errors import ConfigError
from lamina.store.duckdb import DB_FILE, DuckDBStore
from lamina.store.schema import SCHEMA_VERSION


def test_a_new_data_dir_records_its_schema_version(tmp_path: Path) -> None:
    DuckDBStore(tmp_path).close()
    with duckdb.connect(str(tmp_path / DB_FILE)) as con:
        row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    assert row is not None and row[0] == SCHEMA_VERSION
    DuckDBStore(tmp_path).close()  # reopening migrates nothing and keeps working


def test_a_data_dir_from_a_newer_release_is_refused_clearly(tmp_path: Path) -> None:
    DuckDBStore(tmp_path).close()
    with duckdb.connect(str(tmp_path / DB_FILE)) as con:
        con.execute("INSERT INTO schema_version VALUES (?)", [SCHEMA_VERSION + 1])
    with pytest.raises(ConfigError) as raised:
        DuckDBStore(tmp_path)
    assert "newer" in raised.value.message and str(tmp_path) in raised.value.message


def test_a_file_that_is_not_a_store_is_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / DB_FILE).write_bytes(b"this is not a database" * 1000)
    with pytest.raises(ConfigError) as raised:
        DuckDBStore(tmp_path)
    assert str(tmp_path) in raised.value.message
