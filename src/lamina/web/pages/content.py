"""Span inputs and outputs as the pages show them: chat, JSON, or text.

A payload is stored as text (usually JSON). Here it becomes one of:

- ``chat``: a list of messages (OpenAI, Anthropic, OpenTelemetry GenAI and
  Laminar shapes), each with a role, its text, tool calls and any other data;
- ``json``: any other JSON value, shown as a collapsible tree;
- ``text``: anything else, folded when long;
- ``none``: nothing was recorded.

Nothing here produces markup: templates render these values, escaped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

MAX_PARSE_CHARS = 2_000_000
LONG_TEXT_CHARS = 1200
LONG_TEXT_LINES = 18


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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
        role = self.role.lower()
        if role in ("user", "human"):
            return "user"
        if role in ("assistant", "ai", "model", "bot"):
            return "assistant"
        if role in ("system", "developer"):
            return "system"
        if role in ("tool", "function", "tool_result", "ipython"):
            return "tool"
        return "other"


@dataclass(frozen=True, slots=True)
class Payload:
    kind: str  # "none", "text", "json" or "chat"
    raw: str = ""
    text: str = ""
    value: Any = None
    messages: tuple[Message, ...] = field(default=())

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
    if raw is None:
        return False, None
    text = raw.strip()
    if not text or len(text) > MAX_PARSE_CHARS or text[0] not in '{["-0123456789tfn':
        return False, None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return False, None
    if isinstance(value, str):
        inner = value.strip()
        if inner[:1] in "{[" and len(inner) <= MAX_PARSE_CHARS:
            try:
                return True, orjson.loads(inner)
            except orjson.JSONDecodeError:
                pass
    return True, value


def read_payload(raw: str | None) -> Payload:
    if raw is None or raw == "":
        return Payload("none")
    ok, value = parse(raw)
    if not ok:
        return Payload("text", raw=raw, text=raw)
    if isinstance(value, str):
        return Payload("text", raw=raw, text=value)
    messages = as_messages(value)
    if messages:
        return Payload("chat", raw=raw, value=value, messages=tuple(messages))
    return Payload("json", raw=raw, value=value)


# -- chat messages --------------------------------------------------------------------------

_TEXT_PARTS = ("text", "input_text", "output_text")
_CALL_PARTS = ("tool_use", "tool_call", "function_call")
_RESULT_PARTS = ("tool_result", "tool_call_response", "function_call_output")
_IMAGE_PARTS = ("image_url", "image", "input_image")


def as_messages(value: Any) -> list[Message] | None:
    """Chat messages in any common shape, or None when value is not a conversation."""
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
    return [_message(item) for item in value]


def _message(item: dict[str, Any]) -> Message:
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

_SAID_KEYS = ("user_message", "message", "question", "query", "prompt", "input", "text", "task")
_REPLY_KEYS = ("answer", "reply", "response", "output", "text", "content", "message", "completion")


def said(payload: Payload) -> Message | None:
    """What the user said in a turn's input (or the input itself, when it is data)."""
    return _words(payload, "user", "input", _SAID_KEYS, pick_last=False)


def replied(payload: Payload) -> Message | None:
    """What the application answered in a turn's output (or the output itself)."""
    return _words(payload, "assistant", "output", _REPLY_KEYS, pick_last=True)


def _words(
    payload: Payload, role: str, data_role: str, keys: tuple[str, ...], pick_last: bool
) -> Message | None:
    if payload.kind == "none":
        return None
    if payload.kind == "text":
        return Message(role, text=payload.text)
    if payload.kind == "chat":
        messages = payload.messages
        if pick_last:
            return messages[-1]
        users = [m for m in messages if m.role_class == "user"]
        return users[-1] if users else messages[-1]
    value = payload.value
    if isinstance(value, dict):
        for key in keys:
            if isinstance(value.get(key), str):
                return Message(role, text=value[key])
        texts = [v for v in value.values() if isinstance(v, str)]
        if len(value) == 1 and texts:
            return Message(role, text=texts[0])
    return Message(data_role, data=value)
