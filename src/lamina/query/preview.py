"""One-line previews of span inputs and outputs, made once at ingest.

Lists show previews, never full payloads: a chat turn reads as its last
message, a JSON value as compact JSON, anything else as its text, cut to a
fixed length on a character boundary.
"""

from __future__ import annotations

from typing import Any

import orjson

PREVIEW_CHARS = 240
_ELLIPSIS = "…"


def preview(text: str | None, limit: int = PREVIEW_CHARS) -> str | None:
    if text is None:
        return None
    head = text[: limit * 8]  # never parse or scan more than a bounded prefix
    value: Any = head
    if head[:1] in '[{"' and len(text) <= 262_144:
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            value = head
    line = _one_line(value, limit)
    return _cut(line, limit)


def _one_line(value: Any, limit: int) -> str:
    message = _last_message(value)
    if message is not None:
        value = message
    if isinstance(value, str):
        return _single_spaced(value, limit)
    return orjson.dumps(value, default=str).decode()


def _single_spaced(text: str, limit: int) -> str:
    """The text with each run of whitespace as one space, or a prefix of that longer
    than ``limit``: _cut() makes the same preview of either, and a long text's
    prefix is far quicker to make."""
    if limit > 0 and len(text) > 2 * limit:
        line = " ".join(text[: 2 * limit].split())
        if len(line) > limit:
            return line
    return " ".join(text.split())


def _last_message(value: Any) -> Any:
    """The text of the last chat message in a message list (or {"messages": [...]})."""
    if isinstance(value, dict) and isinstance(value.get("messages"), list):
        value = value["messages"]
    if not isinstance(value, list) or not value:
        return None
    last = value[-1]
    if not isinstance(last, dict) or "role" not in last:
        return None
    content = last.get("content")
    if isinstance(content, list):  # content parts: keep the text ones
        texts = [part.get("text") for part in content if isinstance(part, dict)]
        content = " ".join(text for text in texts if isinstance(text, str))
    if content in (None, ""):
        tool_calls = last.get("tool_calls")
        if tool_calls:
            return orjson.dumps(tool_calls, default=str).decode()
        return None
    return content


def _cut(line: str, limit: int) -> str:
    if len(line) <= limit:
        return line
    return line[: limit - 1].rstrip() + _ELLIPSIS
