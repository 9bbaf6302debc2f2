"""A project's saved SQL console queries: a name and the query, kept in the store as one
JSON document per project (a store setting, lamina.store.console.saved_queries_setting;
deleting the project deletes it), so both stores hold them without a table of their
own. ``GET/PUT/DELETE /api/v1/sql/queries[/{name}]`` and the SQL page call these.

A project keeps at most MAX_SAVED; saving a name again replaces its query. Two saves at
once in one server are taken in turn (a lock); on ClickHouse, two servers saving at the
same moment may keep only one of the two (the last write of the document wins).
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from lamina.errors import BadRequest, NotFound
from lamina.query.console import MAX_QUERY_CHARS, value_json
from lamina.query.present import moment
from lamina.store.base import Row, Store
from lamina.store.console import saved_queries_setting

MAX_SAVED = 100
MAX_NAME = 100
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class SavedQuery:
    name: str
    query: str
    author: str | None
    saved_ns: int
    pinned: bool = False  # drawn on the Dashboard (lamina.web.pages.console.pinned_charts)


def list_saved(store: Store, project_id: str) -> list[SavedQuery]:
    """The project's saved queries, by name."""
    raw = store.get_setting(saved_queries_setting(project_id))
    items: list[dict[str, Any]] = orjson.loads(raw) if raw else []
    return sorted((SavedQuery(**item) for item in items), key=lambda q: q.name.lower())


def save(
    store: Store,
    project_id: str,
    name: Any,
    query: Any,
    author: str | None,
    pinned: bool = False,
) -> SavedQuery:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME:
        raise BadRequest(f"A saved query needs a name of 1 to {MAX_NAME} characters.")
    if not isinstance(query, str) or not query.strip() or len(query) > MAX_QUERY_CHARS:
        raise BadRequest(f"A saved query needs a query of 1 to {MAX_QUERY_CHARS:,} characters.")
    saved = SavedQuery(name.strip(), query, author, time.time_ns(), bool(pinned))
    with _lock:
        kept = [q for q in list_saved(store, project_id) if q.name != saved.name]
        if len(kept) >= MAX_SAVED:
            raise BadRequest(
                f"A project keeps at most {MAX_SAVED} saved queries: delete one first."
            )
        _write(store, project_id, [*kept, saved])
    return saved


def delete(store: Store, project_id: str, name: str) -> SavedQuery:
    with _lock:
        found = list_saved(store, project_id)
        doomed = next((q for q in found if q.name == name), None)
        if doomed is None:
            raise NotFound(f'No saved query "{name[:MAX_NAME]}" in this project.')
        _write(store, project_id, [q for q in found if q.name != name])
    return doomed


def present(saved: SavedQuery) -> Row:
    return {
        "name": saved.name,
        "query": saved.query,
        "author": saved.author,
        "saved_at": value_json(moment(saved.saved_ns)),
        "pinned": saved.pinned,
    }


def _write(store: Store, project_id: str, items: list[SavedQuery]) -> None:
    store.set_setting(
        saved_queries_setting(project_id), orjson.dumps([asdict(q) for q in items]).decode()
    )
