"""Share links: read-only access to one session or one trace for whoever holds a token.

A share is made for a session or a trace of a project, by an author, with an expiry
and whether span attributes, metadata and resources are hidden from the shared page.
The token itself is never stored: only its hash (:func:`lamina.query.shares.token_hash`),
by which a visit finds the share. A share that expired, was revoked (deleted) or never
existed is simply not found. Deleting its session, trace or project deletes it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ShareKind(StrEnum):
    SESSION = "session"
    TRACE = "trace"


@dataclass(frozen=True, slots=True)
class Share:
    share_id: str
    project_id: str
    kind: ShareKind
    object_id: str  # the session id or the trace id
    redact_attributes: bool
    author: str | None
    created_ns: int
    expires_ns: int
