"""One-line previews of span inputs and outputs: what lists, the CLI and the API show.

A preview is the words a turn of the session's transcript shows, on one line:
:func:`lamina.spans.payload.said` picks them from an input (a chat's last user
message; a field such as ``user_message`` or ``question`` of a JSON object, or
its only text field; a text as itself) and :func:`~lamina.spans.payload.replied`
from an output (a chat's last message; a field such as ``answer``). Anything
else is compact JSON. A span that failed previews its output as its error's
type and message (``ValueError: card declined``) when it has no output.

Previews are made once, at ingest (:mod:`lamina.spans.summaries`), and cut to
PREVIEW_CHARS characters on a character boundary.
"""

from __future__ import annotations

from typing import Any

import orjson

from lamina.spans.payload import (
    REPLY_KEYS,
    SAID_KEYS,
    Message,
    chat_items,
    field_text,
    message,
    parse,
    turn_message,
)

PREVIEW_CHARS = 240
# A longer payload is previewed as text, not parsed: its first characters are what
# a preview shows, and parsing megabytes for them would slow ingest.
PARSE_CHARS = 262_144
_ELLIPSIS = "…"


def input_preview(text: str | None, limit: int = PREVIEW_CHARS) -> str | None:
    """What the user said in an input, on one line: ``said(read_payload(text))``."""
    return _preview(text, SAID_KEYS, False, limit)


def output_preview(text: str | None, limit: int = PREVIEW_CHARS) -> str | None:
    """What was answered in an output, on one line: ``replied(read_payload(text))``."""
    return _preview(text, REPLY_KEYS, True, limit)


def _preview(text: str | None, keys: tuple[str, ...], pick_last: bool, limit: int) -> str | None:
    # The steps of read_payload() and said()/replied() without building their objects:
    # this runs twice for each trace at ingest. tests/spans/test_preview.py holds the two
    # to the same answers.
    if text is None:
        return None
    if len(text) > PARSE_CHARS:
        return one_line(text[: limit * 8], limit)
    ok, value = parse(text)
    if not ok:
        line = text
    elif isinstance(value, str):
        line = value
    elif items := chat_items(value):
        line = message_line(message(items[turn_message(items, pick_last)]))
    elif isinstance(value, dict) and (words := field_text(value, keys)) is not None:
        line = words
    elif value is None:  # JSON null: nothing said (the transcript shows "(empty)")
        line = ""
    else:
        line = orjson.dumps(value, default=str).decode()
    return one_line(line, limit)


def message_line(message: Message) -> str:
    """A message as one line of text: its text, else its tool calls, else its data."""
    if message.text and not message.text.isspace():
        return message.text
    if message.tool_calls:
        return ", ".join(f"{call.name}({call.arguments_text})" for call in message.tool_calls)
    if message.data is not None:
        return orjson.dumps(message.data, default=str).decode()
    return message.text or ""


def error_text(events: Any, status_message: str | None) -> str:
    """A failed span's error as people read it: ``Type: message`` of its first exception
    event, else its status message (which SDKs set to the same), else "Error".

    ``events`` is the span's event list, or its JSON text as stored."""
    if isinstance(events, str):
        try:
            events = orjson.loads(events) if "exception" in events else []
        except orjson.JSONDecodeError:
            events = []
    for event in events if isinstance(events, list) else []:
        if not isinstance(event, dict) or event.get("name") != "exception":
            continue
        attributes = event.get("attributes")
        if not isinstance(attributes, dict):
            continue
        kind = str(attributes.get("exception.type") or "Exception")
        said = str(attributes.get("exception.message") or "")
        return f"{kind}: {said}" if said else kind
    return status_message or "Error"


def error_preview(events: Any, status_message: str | None, limit: int = PREVIEW_CHARS) -> str:
    return one_line(error_text(events, status_message), limit)


def one_line(text: str, limit: int = PREVIEW_CHARS) -> str:
    """Text with each run of whitespace as one space, cut to ``limit`` characters."""
    return _cut(_single_spaced(text, limit), limit)


def _single_spaced(text: str, limit: int) -> str:
    """The text with each run of whitespace as one space, or a prefix of that longer
    than ``limit``: _cut() makes the same preview of either, and a long text's
    prefix is far quicker to make."""
    if limit > 0 and len(text) > 2 * limit:
        line = " ".join(text[: 2 * limit].split())
        if len(line) > limit:
            return line
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text  # already one line: every other whitespace character is unprintable
    return " ".join(text.split())


def _cut(line: str, limit: int) -> str:
    if len(line) <= limit:
        return line
    return line[: limit - 1].rstrip() + _ELLIPSIS
