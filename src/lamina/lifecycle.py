"""Deleting, exporting and importing a project's data: shared by the JSON API and the CLI.

Each function takes a project id already resolved from a key, a browser or a name,
and answers plain JSON values. A trace or session that is not in the project is a
404, as when reading it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from lamina import export
from lamina.errors import BadRequest, NotFound
from lamina.store.base import Store

MAX_EXPORT_PAGE = 5000
MAX_IMPORT_SPANS = 10_000
# A page of an export holds at most about this much span text (and one span at
# least), however many spans that is: 2,000 spans of 150 KB in one page ran the
# store out of memory (256 MB) before the first span was sent.
EXPORT_PAGE_BYTES = 8 * 1024 * 1024


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


def export_page(
    store: Store,
    project_id: str,
    kind: str,
    after: str | None = None,
    limit: int = 1000,
    session_id: str | None = None,
) -> dict[str, Any]:
    """One page of export lines (see :mod:`lamina.export`) and the next cursor."""
    if kind not in export.KINDS:
        raise BadRequest(f"Cannot export {kind!r}: choose one of {', '.join(export.KINDS)}.")
    if not 1 <= limit <= MAX_EXPORT_PAGE:
        raise BadRequest(f"limit must be between 1 and {MAX_EXPORT_PAGE}.")
    if (
        session_id is not None
        and after is None
        and store.get_session(project_id, session_id) is None
    ):
        raise NotFound(f'No session "{session_id}" in this project.')
    page = store.export_page(
        project_id,
        kind,
        after=after,
        limit=limit,
        session_id=session_id,
        max_bytes=EXPORT_PAGE_BYTES if kind == "spans" else None,
    )
    return {
        "items": [export.line(kind, row) for row in page.items],
        "next_cursor": page.next_cursor,
    }


def import_spans(store: Store, project_id: str, spans: Sequence[Any]) -> dict[str, Any]:
    """Store exported span rows in the project, in one write (all or none)."""
    from lamina.spans.batch import to_columns

    if not isinstance(spans, list | tuple) or not all(isinstance(s, dict) for s in spans):
        raise BadRequest("spans must be a list of exported span objects.")
    if len(spans) > MAX_IMPORT_SPANS:
        raise BadRequest(f"Import at most {MAX_IMPORT_SPANS} spans at a time.")
    records = [export.to_record(project_id, row) for row in spans]
    if records:
        store.write_columns([to_columns(records)])
    return {"spans": len(records), "traces": len({r.trace_id for r in records})}
