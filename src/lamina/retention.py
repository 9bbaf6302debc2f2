"""Retention: each project may keep its traces a number of days; older ones are deleted.

The number is kept in the store (``Project.retention_days``; None keeps traces for
ever). The server applies it in the background every ``retention_check_seconds``
(and once at start); setting it applies it at once. A trace is old when it *ended*
more than that many days ago; its session is refreshed, or removed with its last trace.
"""

from __future__ import annotations

import asyncio
import logging
import time

from lamina.errors import BadRequest
from lamina.store.base import Deleted, Project, Store

log = logging.getLogger("lamina.retention")

DAY_NS = 86_400 * 1_000_000_000
MAX_DAYS = 36_500


def check_days(days: int | None) -> int | None:
    """A retention as given by a user: None or 0 (keep for ever), or 1 to 36500 days."""
    if days is None or days == 0:
        return None
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise BadRequest(f"Retention is a whole number of days from 1 to {MAX_DAYS} (0: for ever).")
    return days


def apply(store: Store, project: Project, now_ns: int | None = None) -> Deleted:
    """Delete the project's traces past its retention."""
    if project.retention_days is None:
        return Deleted()
    now = time.time_ns() if now_ns is None else now_ns
    deleted = store.delete_before(project.id, now - project.retention_days * DAY_NS)
    if deleted.traces:
        log.info(
            'retention: deleted %d traces (%d spans) older than %d days from project "%s"',
            deleted.traces,
            deleted.spans,
            project.retention_days,
            project.name,
        )
    return deleted


def apply_all(store: Store, now_ns: int | None = None) -> dict[str, Deleted]:
    return {project.name: apply(store, project, now_ns) for project in store.list_projects()}


async def keep_applying(store: Store, interval_seconds: float) -> None:
    """Apply every project's retention now and then every ``interval_seconds``, for ever."""
    while True:
        try:
            await asyncio.to_thread(apply_all, store)
        except Exception:  # a store that cannot delete now may later; never stop trying
            log.exception("retention: could not delete old traces; will try again")
        await asyncio.sleep(interval_seconds)
