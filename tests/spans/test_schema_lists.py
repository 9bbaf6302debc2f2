"""Every list of a span's fields agrees with SPAN_SCHEMA, the one list.

The C decoder's columns, the ``spans`` tables the stores' migrations make, and the
column lists of their SQL are written out by hand where they live (C, SQL); these
tests hold them to ``lamina.spans.batch.SPAN_SCHEMA``, names, order and types.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from lamina.otlp import wire
from lamina.spans.batch import SPAN_COLUMNS, SPAN_DEFAULTS, SPAN_FIELDS, SPAN_SCHEMA
from lamina.store import sessions_sql
from lamina.store.clickhouse import schema as clickhouse_schema
from lamina.store.clickhouse import sql as clickhouse_sql
from lamina.store.clickhouse.client import ChdbClient
from lamina.store.duckdb import schema as duckdb_schema
from lamina.store.duckdb import values

# What a trace's spans are read with: the span's own fields, its trace and project given.
READ_FIELDS = [name for name in SPAN_FIELDS if name not in ("project_id", "trace_id")]


def _names(fields: str) -> list[str]:
    return [name.strip() for name in fields.split(",")]


def test_the_c_decoder_fills_the_span_fields_in_order() -> None:
    if not wire.BUILT:
        pytest.skip("the C decoder is not built (LAMINA_BUILD_DECODER=1)")
    assert wire._wire.COLUMNS == SPAN_FIELDS


def test_the_duckdb_spans_table_is_span_schema(tmp_path: Path) -> None:
    """The table the migrations leave, column for column, is the one DuckDB makes from
    an empty Arrow table of SPAN_SCHEMA (DuckDB's own reading of the Arrow types), and
    the store's column of the lengths of long values kept apart (as values.split adds
    it)."""
    with duckdb.connect(str(tmp_path / "schema.duckdb")) as con:
        for migration in duckdb_schema.MIGRATIONS:
            con.execute(migration)
        made = con.execute("DESCRIBE spans").fetchall()
        stored = SPAN_SCHEMA.append(pa.field(values.CUT_COLUMN, values.CUT_TYPE))
        empty = stored.empty_table()  # noqa: F841 (DuckDB reads it by its name)
        expected = con.execute("DESCRIBE SELECT * FROM empty").fetchall()
    assert [(row[0], row[1]) for row in made] == [(row[0], row[1]) for row in expected]


# What each Arrow type of SPAN_SCHEMA is stored as, LowCardinality and Nullable aside.
_CLICKHOUSE_TYPES = {
    pa.string(): "String",
    pa.int64(): "Int64",
    pa.float64(): "Float64",
    pa.list_(pa.string()): "Array(String)",
}


def _plain(clickhouse_type: str) -> str:
    """A ClickHouse type without LowCardinality(...) and Nullable(...) around it."""
    wrapped = re.compile(r"\b(?:LowCardinality|Nullable)\((.*)\)")
    while wrapped.search(clickhouse_type):
        clickhouse_type = wrapped.sub(r"\1", clickhouse_type)
    return clickhouse_type


def test_the_clickhouse_spans_table_is_span_schema(tmp_path: Path) -> None:
    """The table the migrations leave has SPAN_SCHEMA's columns and types (in its own
    order: batches are inserted by column name). chDB runs one engine per process on
    one directory: a database of this test's own in the directory the run shares."""
    database = "schema_" + re.sub(r"\W", "_", tmp_path.name)
    client = ChdbClient(tmp_path.parent / "chdb")
    try:
        client.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
        client.use(database)
        for migration in clickhouse_schema.MIGRATIONS:
            for statement in migration:
                client.execute(statement)
        columns = client.query(
            "SELECT name, type FROM system.columns "
            f"WHERE database = '{database}' AND table = 'spans'"
        ).to_pylist()
    finally:
        client.close()
    made = {column["name"]: _plain(column["type"]) for column in columns}
    assert made == {field.name: _CLICKHOUSE_TYPES[field.type] for field in SPAN_SCHEMA}


@pytest.mark.parametrize(
    "fields",
    [sessions_sql.SPAN_FIELDS, clickhouse_sql.SPAN_FIELDS],
    ids=["duckdb", "clickhouse"],
)
def test_the_stores_read_a_span_s_fields_in_span_schema_order(fields: str) -> None:
    assert _names(fields) == READ_FIELDS


def test_span_schema_names_each_field_once_and_defaults_only_its_fields() -> None:
    assert len(set(SPAN_COLUMNS)) == len(SPAN_COLUMNS) and SPAN_COLUMNS[0] == "seq"
    assert set(SPAN_DEFAULTS) < set(SPAN_FIELDS)
