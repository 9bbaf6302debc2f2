"""Tags and metadata given to a stored trace (lamina.store.labels), in the DuckDB store:
its summary row changed in one transaction, which the store runs under its store lock
after storing what is journaled (lamina.store.duckdb.store), so no fold of the trace's
spans runs at the same time."""

from __future__ import annotations

from lamina.spans.summaries import merge_metadata
from lamina.store.duckdb.connection import Connection
from lamina.store.labels import TraceLabels, merged_tags
from lamina.store.rollups import hour

_FAILURE = "Could not tag the trace ({error}). {advice}"


def label_trace(
    connection: Connection, project_id: str, trace_id: str, labels: TraceLabels
) -> bool:
    with connection.transaction(_FAILURE) as con:
        row = con.execute(
            "SELECT tags, metadata, start_ns FROM traces WHERE project_id = ? AND trace_id = ?",
            [project_id, trace_id],
        ).fetchone()
        if row is None:
            return False
        tags, metadata, start_ns = row
        connection.rollups.touch([(project_id, hour(start_ns))])
        if labels.metadata:
            metadata = merge_metadata(metadata, labels.ranked_metadata())
        con.execute(
            "UPDATE traces SET tags = ?, metadata = ? WHERE project_id = ? AND trace_id = ?",
            [merged_tags(tags, labels.tags), metadata, project_id, trace_id],
        )
    return True
