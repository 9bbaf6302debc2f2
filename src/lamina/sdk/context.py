"""Session, user, metadata and tags carried in the OpenTelemetry context.

An :class:`Association` lives under one context key. ``with_session``,
``observe(session_id=...)`` and ``Laminar.set_session`` put a new one in the
context; the SDK's span processor writes its attributes on every span started
under it (ours and the instrumentations' alike). Because it lives in the
context, it follows the code exactly as the current span does: into child
calls and asyncio tasks started inside, never into other threads, other tasks
or code that runs after the scope exits.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.context import Context, create_key, get_value, set_value
from opentelemetry.util.types import AttributeValue

from lamina.sdk import attributes as attr
from lamina.sdk.serialize import to_json

_KEY = create_key("lamina-association")

_NO_METADATA: Mapping[str, Any] = {}


class Association:
    """What every span started under it belongs to. Treated as immutable: merging
    makes a new one. (A plain class, not a dataclass: one is built per
    ``with_session``, and this is several times cheaper to build.)"""

    __slots__ = ("attributes", "metadata", "session_id", "tags", "user_id")

    def __init__(
        self,
        session_id: str | None = None,
        user_id: str | None = None,
        metadata: Mapping[str, Any] = _NO_METADATA,
        tags: tuple[str, ...] = (),
    ) -> None:
        self.session_id = session_id
        self.user_id = user_id
        self.metadata = metadata
        self.tags = tags
        #: The span attributes, computed once.
        attrs: dict[str, AttributeValue] = {}
        if session_id:
            attrs[attr.SESSION_ID] = session_id
        if user_id:
            attrs[attr.USER_ID] = user_id
        if metadata:
            attrs[attr.METADATA] = _metadata_json(metadata)
        if tags:
            attrs[attr.TAGS] = list(tags)
        self.attributes: Mapping[str, AttributeValue] = attrs

    def __repr__(self) -> str:
        return (
            f"Association(session_id={self.session_id!r}, user_id={self.user_id!r}, "
            f"metadata={dict(self.metadata)!r}, tags={self.tags!r})"
        )

    def merged(self, other: Association) -> Association:
        """This association updated with what ``other`` sets (``other`` wins)."""
        return Association(
            session_id=other.session_id or self.session_id,
            user_id=other.user_id or self.user_id,
            metadata={**self.metadata, **other.metadata} if other.metadata else self.metadata,
            tags=_union(self.tags, other.tags),
        )


def make(
    session_id: str | None = None,
    user_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    tags: Sequence[str] | None = None,
) -> Association | None:
    """An association from user arguments, checked; ``None`` when it sets nothing."""
    if session_id is not None and type(session_id) is not str:
        session_id = _id_text("session_id", session_id)
    if user_id is not None and type(user_id) is not str:
        user_id = _id_text("user_id", user_id)
    if metadata is not None and not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a dict, got {type(metadata).__name__}")
    if isinstance(tags, str):
        raise TypeError("tags must be a list of str, got a str")
    if not (session_id or user_id or metadata or tags):
        return None
    return Association(
        session_id or None,
        user_id or None,
        dict(metadata) if metadata else _NO_METADATA,
        tuple(dict.fromkeys(str(t) for t in tags)) if tags else (),
    )


def _id_text(name: str, value: object) -> str:
    """An id given as a number or a UUID, as text; anything else is a mistake."""
    if isinstance(value, (str, int, uuid.UUID)) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"{name} must be a str, got {type(value).__name__}")


def current(context: Context | None = None) -> Association | None:
    value = get_value(_KEY, context)
    return value if isinstance(value, Association) else None


def with_association(own: Association, context: Context | None = None) -> Context:
    """``context`` (default: the current one) with ``own`` merged into its association."""
    base = current(context)
    return set_value(_KEY, own if base is None else base.merged(own), context)


def _union(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    if not second:
        return first
    return tuple(dict.fromkeys(first + second))


def _metadata_json(metadata: Mapping[str, Any]) -> str:
    try:
        return json.dumps(metadata, ensure_ascii=False, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        return to_json(dict(metadata), 1 << 20)
