"""Data files as an earlier release left them: the tables later migrations made."""

from __future__ import annotations

import duckdb

from lamina.store.duckdb.schema import MIGRATIONS


def tables_after(version: int, con: duckdb.DuckDBPyConnection) -> list[str]:
    """The tables of ``con``'s file that migrations after ``version`` made (columns
    they added to older tables are the caller's to drop)."""
    with duckdb.connect() as scratch:
        for migration in MIGRATIONS[:version]:
            scratch.execute(migration)
        earlier = {
            row[0] for row in scratch.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        }
    now = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    return sorted(now - earlier - {"schema_version"})


def drop_tables_after(version: int, con: duckdb.DuckDBPyConnection) -> None:
    for table in tables_after(version, con):
        con.execute(f"DROP TABLE {table}")
