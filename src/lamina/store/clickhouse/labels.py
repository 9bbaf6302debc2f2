"""Tags and metadata given to a stored trace (lamina.store.labels), in the ClickHouse
store: one more row of the trace's aggregates in ``traces`` (as an ingest batch's delta
is, lamina.store.clickhouse.fold), holding the tags and the ranked metadata and nothing
else (its times are the trace's own, its counts 0), which reads aggregate with the rest;
then the trace's hours are stamped (lamina.store.clickhouse.stamps)."""

from __future__ import annotations

import orjson

from lamina.store.clickhouse import stamps
from lamina.store.clickhouse.connection import Connection
from lamina.store.clickhouse.schema import NO_RANK
from lamina.store.labels import TraceLabels

_NONE = f"({NO_RANK}, '')"
_EXISTS = (
    "SELECT count() AS n FROM traces "
    "WHERE project_id = {project:String} AND trace_id = {trace:String}"
)
_ADD = f"""
INSERT INTO traces (project_id, trace_id, session_r, user_r, name_r, first_ns, last_ns,
    last_start_ns, span_n, error_n, in_tokens, out_tokens, cost_sum, tag_set, meta_r,
    input_r, output_r, session_set)
SELECT project_id, trace_id, {_NONE}, {_NONE}, {_NONE}, min(first_ns), max(last_ns),
    max(last_start_ns), 0, 0, NULL, NULL, NULL, {{tags:Array(String)}},
    CAST(mapFromArrays({{keys:Array(String)}},
        arrayMap(v -> tuple(toInt64({{rank:Int64}}), v), {{values:Array(String)}}))
        AS Map(String, Tuple(Int64, String))),
    {_NONE}, {_NONE}, []
FROM traces WHERE project_id = {{project:String}} AND trace_id = {{trace:String}}
GROUP BY project_id, trace_id
"""


def label_trace(db: Connection, project_id: str, trace_id: str, labels: TraceLabels) -> bool:
    params = {"project": project_id, "trace": trace_id}
    found = db.query(_EXISTS, params)
    if not found or not found[0]["n"]:
        return False
    db.execute(
        _ADD,
        {
            **params,
            "tags": list(labels.tags),
            "keys": list(labels.metadata),
            "values": [orjson.dumps(v).decode() for v in labels.metadata.values()],
            "rank": labels.rank,
        },
    )
    stamps.after_write(db, [(project_id, trace_id)])
    return True
