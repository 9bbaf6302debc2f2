"""Folding summary deltas: each stored batch carries one delta per trace it touches
(lamina.spans.summaries); they are merged into ``traces`` with commutative rules (sums,
least/greatest, the lowest rank wins), and the sessions they touch are computed again
from their traces, so that spans may arrive in any order across any number of writes.
Every function here runs inside the caller's transaction.
"""

from __future__ import annotations

import contextlib

import duckdb
import pyarrow as pa

from lamina.spans.summaries import merge_metadata
from lamina.store.duckdb import fold_sql, users
from lamina.store.duckdb.connection import one
from lamina.store.metrics import HOUR_NS


def _sum(column: str) -> str:
    """Add the incoming value (``f``) to the stored one (``s``), keeping NULL only when
    both are."""
    return (
        f"CASE WHEN s.{column} IS NULL THEN f.{column} WHEN f.{column} IS NULL THEN s.{column} "
        f"ELSE s.{column} + f.{column} END AS {column}"
    )


def _ranked(value: str, rank: str) -> str:
    """Keep the value whose rank is lower (earlier, or from the root span)."""
    return (
        f"CASE WHEN f.{rank} IS NOT NULL AND (s.{rank} IS NULL OR f.{rank} < s.{rank}) "
        f"THEN f.{value} ELSE s.{value} END AS {value}, "
        f"least(s.{rank}, f.{rank}) AS {rank}"
    )


# The batch may hold several deltas for one trace (from several requests):
# they are folded together by the same rules before meeting the stored row.
_FOLD_DELTAS = """
CREATE OR REPLACE TEMP TABLE folded_deltas AS
SELECT project_id, trace_id,
    arg_min(session_id, session_rank) AS session_id, min(session_rank) AS session_rank,
    arg_min(user_id, user_rank) AS user_id, min(user_rank) AS user_rank,
    arg_min(name, name_rank) AS name, min(name_rank) AS name_rank,
    min(start_ns) AS start_ns, max(end_ns) AS end_ns,
    sum(span_count)::BIGINT AS span_count, sum(error_count)::BIGINT AS error_count,
    sum(input_tokens)::BIGINT AS input_tokens, sum(output_tokens)::BIGINT AS output_tokens,
    sum(cost) AS cost,
    list_sort(list_distinct(flatten(list(tags)))) AS tags,
    coalesce(max(metadata) FILTER (WHERE metadata != '{}'), '{}') AS metadata,
    arg_min(input_preview, input_rank) AS input_preview, min(input_rank) AS input_rank,
    arg_min(output_preview, output_rank) AS output_preview, min(output_rank) AS output_rank,
    min(min_seq) AS min_seq, max(max_seq) AS max_seq
FROM trace_batch
GROUP BY project_id, trace_id
"""

# Each folded delta merged with its trace's stored row, if there is one
# (``stored_batch_traces``, see fold_sql.STORED_BATCH_TRACES). The stored rows are deleted
# and the merged ones inserted: DuckDB's ON CONFLICT DO UPDATE cost 30-75 µs a row.
_MERGE_TRACES = f"""
INSERT INTO traces BY NAME
SELECT f.project_id, f.trace_id,
    {_ranked("session_id", "session_rank")},
    {_ranked("user_id", "user_rank")},
    {_ranked("name", "name_rank")},
    {_ranked("input_preview", "input_rank")},
    {_ranked("output_preview", "output_rank")},
    least(s.start_ns, f.start_ns) AS start_ns,
    greatest(s.end_ns, f.end_ns) AS end_ns,
    coalesce(s.span_count, 0) + f.span_count AS span_count,
    coalesce(s.error_count, 0) + f.error_count AS error_count,
    {_sum("input_tokens")},
    {_sum("output_tokens")},
    {_sum("cost")},
    list_sort(list_distinct(list_concat(coalesce(s.tags, []), f.tags))) AS tags,
    CASE WHEN f.metadata = '{{}}' THEN coalesce(s.metadata, '{{}}') ELSE f.metadata END
        AS metadata,
    least(s.min_seq, f.min_seq) AS min_seq,
    greatest(s.max_seq, f.max_seq) AS max_seq,
    {fold_sql.trace_key("f.trace_id")} AS trace_key
FROM folded_deltas f LEFT JOIN stored_batch_traces s USING (project_id, trace_id)
"""
_FORGET_STORED = "DELETE FROM traces WHERE rowid IN (SELECT stored_row FROM stored_batch_traces)"


def fold_deltas(con: duckdb.DuckDBPyConnection, deltas: pa.Table) -> None:
    """Merge summary deltas into ``traces`` and refresh the sessions they touch."""
    traces = _merge_metadata(con, deltas)
    con.register("trace_batch", traces)
    try:
        rows = [row for (row,) in con.execute(fold_sql.FIND_STORED).fetchall()]
        span = [rows[0], rows[-1]] if rows else [1, 0]  # none: an empty range
        con.execute(fold_sql.STORED_BATCH_TRACES, [*span, rows])
        con.execute(fold_sql.TOUCHED_SESSIONS)
        (since,) = one(con.execute(fold_sql.REFRESH_SINCE))
        con.execute(_FOLD_DELTAS)
        (stored,) = one(con.execute("SELECT count(*) FROM stored_batch_traces"))
        if stored:
            con.execute(_FORGET_STORED)
        con.execute(_MERGE_TRACES)
        if since is not None:  # None: the batch touches no session
            refresh_sessions(con, since)
    finally:
        with contextlib.suppress(duckdb.Error):  # an aborted transaction: keep its error
            con.unregister("trace_batch")


# The hours (project, start of the hour) a stored batch changes for the charts kept by
# hour (lamina.store.rollups): those its spans start in (a span by model is bucketed by
# its start; a trace's new start is one of its spans') and every hour its traces spanned
# before, from their old start to their old end (a trace that gains an earlier span
# leaves its old bucket; one given an experiment's session late takes its spans by model
# out of every hour they are in). Run after the merge, on the batch's spans
# (``stored_spans``); floor to the hour, negative starts included.
_FLOOR = "{column} - (({column} % {hour}) + {hour}) % {hour}"
_CHANGED_HOURS = f"""
SELECT DISTINCT project_id, hour FROM (
    SELECT project_id, {_FLOOR.format(column="start_ns", hour=HOUR_NS)} AS hour
    FROM stored_spans
    UNION ALL
    SELECT project_id,
        unnest(range({_FLOOR.format(column="start_ns", hour=HOUR_NS)}, end_ns + 1, {HOUR_NS}))
    FROM stored_batch_traces
)
"""


def changed_hours(con: duckdb.DuckDBPyConnection, spans: pa.Table) -> list[tuple[str, int]]:
    """The hours the batch of ``spans`` just folded (:func:`fold_deltas`) changes."""
    con.register("stored_spans", spans.select(["project_id", "start_ns"]))
    try:
        return [
            (project_id, int(start)) for project_id, start in con.execute(_CHANGED_HOURS).fetchall()
        ]
    finally:
        with contextlib.suppress(duckdb.Error):
            con.unregister("stored_spans")


def _merge_metadata(con: duckdb.DuckDBPyConnection, traces: pa.Table) -> pa.Table:
    """Resolve metadata key by key across the batch's deltas and the stored rows.

    Every delta row of a trace then carries the same, final metadata, and the
    upsert keeps it: per-key ranks decide, so arrival order cannot matter.
    Only rows that carry metadata are touched, in Python.
    """
    column = traces.column("metadata").to_pylist()
    rows = [i for i, text in enumerate(column) if text != "{}"]
    if not rows:
        return traces
    project_ids = traces.column("project_id")
    trace_ids = traces.column("trace_id")
    merged: dict[tuple[str, str], str] = {}
    for i in rows:
        key = (project_ids[i].as_py(), trace_ids[i].as_py())
        held = merged.get(key)
        merged[key] = column[i] if held is None else merge_metadata(held, column[i])
    keys = pa.table({"project_id": [k[0] for k in merged], "trace_id": [k[1] for k in merged]})
    con.register("metadata_keys", keys)
    try:
        stored = con.execute(
            "SELECT t.project_id, t.trace_id, t.metadata FROM traces t "
            "JOIN metadata_keys k USING (project_id, trace_id) WHERE t.metadata != '{}'"
        ).fetchall()
    finally:
        con.unregister("metadata_keys")
    for project_id, trace_id, metadata in stored:
        key = (project_id, trace_id)
        merged[key] = merge_metadata(metadata, merged[key])
    for i in rows:
        column[i] = merged[(project_ids[i].as_py(), trace_ids[i].as_py())]
    index = traces.schema.get_field_index("metadata")
    return traces.set_column(index, "metadata", pa.array(column, pa.string()))


def refresh_sessions(con: duckdb.DuckDBPyConnection, since: int) -> None:
    """Recompute the summaries of the touched sessions (``touched_sessions``) from
    their traces that started at ``since`` or later, the totals of the users they held
    or hold (lamina.store.duckdb.users), and keep the costliest sessions of their
    projects (see fold_sql.COSTLIEST_KEPT)."""
    kept = fold_sql.COSTLIEST_KEPT
    users.touched_before(con)
    con.execute(fold_sql.FORGET_TOUCHED)
    con.execute(fold_sql.REFRESH_SESSIONS, [since])
    con.execute(fold_sql.STORE_REFRESHED)
    users.keep_touched(con)
    con.execute(fold_sql.COST_FLOORS, [kept])
    con.execute(fold_sql.FORGET_TOUCHED_COSTLIEST)
    con.execute(fold_sql.KEEP_COSTLIEST)
    con.execute(fold_sql.TRIM_COSTLIEST, [kept])
    for (project_id,) in con.execute(fold_sql.SHORT_OF_COSTLIEST, [kept]).fetchall():
        con.execute(fold_sql.FORGET_COSTLIEST, [project_id])
        con.execute(fold_sql.REBUILD_COSTLIEST, [project_id, kept])
