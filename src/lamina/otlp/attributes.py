"""The attribute conventions: which attribute fills which field of a span record.

This module is the table in ARCHITECTURE.md ("Attribute conventions the server
understands") as code. For each field the first attribute present wins, span
attributes first, then the same names among the resource attributes.
"""

from __future__ import annotations

import math
import re
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
# At most nine digits: a longer "index" is not a message position (and int() refuses
# numbers of more than 4,300 digits).
_INDEXED = re.compile(r"^gen_ai\.(?:prompt|completion)\.(\d{1,9})\.(\w+)$")

# Attributes that can become the input or output. The one used moves there
# (keeping it in the attributes too would store every payload twice); any other
# stays among the attributes.
_PAYLOAD_KEYS = frozenset(INPUT + INPUT_LATE + OUTPUT + OUTPUT_LATE)


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
# Fields that come only from span attributes, never from the resource.
_SPAN_ONLY = frozenset({"input", "input_late", "output", "output_late"})
_COST_FIELDS = frozenset({"cost", "input_cost", "output_cost", "cost_late"})
_LLM_MARKERS = frozenset(LLM_MARKERS)
_METADATA_RANK = {prefix: rank for rank, prefix in enumerate(METADATA_PREFIXES)}

# What an attribute name means to the scan. Working it out takes prefix tests and a
# regular expression, so each name's role is worked out once and looked up after.
_KEEP = 0  # an attribute like any other: kept, nothing more
_FIELD = 1  # (_FIELD, field, rank, payload, llm_marker): a name in the conventions table
_MESSAGE = 2  # (_MESSAGE, prompt, index, part): gen_ai.prompt.N.part or gen_ai.completion.N.part
_METADATA = 3  # (_METADATA, name, rank): a metadata entry under one of METADATA_PREFIXES
Role = tuple[Any, ...]
_KEEP_ROLE: Role = (_KEEP,)


def _field_roles() -> dict[str, Role]:
    roles: dict[str, Role] = {}
    for name, names in _FIELD_NAMES.items():
        for rank, key in enumerate(names):
            assert key not in roles, f"{key} names two fields"
            roles[key] = (_FIELD, name, rank, key in _PAYLOAD_KEYS, key in _LLM_MARKERS)
    assert roles.keys() >= _LLM_MARKERS, "the scan sees markers only among the looked-up names"
    return roles


_FIELD_ROLES = _field_roles()
# The roles looked up, the table's names and those seen since; a cache that stays
# bounded however many distinct names clients send (long names are not kept at all).
_ROLES: dict[str, Role] = dict(_FIELD_ROLES)
_ROLES_MAX = 20_000
_ROLE_NAME_MAX = 200


def role(key: str) -> Role:
    """What the attribute ``key`` means to the scan (see _KEEP, _FIELD, ...)."""
    found = _ROLES.get(key)
    if found is None:
        found = _role_of(key)
        if len(key) <= _ROLE_NAME_MAX:
            if len(_ROLES) >= _ROLES_MAX:
                _ROLES.clear()
                _ROLES.update(_FIELD_ROLES)
            _ROLES[key] = found
    return found


def _role_of(key: str) -> Role:
    if key.startswith((_PROMPT, _COMPLETION)):
        match = _INDEXED.match(key)
        if match is None:
            return _KEEP_ROLE
        return (_MESSAGE, key.startswith(_PROMPT), int(match.group(1)), match.group(2))
    for prefix in METADATA_PREFIXES:
        if key.startswith(prefix):
            name = key[len(prefix) :]
            if not name or (
                prefix.startswith("traceloop")
                and (name in _TRACELOOP_FIELDS or name.startswith("metadata."))
            ):
                return _KEEP_ROLE
            return (_METADATA, name, _METADATA_RANK[prefix])
    return _KEEP_ROLE


@dataclass(slots=True)
class Scan:
    """What one pass over an attribute map found, field by field."""

    kept: dict[str, Any]  # the attribute map itself; normalise() takes the payloads used out
    values: dict[str, Any] = field(default_factory=dict)  # field -> winning value
    ranks: dict[str, int] = field(default_factory=dict)  # field -> rank of that value
    # Attributes that can become the input or output, in order: the conventions'
    # payload names and the gen_ai.prompt.N.* and gen_ai.completion.N.* messages.
    payload_keys: list[str] = field(default_factory=list)
    metadata: dict[str, str] | None = None
    prompt: dict[int, dict[str, Any]] = field(default_factory=dict)  # index -> part -> value
    completion: dict[int, dict[str, Any]] = field(default_factory=dict)
    llm_marker: bool = False

    def add_metadata(self, name: str, rank: int, value: Any, ranks: dict[str, int]) -> None:
        """Take the entry unless a lower-ranked prefix already gave one of that name."""
        if self.metadata is None:
            self.metadata = {}
        if rank < ranks.get(name, 99):
            self.metadata[name], ranks[name] = _metadata_value(value), rank


def scan(attrs: dict[str, Any]) -> Scan:
    """One pass over the attributes: every convention's field, metadata, and what to keep.

    The scan owns ``attrs`` from here on: normalise() takes the payloads it uses out
    of it (copying every span's attributes first cost more than the rest of the scan)."""
    found = Scan(attrs)
    values, ranks, payload_keys = found.values, found.ranks, found.payload_keys
    metadata_ranks: dict[str, int] = {}
    for key, value in attrs.items():
        what = _ROLES.get(key) or role(key)
        kind = what[0]
        if kind == _FIELD:
            _, name, rank, payload, marker = what
            if value is not None:
                if value != "" and rank < ranks.get(name, 99):
                    values[name], ranks[name] = value, rank
                if marker:
                    found.llm_marker = True
            if payload:
                payload_keys.append(key)
        elif kind == _MESSAGE:
            _, prompt, index, part = what
            messages = found.prompt if prompt else found.completion
            message = messages.get(index)
            if message is None:
                messages[index] = message = {}
            message[part] = value
            payload_keys.append(key)
        elif kind == _METADATA:
            found.add_metadata(what[1], what[2], value, metadata_ranks)
    raw = values.get("metadata_json")
    if isinstance(raw, str) and raw.startswith("{"):
        _metadata_json(found, raw)
    return found


def _metadata_json(found: Scan, raw: str) -> None:
    """The entries of a "metadata" JSON object; they win over prefixed attributes."""
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return
    if isinstance(parsed, dict):
        if found.metadata is None:
            found.metadata = {}
        for key, value in parsed.items():
            found.metadata[str(key)] = _metadata_value(value)


def _metadata_value(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value, default=str).decode()


def _messages(messages: dict[int, dict[str, Any]]) -> str:
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
    """Apply the conventions table: span attributes first, then the resource's.

    Runs once per span, so it converts only the fields present and builds the
    result positionally (keyword arguments cost a microsecond more)."""
    values = span.values
    for name, value in resource.values.items():
        if name not in values and name not in _SPAN_ONLY:
            values[name] = value
    metadata = span.metadata
    if resource.metadata:
        metadata = {**resource.metadata, **(metadata or {})}
    elif metadata is None:
        metadata = {}

    kind = values.get("span_type")
    if isinstance(kind, str) and kind:
        span_type = kind.upper()
    else:
        span_type = "LLM" if span.llm_marker else "DEFAULT"

    used: list[str] = []
    given_input = _payload(span, "input", span.prompt, _PROMPT, "input_late", used)
    given_output = _payload(span, "output", span.completion, _COMPLETION, "output_late", used)
    if span.payload_keys:
        _move_payloads(span.kept, span.payload_keys, tuple(used))

    session_id, user_id = values.get("session_id"), values.get("user_id")
    model, provider, tags = values.get("model"), values.get("provider"), values.get("tags")
    input_tokens, output_tokens = values.get("input_tokens"), values.get("output_tokens")
    return Normalised(
        None if session_id is None else str(session_id),
        None if user_id is None else str(user_id),
        () if tags is None else as_tags(tags),
        span_type,
        given_input,
        given_output,
        None if model is None else str(model),
        None if provider is None else str(provider),
        None if input_tokens is None else as_int(input_tokens),
        None if output_tokens is None else as_int(output_tokens),
        None if values.keys().isdisjoint(_COST_FIELDS) else _cost(values),
        metadata,
        span.kept,
    )


def _cost(values: dict[str, Any]) -> float | None:
    """The total cost; else the input and output parts added; else llm.cost.total."""
    total = as_float(values.get("cost"))
    if total is None:
        parts = (as_float(values.get("input_cost")), as_float(values.get("output_cost")))
        if parts != (None, None):
            total = (parts[0] or 0.0) + (parts[1] or 0.0)
        else:
            total = as_float(values.get("cost_late"))
    return total


def _payload(
    span: Scan,
    name: str,
    messages: dict[int, dict[str, Any]],
    prefix: str,
    late: str,
    used: list[str],
) -> str | None:
    """The input (or output) as text, adding what it was taken from to ``used``: the
    attribute's name, or for chat messages the prefix of their names."""
    values = span.values
    if name in values:
        used.append(_FIELD_NAMES[name][span.ranks[name]])
        value = values[name]
        return value if isinstance(value, str) else as_text(value)
    if messages:
        used.append(prefix)
        return _messages(messages)
    if late in values:
        used.append(_FIELD_NAMES[late][span.ranks[late]])
        return as_text(values[late])
    return None


# _move_payloads tells a payload used by its name starting with a name or prefix in
# ``used``: that holds only while no payload name (or prefix) starts with another.
_PAYLOAD_NAMES = (*_PAYLOAD_KEYS, _PROMPT, _COMPLETION)
assert not any(a != b and a.startswith(b) for a in _PAYLOAD_NAMES for b in _PAYLOAD_NAMES)


def _move_payloads(kept: dict[str, Any], payload_keys: list[str], used: tuple[str, ...]) -> None:
    """Take the payloads used out of the attributes; move the others after the rest."""
    for key in payload_keys:
        value = kept.pop(key)
        if not key.startswith(used):
            kept[key] = value
