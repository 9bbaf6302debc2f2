"""The attribute conventions: which attribute fills which field of a span record.

This module is the table in ARCHITECTURE.md ("Attribute conventions the server
understands") as code. For each field the first attribute present wins, span
attributes first, then the same names among the resource attributes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
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
COST = ("gen_ai.usage.cost",)
COST_PARTS = ("gen_ai.usage.input_cost", "gen_ai.usage.output_cost")
COST_LATE = ("llm.cost.total",)  # ranks after the input + output parts

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

# Attributes that can become the input or output. The one used moves there
# (keeping it in the attributes too would store every payload twice); any other
# stays among the attributes.
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


# A count past this is not a real token count; storing it could overflow sums.
MAX_COUNT = 10**12


def as_int(value: Any) -> int | None:
    """A non-negative count, or None for anything that is not a plausible one."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        try:
            number = int(float(value))
        except (TypeError, ValueError, OverflowError):
            return None
    return number if 0 <= number <= MAX_COUNT else None


def as_float(value: Any) -> float | None:
    """A finite amount (of money), or None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) and abs(number) <= MAX_COUNT else None


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


@dataclass(slots=True)
class Scan:
    """What one pass over an attribute map found, field by field."""

    values: dict[str, Any] = field(default_factory=dict)  # field -> winning value
    ranks: dict[str, int] = field(default_factory=dict)  # field -> rank of that value
    metadata: dict[str, str] = field(default_factory=dict)
    prompt: dict[int, dict[str, Any]] = field(default_factory=dict)
    completion: dict[int, dict[str, Any]] = field(default_factory=dict)
    kept: dict[str, Any] = field(default_factory=dict)
    payloads: dict[str, Any] = field(default_factory=dict)  # candidates for input/output
    winners: dict[str, str] = field(default_factory=dict)  # field -> attribute that won
    message_keys: list[str] = field(default_factory=list)  # gen_ai.prompt.N.* and completion
    llm_marker: bool = False


# attribute name -> (field, rank); a lower rank wins. Built from the tuples above.
_FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "session_id": SESSION_ID,
    "user_id": USER_ID,
    "tags": TAGS,
    "span_type": SPAN_TYPE,
    "input": INPUT,
    "input_late": INPUT_LATE,
    "output": OUTPUT,
    "output_late": OUTPUT_LATE,
    "model": MODEL,
    "provider": PROVIDER,
    "input_tokens": INPUT_TOKENS,
    "output_tokens": OUTPUT_TOKENS,
    "cost": COST,
    "input_cost": COST_PARTS[:1],
    "output_cost": COST_PARTS[1:],
    "cost_late": COST_LATE,
    "metadata_json": (METADATA_JSON,),
}
_LOOKUP: dict[str, tuple[str, int]] = {}
for _field, _names in _FIELD_NAMES.items():
    for _rank, _name in enumerate(_names):
        assert _name not in _LOOKUP, f"{_name} names two fields"
        _LOOKUP[_name] = (_field, _rank)
# Fields that come only from span attributes, never from the resource.
_SPAN_ONLY = frozenset({"input", "input_late", "output", "output_late"})
_PREFIXES = (_PROMPT, _COMPLETION, *METADATA_PREFIXES)
_LLM_MARKERS = frozenset(LLM_MARKERS)
assert _LOOKUP.keys() >= _LLM_MARKERS, "the scan sees markers only among the looked-up names"
_METADATA_RANK = {prefix: rank for rank, prefix in enumerate(METADATA_PREFIXES)}


def scan(attrs: Attributes) -> Scan:
    """One pass over the attributes: every convention's field, metadata, and what to keep."""
    found = Scan()
    values, ranks, kept, payloads = found.values, found.ranks, found.kept, found.payloads
    metadata_ranks: dict[str, int] = {}
    for key, value in attrs.items():
        hit = _LOOKUP.get(key)
        if hit is not None:
            name, rank = hit
            if value is not None and value != "" and rank < ranks.get(name, 99):
                values[name], ranks[name] = value, rank
                found.winners[name] = key
            if value is not None and key in _LLM_MARKERS:
                found.llm_marker = True
            if key in _PAYLOAD_KEYS:
                payloads[key] = value
            else:
                kept[key] = value
            continue
        if key.startswith(_PREFIXES):
            if key.startswith((_PROMPT, _COMPLETION)):
                match = _INDEXED.match(key)
                if match:
                    messages = found.prompt if key.startswith(_PROMPT) else found.completion
                    messages.setdefault(int(match.group(1)), {})[match.group(2)] = value
                    payloads[key] = value
                    found.message_keys.append(key)
                    continue
            else:
                _metadata_attribute(key, value, found.metadata, metadata_ranks)
        kept[key] = value
    raw = values.get("metadata_json")
    if isinstance(raw, str) and raw.startswith("{"):
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):  # the JSON object wins over prefixed attributes
            for key, value in parsed.items():
                found.metadata[str(key)] = _metadata_value(value)
    return found


def _metadata_attribute(key: str, value: Any, into: dict[str, str], ranks: dict[str, int]) -> None:
    for prefix in METADATA_PREFIXES:
        if not key.startswith(prefix):
            continue
        name = key[len(prefix) :]
        if prefix.startswith("traceloop") and (
            name in _TRACELOOP_FIELDS or name.startswith("metadata.")
        ):
            return
        rank = _METADATA_RANK[prefix]
        if name and rank < ranks.get(name, 99):
            into[name], ranks[name] = _metadata_value(value), rank
        return


def _metadata_value(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value, default=str).decode()


def _messages(messages: dict[int, dict[str, Any]]) -> str | None:
    if not messages:
        return None
    return orjson.dumps([messages[index] for index in sorted(messages)], default=str).decode()


@dataclass(slots=True)
class Normalised:
    """The fields of a span record that come from its attributes."""

    session_id: str | None
    user_id: str | None
    tags: tuple[str, ...]
    span_type: str
    input: str | None
    output: str | None
    model: str | None
    provider: str | None
    input_tokens: int | None
    output_tokens: int | None
    cost: float | None
    metadata: dict[str, str]
    kept: dict[str, Any]


def normalise(span: Scan, resource: Scan) -> Normalised:
    """Apply the conventions table: span attributes first, then the resource's."""
    values = span.values
    for name, value in resource.values.items():
        if name not in values and name not in _SPAN_ONLY:
            values[name] = value
    metadata = dict(resource.metadata)
    metadata.update(span.metadata)

    kind = values.get("span_type")
    if isinstance(kind, str) and kind:
        span_type = kind.upper()
    elif span.llm_marker:
        span_type = "LLM"
    else:
        span_type = "DEFAULT"

    total = as_float(values.get("cost"))
    if total is None:
        parts = (as_float(values.get("input_cost")), as_float(values.get("output_cost")))
        if parts != (None, None):
            total = (parts[0] or 0.0) + (parts[1] or 0.0)
        else:
            total = as_float(values.get("cost_late"))

    used: set[str] = set()
    given_input = _payload(span, "input", span.prompt, _PROMPT, "input_late", used)
    given_output = _payload(span, "output", span.completion, _COMPLETION, "output_late", used)
    kept = span.kept
    for key, value in span.payloads.items():
        if key not in used:
            kept[key] = value
    return Normalised(
        session_id=_text_or_none(values.get("session_id")),
        user_id=_text_or_none(values.get("user_id")),
        tags=as_tags(values.get("tags")),
        span_type=span_type,
        input=given_input,
        output=given_output,
        model=_text_or_none(values.get("model")),
        provider=_text_or_none(values.get("provider")),
        input_tokens=as_int(values.get("input_tokens")),
        output_tokens=as_int(values.get("output_tokens")),
        cost=total,
        metadata=metadata,
        kept=kept,
    )


def _payload(
    span: Scan,
    name: str,
    messages: dict[int, dict[str, Any]],
    prefix: str,
    late: str,
    used: set[str],
) -> str | None:
    """The input (or output) as text, marking the attributes it was taken from as used."""
    if name in span.values:
        used.add(span.winners[name])
        return as_text(span.values[name])
    if messages:
        used.update(key for key in span.message_keys if key.startswith(prefix))
        return _messages(messages)
    if late in span.values:
        used.add(span.winners[late])
        return as_text(span.values[late])
    return None


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


# Single-field views of the same rules, for callers that want one field.


def _one(attrs: Attributes, resource: Attributes) -> Normalised:
    return normalise(scan(attrs), scan(resource))


def metadata(attrs: Attributes, resource: Attributes) -> dict[str, str]:
    return _one(attrs, resource).metadata


def span_input(attrs: Attributes, resource: Attributes) -> str | None:
    return _one(attrs, resource).input


def span_output(attrs: Attributes, resource: Attributes) -> str | None:
    return _one(attrs, resource).output


def span_type(attrs: Attributes, resource: Attributes) -> str:
    return _one(attrs, resource).span_type


def cost(attrs: Attributes, resource: Attributes) -> float | None:
    return _one(attrs, resource).cost


def kept_attributes(attrs: Attributes) -> dict[str, Any]:
    """The attributes stored beside the record: all but the payloads moved out."""
    return scan(attrs).kept
