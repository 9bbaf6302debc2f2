"""Deleting a project's traces and sessions: shared by the JSON API and the CLI.

Each function takes a project id already resolved from a key, a browser or a name,
and answers plain JSON values. A trace or session that is not in the project is a
404, as when reading it.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from lamina.errors import NotFound
from lamina.store.base import Store


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
