"""Folding summary deltas, ClickHouse's way: nothing is read before it is written.

Each ingest batch carries one delta per trace it touches (lamina.spans.summaries).
They are appended to ``traces`` as rows of commutative aggregates ((rank, value)
tuples whose minimum wins, sums, unions, metadata maps); reads aggregate them
``GROUP BY trace_id`` (see :mod:`lamina.store.clickhouse.sql`), so any number of
servers can write pieces of one trace at once. The sessions a batch (or a delete)
touched are then recomputed from their traces' summaries in one ``INSERT ... SELECT``
and stored as a new version.
"""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from lamina.store.clickhouse.schema import NO_RANK, ranked

_RANKED = pa.struct([("rank", pa.int64()), ("value", pa.string())])


# -- the deltas as rows of ``traces`` ----------------------------------------------------------


def _ranked(value: pa.ChunkedArray, rank: pa.ChunkedArray) -> pa.StructArray:
    """(rank, value) tuples; NO_RANK and '' where there is no value."""
    missing = pc.or_(pc.is_null(value), pc.is_null(rank))
    ranks = pc.if_else(missing, pa.scalar(NO_RANK, pa.int64()), rank)
    values = pc.if_else(missing, pa.scalar("", pa.string()), value)
    return pa.StructArray.from_arrays(
        [ranks.combine_chunks(), values.combine_chunks()], fields=list(_RANKED)
    )


def trace_rows(deltas: pa.Table, spans: pa.Table) -> pa.Table:
    """The batch's per-trace deltas in the shape of the ``traces`` table."""
    latest = spans.group_by(["project_id", "trace_id"]).aggregate([("start_ns", "max")])
    where = pc.index_in(_trace_key(deltas), value_set=_trace_key(latest).combine_chunks())
    last_start = pc.take(latest.column("start_ns_max"), where)
    session = deltas.column("session_id")
    return pa.table(
        {
            "project_id": deltas.column("project_id"),
            "trace_id": deltas.column("trace_id"),
            "session_r": _ranked(session, deltas.column("session_rank")),
            "user_r": _ranked(deltas.column("user_id"), deltas.column("user_rank")),
            "name_r": _ranked(deltas.column("name"), deltas.column("name_rank")),
            "first_ns": deltas.column("start_ns"),
            "last_ns": deltas.column("end_ns"),
            "last_start_ns": last_start,
            "span_n": deltas.column("span_count"),
            "error_n": deltas.column("error_count"),
            "in_tokens": deltas.column("input_tokens"),
            "out_tokens": deltas.column("output_tokens"),
            "cost_sum": deltas.column("cost"),
            "tag_set": deltas.column("tags"),
            "meta_r": _metadata(deltas.column("metadata")),
            "input_r": _ranked(deltas.column("input_preview"), deltas.column("input_rank")),
            "output_r": _ranked(deltas.column("output_preview"), deltas.column("output_rank")),
            "session_set": _singletons(session),
        }
    )


def _trace_key(table: pa.Table) -> pa.ChunkedArray:
    return pc.binary_join_element_wise(table.column("project_id"), table.column("trace_id"), "\n")


def _singletons(values: pa.ChunkedArray) -> pa.Array:
    return pa.array(
        [[] if value is None else [value] for value in values.to_pylist()],
        pa.list_(pa.string()),
    )


_META_TYPE = pa.map_(pa.string(), _RANKED)


def _metadata(column: pa.ChunkedArray) -> pa.Array:
    """Ranked metadata JSON (``{key: [rank, value]}``) as maps of key -> (rank, JSON value)."""
    entries: list[list[tuple[str, dict[str, Any]]]] = []
    for text in column.to_pylist():
        if text == "{}" or text is None:
            entries.append([])
            continue
        ranked: dict[str, list[Any]] = orjson.loads(text)
        entries.append(
            [
                (key, {"rank": held[0], "value": orjson.dumps(held[1]).decode()})
                for key, held in ranked.items()
            ]
        )
    return pa.array(entries, _META_TYPE)


def session_links(deltas: pa.Table) -> pa.Table:
    named = deltas.filter(pc.is_valid(deltas.column("session_id")))
    return pa.table(
        {
            "project_id": named.column("project_id"),
            "session_id": named.column("session_id"),
            "trace_id": named.column("trace_id"),
        }
    )


# -- sessions, recomputed from their traces ---------------------------------------------------

# Sessions recomputed from their traces' summaries and inserted as a new
# version; {touched} is a query of (project_id, session_id) pairs. A session
# left with no traces gets trace_count 0, which reads skip.
_REFRESH_SESSIONS = f"""
INSERT INTO sessions (project_id, session_id, trace_count, span_count, start_ns, end_ns,
    active_ns, input_tokens, output_tokens, cost, user_ids, error_count, first_input,
    last_output, version)
WITH touched AS ({{touched}}),
members AS (
    SELECT DISTINCT project_id, trace_id FROM session_traces
    WHERE (project_id, session_id) IN (SELECT project_id, session_id FROM touched)
),
current AS (
    SELECT project_id, trace_id,
        {ranked("session_r")} AS session_id,
        {ranked("user_r")} AS user_id,
        min(first_ns) AS t_start,
        max(last_ns) AS t_end,
        sum(span_n) AS t_spans,
        sum(error_n) AS t_errors,
        sum(in_tokens) AS t_in,
        sum(out_tokens) AS t_out,
        sum(cost_sum) AS t_cost,
        {ranked("input_r")} AS t_input,
        {ranked("output_r")} AS t_output
    FROM traces
    WHERE (project_id, trace_id) IN (SELECT project_id, trace_id FROM members)
    GROUP BY project_id, trace_id
),
summary AS (
    SELECT project_id, session_id,
        count() AS s_traces,
        sum(t_spans) AS s_spans,
        min(t_start) AS s_start,
        max(t_end) AS s_end,
        sum(t_end - t_start) AS s_active,
        sum(t_in) AS s_in,
        sum(t_out) AS s_out,
        sum(t_cost) AS s_cost,
        arraySort(groupUniqArray(user_id)) AS s_users,
        countIf(t_errors > 0) AS s_errors,
        argMinIf(t_input, (t_start, trace_id), t_input IS NOT NULL) AS s_first,
        argMaxIf(t_output, (t_end, trace_id), t_output IS NOT NULL) AS s_last
    FROM current
    WHERE (project_id, session_id) IN (SELECT project_id, session_id FROM touched)
    GROUP BY project_id, session_id
)
SELECT t.project_id, t.session_id, s.s_traces, s.s_spans, s.s_start, s.s_end, s.s_active,
    s.s_in, s.s_out, s.s_cost, s.s_users, s.s_errors, s.s_first, s.s_last,
    toUnixTimestamp64Nano(now64(9))
FROM touched AS t
LEFT JOIN summary AS s ON s.project_id = t.project_id AND s.session_id = t.session_id
SETTINGS join_use_nulls = 0
"""

# At ingest: every session any of the batch's traces ever named.
REFRESH_AFTER_WRITE = _REFRESH_SESSIONS.replace(
    "{touched}",
    "SELECT DISTINCT project_id, arrayJoin(session_set) AS session_id FROM traces "
    "WHERE (project_id, trace_id) IN {keys:Array(Tuple(String, String))}",
)
# After a delete: the sessions the deleted traces had named, given as a list.
REFRESH_SESSIONS = _REFRESH_SESSIONS.replace(
    "{touched}",
    "SELECT DISTINCT {project:String} AS project_id, arrayJoin({sessions:Array(String)}) "
    "AS session_id",
)
