"""Span inputs and outputs read as chat, JSON, or text; and the words of a turn.

Shared by the pages (the trace view, the session's transcript) and the previews
made at ingest (:mod:`lamina.spans.preview`), so a list and a transcript pick
the same words. A payload is stored as text (usually JSON). Here it becomes one of:

- ``chat``: a list of messages (OpenAI, Anthropic, OpenTelemetry GenAI and
  Laminar shapes), each with a role, its text, tool calls and any other data;
- ``json``: any other JSON value, shown as a collapsible tree;
- ``text``: anything else, folded when long;
- ``none``: nothing was recorded.

Nothing here produces markup: templates render these values, escaped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

MAX_PARSE_CHARS = 2_000_000
LONG_TEXT_CHARS = 1200
LONG_TEXT_LINES = 18
_NOT_SPACE = re.compile(r"\S")
_JSON_STARTS = frozenset('{["-0123456789tfn')


# The classes below are treated as immutable but not frozen: a frozen dataclass takes
# about five times as long to build, and previews build some for each trace at ingest.


@dataclass(slots=True)
class ToolCall:
    name: str
    arguments: Any = None
    id: str | None = None

    @property
    def arguments_text(self) -> str:
        if self.arguments is None:
            return ""
        if isinstance(self.arguments, str):
            return self.arguments
        return orjson.dumps(self.arguments).decode()


@dataclass(slots=True)
class Message:
    role: str
    text: str | None = None
    data: Any = None
    tool_calls: tuple[ToolCall, ...] = ()
    name: str | None = None

    @property
    def has_data(self) -> bool:
        return self.data is not None

    @property
    def text_json(self) -> Any:
        """The text as JSON when it is a JSON object or array (shown as data), else None."""
        text = (self.text or "").strip()
        if text[:1] not in "{[" or len(text) > MAX_PARSE_CHARS:
            return None
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            return None
        return value if isinstance(value, dict | list) else None

    @property
    def long(self) -> bool:
        return is_long(self.text)

    @property
    def role_class(self) -> str:
        return role_class(self.role)


def role_class(role: str) -> str:
    """A message's role as one of user, assistant, system, tool or other."""
    role = role.lower()
    if role in ("user", "human"):
        return "user"
    if role in ("assistant", "ai", "model", "bot"):
        return "assistant"
    if role in ("system", "developer"):
        return "system"
    if role in ("tool", "function", "tool_result", "ipython"):
        return "tool"
    return "other"


@dataclass(slots=True)
class Payload:
    kind: str  # "none", "text", "json" or "chat"
    raw: str = ""
    text: str = ""
    value: Any = None
    items: Sequence[dict[str, Any]] = ()  # a chat's messages, as sent
    _messages: tuple[Message, ...] | None = None

    @property
    def messages(self) -> tuple[Message, ...]:
        """A chat's messages, read when first asked for (a preview reads only one)."""
        if self._messages is None:
            self._messages = tuple(message(item) for item in self.items)
        return self._messages

    @property
    def long(self) -> bool:
        return is_long(self.text)

    @property
    def pretty(self) -> str:
        """The payload as it is best copied: indented JSON, or the text itself."""
        if self.kind in ("json", "chat"):
            return orjson.dumps(self.value, option=orjson.OPT_INDENT_2, default=str).decode()
        return self.text or self.raw


def is_long(text: str | None) -> bool:
    if not text:
        return False
    return len(text) > LONG_TEXT_CHARS or text.count("\n") > LONG_TEXT_LINES


def parse(raw: str | None) -> tuple[bool, Any]:
    """(True, value) when raw is JSON (unwrapping one level of JSON-in-a-string)."""
    if raw is None or len(raw) > MAX_PARSE_CHARS or _first(raw) not in _JSON_STARTS:
        return False, None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False, None
    if isinstance(value, str) and _first(value) in ("{", "["):
        try:
            return True, orjson.loads(value)
        except orjson.JSONDecodeError:
            pass
    return True, value


def _first(text: str) -> str:
    """The first character of text that is not whitespace, or "" (without copying text)."""
    first = text[:1]
    if not first.isspace():  # nearly always: JSON texts seldom start with a space
        return first
    found = _NOT_SPACE.search(text)
    return found.group() if found else ""


def read_payload(raw: str | None) -> Payload:
    if raw is None or raw == "":
        return Payload("none")
    ok, value = parse(raw)
    if not ok:
        return Payload("text", raw=raw, text=raw)
    if isinstance(value, str):
        return Payload("text", raw=raw, text=value)
    items = chat_items(value)
    if items:
        return Payload("chat", raw=raw, value=value, items=items)
    return Payload("json", raw=raw, value=value)


# -- chat messages --------------------------------------------------------------------------

_TEXT_PARTS = ("text", "input_text", "output_text")
_CALL_PARTS = ("tool_use", "tool_call", "function_call")
_RESULT_PARTS = ("tool_result", "tool_call_response", "function_call_output")
_IMAGE_PARTS = ("image_url", "image", "input_image")


def as_messages(value: Any) -> list[Message] | None:
    """Chat messages in any common shape, or None when value is not a conversation."""
    items = chat_items(value)
    return [message(item) for item in items] if items else None


def chat_items(value: Any) -> Sequence[dict[str, Any]] | None:
    """The messages of a chat in any common shape, as sent (dicts with a role), or None
    when value is not a conversation."""
    if isinstance(value, dict):
        if isinstance(value.get("messages"), list):
            value = value["messages"]
        elif isinstance(value.get("choices"), list):
            value = [
                c["message"] for c in value["choices"] if isinstance(c, dict) and "message" in c
            ]
        elif isinstance(value.get("role"), str) and (
            "content" in value or "parts" in value or "tool_calls" in value
        ):
            value = [value]
        else:
            return None
    if not isinstance(value, list) or not value:
        return None
    if not all(isinstance(item, dict) and isinstance(item.get("role"), str) for item in value):
        return None
    return value


def message(item: dict[str, Any]) -> Message:
    """One chat message, as sent (a dict with a role), read."""
    texts: list[str] = []
    data: list[Any] = []
    calls: list[ToolCall] = []
    content = item.get("content", item.get("parts"))
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for part in content:
            _part(part, texts, data, calls)
    elif content is not None:
        data.append(content)
    for call in item.get("tool_calls") or []:
        if isinstance(call, dict):
            inner = call.get("function")
            function: dict[str, Any] = inner if isinstance(inner, dict) else call
            calls.append(
                ToolCall(
                    str(function.get("name") or "tool"),
                    _maybe_json(function.get("arguments", function.get("input"))),
                    call.get("id"),
                )
            )
    legacy = item.get("function_call")
    if isinstance(legacy, dict):
        calls.append(
            ToolCall(str(legacy.get("name") or "function"), _maybe_json(legacy.get("arguments")))
        )
    name = item.get("name") or item.get("tool_call_id")
    return Message(
        role=item["role"],
        text="\n\n".join(texts) if texts else None,
        data=(data[0] if len(data) == 1 else data) if data else None,
        tool_calls=tuple(calls),
        name=str(name) if name else None,
    )


def _part(part: Any, texts: list[str], data: list[Any], calls: list[ToolCall]) -> None:
    if isinstance(part, str):
        texts.append(part)
        return
    if not isinstance(part, dict):
        data.append(part)
        return
    kind = part.get("type")
    if kind in _TEXT_PARTS or (kind is None and isinstance(part.get("text"), str)):
        text = part.get("text", part.get("content"))
        texts.append(text if isinstance(text, str) else orjson.dumps(text).decode())
    elif kind in _CALL_PARTS:
        calls.append(
            ToolCall(
                str(part.get("name") or "tool"),
                _maybe_json(part.get("input", part.get("arguments"))),
                part.get("id"),
            )
        )
    elif kind in _RESULT_PARTS:
        result = part.get("content", part.get("response", part.get("output")))
        if isinstance(result, str):
            texts.append(result)
        elif isinstance(result, list) and all(isinstance(r, dict) for r in result):
            for inner in result:
                _part(inner, texts, data, calls)
        else:
            data.append(result)
    elif kind in _IMAGE_PARTS:
        texts.append("[image]")
    else:
        data.append(part)


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str):
        ok, parsed = parse(value)
        return parsed if ok and not isinstance(parsed, str) else value
    return value


# -- one turn's words -----------------------------------------------------------------------

SAID_KEYS = ("user_message", "message", "question", "query", "prompt", "input", "text", "task")
REPLY_KEYS = ("answer", "reply", "response", "output", "text", "content", "message", "completion")


def said(payload: Payload) -> Message | None:
    """What the user said in a turn's input (or the input itself, when it is data)."""
    return _words(payload, "user", "input", SAID_KEYS, pick_last=False)


def replied(payload: Payload) -> Message | None:
    """What the application answered in a turn's output (or the output itself)."""
    return _words(payload, "assistant", "output", REPLY_KEYS, pick_last=True)


def _words(
    payload: Payload, role: str, data_role: str, keys: tuple[str, ...], pick_last: bool
) -> Message | None:
    if payload.kind == "none":
        return None
    if payload.kind == "text":
        return Message(role, text=payload.text)
    if payload.kind == "chat":
        chosen = turn_message(payload.items, pick_last)
        return payload.messages[chosen] if payload._messages else message(payload.items[chosen])
    value = payload.value
    if isinstance(value, dict):
        text = field_text(value, keys)
        if text is not None:
            return Message(role, text=text)
    return Message(data_role, data=value)


def turn_message(items: Sequence[dict[str, Any]], pick_last: bool) -> int:
    """Which message of a chat holds a turn's words: the last (an output), or the last
    one the user wrote (an input; the last when the user wrote none)."""
    chosen = len(items) - 1
    if not pick_last:
        users = (i for i in range(chosen, -1, -1) if role_class(items[i]["role"]) == "user")
        chosen = next(users, chosen)
    return chosen


def field_text(value: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    """The words in a JSON object: its first text field named in keys, or its only field
    when that is a text."""
    for key in keys:
        text = value.get(key)
        if isinstance(text, str):
            return text
    if len(value) == 1:
        (only,) = value.values()
        if isinstance(only, str):
            return only
    return None
