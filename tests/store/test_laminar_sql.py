"""Laminar's SQL (lamina.web.laminar.sql, #24) on every store: a query written for
Laminar (ClickHouse SQL, its tables' column names, typed parameters) is translated into
the store's dialect and answered by its SQL console with the project's rows only."""

from __future__ import annotations

import uuid

from lamina.store.base import Store
from lamina.store.console import ConsoleQuery
from lamina.web.laminar.sql import translate
from tests.store.test_contract import rec, trace_id
from tests.store.writing import write


def _run(store: Store, project: str, text: str, **parameters: object) -> list[dict[str, object]]:
    query = ConsoleQuery(translate(text, parameters, store.sql_dialect), 100, 10.0, 256)
    result = store.run_sql(project, query)
    names = [column.name for column in result.columns]
    return [dict(zip(names, row, strict=True)) for row in result.rows]


def test_a_laminar_query_reads_the_projects_traces_and_spans(store: Store) -> None:
    first, second = trace_id(), trace_id()
    write(
        store,
        [
            rec(first, "answer", ms=1500, input_tokens=10, output_tokens=5, cost=0.25),
            rec(second, "failing", status="error"),
            rec(first, "answer", project="prj_b"),
        ],
    )
    rows = _run(
        store,
        "prj_a",
        "SELECT id, top_span_name, total_tokens, total_cost, duration, status FROM traces "
        "WHERE id = {trace:UUID}",
        trace=str(uuid.UUID(hex=first)),
    )
    assert rows == [
        {
            "id": first,
            "top_span_name": "answer",
            "total_tokens": 15,
            "total_cost": 0.25,
            "duration": 1.5,
            "status": "success",
        }
    ]
    quoted = _run(store, "prj_a", f"SELECT status FROM traces WHERE id = '{uuid.UUID(hex=second)}'")
    assert quoted == [{"status": "error"}]
    spans = _run(
        store,
        "prj_a",
        "SELECT count() AS n FROM spans s WHERE s.trace_id IN {ids:Array(UUID)} "
        "AND request_model IS NULL AND duration < {most:Float64}",
        ids=[str(uuid.UUID(hex=first)), str(uuid.UUID(hex=second))],
        most=1.0,  # seconds: the 1.5 s span is left out
    )
    assert [int(str(row["n"])) for row in spans] == [1]
    assert _run(
        store,
        "prj_b",
        "SELECT count() AS n FROM traces WHERE id = {t:UUID}",
        t=str(uuid.UUID(hex=second)),
    ) == [{"n": 0}]
