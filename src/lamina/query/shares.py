"""Share links: make one for a session or a trace, present it, and find it from a visit.

A token is 32 random bytes (``secrets.token_urlsafe``); the store keeps only its
SHA-256 (:func:`token_hash`), so a stolen data file gives no working link, and a visit
is one lookup by hash whatever the token is. The token is shown once, when the link is
made; lists show the share's id instead, by which it can be revoked too.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

from lamina.errors import BadRequest
from lamina.query import present
from lamina.store.base import Row, Store
from lamina.store.rows import new_id
from lamina.store.shares import Share, ShareKind

DEFAULT_DAYS = 7
MAX_DAYS = 365
DAY_NS = 86_400 * 1_000_000_000
TOKEN_BYTES = 32
# Longer than any token this makes: a visit with a longer one is not looked up.
MAX_TOKEN_CHARS = 100


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def expiry_days(given: dict[str, Any]) -> int:
    days = given.get("expires_in_days", DEFAULT_DAYS)
    if days is None:
        days = DEFAULT_DAYS
    if not 1 <= days <= MAX_DAYS:
        raise BadRequest(
            f"expires_in_days must be a whole number of days from 1 to {MAX_DAYS} "
            f"(it was {days}); a link cannot last longer than a year."
        )
    return int(days)


def create(
    store: Store,
    project_id: str,
    kind: ShareKind,
    object_id: str,
    given: dict[str, Any],
    author: str | None,
) -> tuple[Share, str]:
    """A new share of the project's session or trace (NotFound if it has none), and its
    token, which is never seen again."""
    days = expiry_days(given)
    if kind is ShareKind.SESSION:
        object_id = present.get_session(store, project_id, object_id)["session_id"]
    else:
        object_id = present.get_trace(store, project_id, object_id)["trace_id"]
    now_ns = time.time_ns()
    share = Share(
        share_id=new_id("shr"),
        project_id=project_id,
        kind=kind,
        object_id=object_id,
        redact_attributes=bool(given.get("redact_attributes", False)),
        author=author,
        created_ns=now_ns,
        expires_ns=now_ns + days * DAY_NS,
    )
    token = secrets.token_urlsafe(TOKEN_BYTES)
    store.add_share(share, token_hash(token))
    return share, token


def find(store: Store, token: str) -> Share | None:
    """The live share a visit's token opens, or None (unknown, expired or revoked)."""
    if len(token) > MAX_TOKEN_CHARS:
        return None
    return store.find_share(token_hash(token), time.time_ns())


def active(store: Store, project_id: str) -> list[Share]:
    return store.list_shares(project_id, time.time_ns())


def share(item: Share) -> Row:
    """A share as the API lists it: never its token."""
    return {
        "id": item.share_id,
        "object": item.kind.value,
        "object_id": item.object_id,
        "redact_attributes": item.redact_attributes,
        "author": item.author,
        "created_at": present.moment(item.created_ns),
        "expires_at": present.moment(item.expires_ns),
    }
