"""Deleting and importing a project's data: shared by the JSON API and the CLI.

Each function takes a project id already resolved from a key, a browser or a name,
and answers plain JSON values. A trace or session that is not in the project is a
404, as when reading it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from lamina.errors import BadRequest, NotFound
from lamina.exchange import importing
from lamina.store.base import Store

MAX_IMPORT_SPANS = 10_000


def delete_trace(store: Store, project_id: str, trace_id: str) -> dict[str, Any]:
    deleted = store.delete_trace(project_id, trace_id.lower())
    if not deleted.traces:
        raise NotFound(f'No trace "{trace_id}" in this project.')
    return {"deleted": asdict(deleted)}


def delete_session(store: Store, project_id: str, session_id: str) -> dict[str, Any]:
    deleted = store.delete_session(project_id, session_id)
    if not deleted.traces:
        raise NotFound(f'No session "{session_id}" in this project.')
    return {"deleted": asdict(deleted)}


def import_spans(store: Store, project_id: str, spans: Sequence[Any]) -> dict[str, Any]:
    """Store exported span rows in the project, in one write (all or none)."""
    from lamina.spans.batch import from_rows

    if not isinstance(spans, list | tuple) or not all(isinstance(s, dict) for s in spans):
        raise BadRequest("spans must be a list of exported span objects.")
    if len(spans) > MAX_IMPORT_SPANS:
        raise BadRequest(f"Import at most {MAX_IMPORT_SPANS} spans at a time.")
    rows = [importing.to_span(project_id, row) for row in spans]
    if rows:
        store.write_columns([from_rows(rows)])
    return {"spans": len(rows), "traces": len({row["trace_id"] for row in rows})}
