"""Inputs and outputs to JSON text, cheaply, for any object, within a size limit.

The common values (``str``, ``int``, ``dict`` and ``list`` of plain values) go
straight through the C JSON encoder. Anything else gets a safe fallback:
dataclasses and pydantic models as objects, bytes as text, sets as lists,
dates as ISO-8601, and ``repr`` for an object with no better form. Nothing here
raises: serialising must never break the application being traced.

A result longer than the limit is cut and returned as a JSON string that ends
with a marker saying how long the whole was, so it is still valid JSON.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import uuid
from collections.abc import Mapping
from decimal import Decimal
from pathlib import PurePath
from typing import Any

_encode_str = json.encoder.encode_basestring

_MAX_DEPTH = 32


def _default(value: Any) -> Any:
    """What the JSON encoder should write for a value it does not know."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
    model_dump = getattr(value, "model_dump", None)  # pydantic v2
    if callable(model_dump) and not isinstance(value, type):
        try:
            return model_dump(mode="json")
        except Exception:
            return repr(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="backslashreplace")
    if isinstance(value, (set, frozenset)):
        try:
            return sorted(value)
        except TypeError:
            return list(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (uuid.UUID, Decimal, PurePath, complex)):
        return str(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (tuple, list)):  # a subclass the encoder refused
        return list(value)
    return repr(value)


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_default)

# The C encoder ``_ENCODER.encode`` builds on every call, built once. Without a
# markers dict it does not look for reference cycles: a cycle ends in
# RecursionError, and the fallback path (:func:`_sanitise`) handles it.
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_C_ENCODE: Any = (
    None
    if _c_make_encoder is None
    else _c_make_encoder(None, _default, _encode_str, None, ":", ",", False, False, True)
)


def _sanitise(value: Any, depth: int, seen: set[int]) -> Any:
    """A copy of ``value`` the encoder accepts: for what made it fail (keys that
    are not strings, reference cycles, a ``default`` that raised)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if depth > _MAX_DEPTH:
        return "<lamina: nested too deep>"
    if id(value) in seen:
        return "<lamina: reference cycle>"
    if isinstance(value, dict):
        seen.add(id(value))
        out = {_key(k): _sanitise(v, depth + 1, seen) for k, v in value.items()}
        seen.discard(id(value))
        return out
    if isinstance(value, (list, tuple)):
        seen.add(id(value))
        items = [_sanitise(v, depth + 1, seen) for v in value]
        seen.discard(id(value))
        return items
    try:
        converted = _default(value)
    except Exception:
        return _safe_repr(value)
    if converted is value or isinstance(converted, str):
        return converted
    seen.add(id(value))
    try:
        return _sanitise(converted, depth + 1, seen)
    finally:
        seen.discard(id(value))


def _key(key: Any) -> str | int | float | bool | None:
    if key is None or isinstance(key, (str, int, float, bool)):
        return key
    return _safe_repr(key)


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception as exc:  # a __repr__ that raises
        return f"<{type(value).__name__} object (repr failed: {type(exc).__name__})>"


def _encode(value: Any) -> str:
    kind = type(value)
    if kind is str:
        text: str = _encode_str(value)
        return text
    if kind is int:
        return str(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    try:
        if _C_ENCODE is not None:
            return "".join(_C_ENCODE(value, 0))
        return _ENCODER.encode(value)
    except Exception:
        pass
    try:
        return _ENCODER.encode(_sanitise(value, 0, set()))
    except Exception:
        return _encode_str(_safe_repr(value))


def truncate(text: str, limit: int) -> str:
    """``text`` (JSON) if it fits in ``limit`` characters, else its first ``limit``
    characters with a marker, as a JSON string."""
    if len(text) <= limit:
        return text
    marker = f"... [truncated by lamina: {len(text)} characters in all, limit {limit}]"
    return _encode_str(text[:limit] + marker)


def to_json(value: Any, limit: int) -> str:
    """``value`` as JSON text of at most about ``limit`` characters. Never raises."""
    if type(value) is str and len(value) > limit:
        marker = f"... [truncated by lamina: {len(value)} characters in all, limit {limit}]"
        return _encode_str(value[:limit] + marker)
    return truncate(_encode(value), limit)
