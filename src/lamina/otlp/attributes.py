"""The attribute conventions: which attribute fills which field of a span record.

This module is the table in ARCHITECTURE.md ("Attribute conventions the server
understands") as code. For each field the first attribute present wins, span
attributes first, then the same names among the resource attributes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

SESSION_ID = (
    "session.id",
    "lmnr.association.properties.session_id",
    "gen_ai.conversation.id",
    "langfuse.session.id",
    "traceloop.association.properties.session_id",
    "ai.telemetry.metadata.sessionId",
    "ai.telemetry.metadata.session_id",
)
USER_ID = (
    "user.id",
    "lmnr.association.properties.user_id",
    "enduser.id",
    "langfuse.user.id",
    "traceloop.association.properties.user_id",
    "ai.telemetry.metadata.userId",
)
TAGS = ("tag.tags", "lmnr.association.properties.tags", "langfuse.trace.tags")
SPAN_TYPE = ("lamina.span.type", "lmnr.span.type", "openinference.span.kind")
LLM_MARKERS = ("gen_ai.system", "gen_ai.provider.name", "gen_ai.request.model", "llm.model_name")
INPUT = ("input.value", "lmnr.span.input", "gen_ai.input.messages")
INPUT_LATE = ("traceloop.entity.input",)
OUTPUT = ("output.value", "lmnr.span.output", "gen_ai.output.messages")
OUTPUT_LATE = ("traceloop.entity.output",)
MODEL = ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name")
PROVIDER = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
INPUT_TOKENS = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
    "llm.usage.prompt_tokens",
)
OUTPUT_TOKENS = (
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
    "llm.usage.completion_tokens",
)
COST = ("gen_ai.usage.cost", "llm.cost.total")
COST_PARTS = ("gen_ai.usage.input_cost", "gen_ai.usage.output_cost")

METADATA_JSON = "metadata"
METADATA_PREFIXES = (
    "lmnr.association.properties.metadata.",
    "langfuse.trace.metadata.",
    "traceloop.association.properties.",
)
# Keys under the Traceloop prefix that are fields of their own, not metadata.
_TRACELOOP_FIELDS = frozenset({"session_id", "user_id"})

_PROMPT = "gen_ai.prompt."
_COMPLETION = "gen_ai.completion."
_INDEXED = re.compile(r"^gen_ai\.(?:prompt|completion)\.(\d+)\.(\w+)$")

# Attributes whose whole value moves into input/output; keeping them in the
# attributes too would store every payload twice.
_PAYLOAD_KEYS = frozenset(INPUT + INPUT_LATE + OUTPUT + OUTPUT_LATE)

Attributes = Mapping[str, Any]


def first(names: tuple[str, ...], attrs: Attributes, resource: Attributes) -> Any:
    for source in (attrs, resource):
        for name in names:
            value = source.get(name)
            if value is not None and value != "":
                return value
    return None


def as_text(value: Any) -> str | None:
    """A payload as text: strings unchanged, anything else as JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return orjson.dumps(value, default=str).decode()


def as_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return None


def as_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def as_tags(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            try:
                value = orjson.loads(stripped)
            except orjson.JSONDecodeError:
                return (value,)
        else:
            return (value,) if value else ()
    if isinstance(value, list | tuple):
        return tuple(dict.fromkeys(str(tag) for tag in value if tag is not None and tag != ""))
    return (str(value),)


def metadata(attrs: Attributes, resource: Attributes) -> dict[str, str]:
    """Metadata from every known convention; earlier conventions win."""
    found: dict[str, str] = {}
    for source in (attrs, resource):
        raw = source.get(METADATA_JSON)
        if isinstance(raw, str) and raw.startswith("{"):
            try:
                parsed = orjson.loads(raw)
            except orjson.JSONDecodeError:
                parsed = None
            if isinstance(parsed, dict):
                for key, value in parsed.items():
                    found.setdefault(str(key), _metadata_value(value))
        for key, value in source.items():
            for prefix in METADATA_PREFIXES:
                if key.startswith(prefix):
                    name = key[len(prefix) :]
                    if prefix.startswith("traceloop") and (
                        name in _TRACELOOP_FIELDS or name.startswith("metadata.")
                    ):
                        continue
                    if name:
                        found.setdefault(name, _metadata_value(value))
                    break
    return found


def _metadata_value(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value, default=str).decode()


def indexed_messages(prefix: str, attrs: Attributes) -> str | None:
    """``gen_ai.prompt.N.role`` / ``.content`` style attributes as a JSON message list."""
    messages: dict[int, dict[str, Any]] = {}
    for key, value in attrs.items():
        if not key.startswith(prefix):
            continue
        match = _INDEXED.match(key)
        if match:
            messages.setdefault(int(match.group(1)), {})[match.group(2)] = value
    if not messages:
        return None
    ordered = [messages[index] for index in sorted(messages)]
    return orjson.dumps(ordered, default=str).decode()


def span_input(attrs: Attributes, resource: Attributes) -> str | None:
    value = first(INPUT, attrs, {})
    if value is None:
        prompt = indexed_messages(_PROMPT, attrs)
        if prompt is not None:
            return prompt
        value = first(INPUT_LATE, attrs, {})
    return as_text(value)


def span_output(attrs: Attributes, resource: Attributes) -> str | None:
    value = first(OUTPUT, attrs, {})
    if value is None:
        completion = indexed_messages(_COMPLETION, attrs)
        if completion is not None:
            return completion
        value = first(OUTPUT_LATE, attrs, {})
    return as_text(value)


def span_type(attrs: Attributes, resource: Attributes) -> str:
    value = first(SPAN_TYPE, attrs, resource)
    if isinstance(value, str) and value:
        return value.upper()
    if any(attrs.get(name) is not None for name in LLM_MARKERS):
        return "LLM"
    return "DEFAULT"


def cost(attrs: Attributes, resource: Attributes) -> float | None:
    total = as_float(first(COST, attrs, resource))
    if total is not None:
        return total
    parts = [as_float(attrs.get(name)) for name in COST_PARTS]
    if any(part is not None for part in parts):
        return sum(part or 0.0 for part in parts)
    return None


def kept_attributes(attrs: Attributes) -> dict[str, Any]:
    """The attributes stored beside the record: all but the payloads moved out."""
    return {
        key: value
        for key, value in attrs.items()
        if key not in _PAYLOAD_KEYS
        and not (key.startswith(("gen_ai.prompt.", "gen_ai.completion.")) and _INDEXED.match(key))
    }
