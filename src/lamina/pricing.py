"""Model prices, used to compute a span's cost from its token counts.

When a span names a model and carries token counts but no cost, ingest asks
:meth:`PriceTable.cost` for one. The built-in table lives in
``lamina/data/prices.json``; a user's file in the same format can replace
prices and add models (see ``docs/pricing.md``).

Model names are matched the way real clients spell them: case-insensitively,
with provider prefixes (``openai/gpt-4o``, ``models/gemini-1.5-pro``,
``accounts/fireworks/models/...``, Bedrock's ``us.anthropic.claude-...-v2:0``)
removed, dated snapshots (``gpt-4o-2024-08-06``) falling back to their base
model, and finally the longest known prefix (``gpt-4o-mini-tts`` is priced as
``gpt-4o-mini``). Results are cached per raw name, so a repeated lookup is a
dict hit.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["ModelPrice", "PriceTable"]

_TOKENS_PER_UNIT = 1_000_000
_CACHE_LIMIT = 10_000  # distinct (model, provider) pairs remembered before the cache is reset

# Telemetry spellings of a provider (OpenTelemetry ``gen_ai.system`` values,
# LiteLLM/OpenRouter prefixes) mapped to the names the price table uses.
_PROVIDER_ALIASES: dict[str, str] = {
    "openai": "openai",
    "azure": "azure",
    "azure_openai": "azure",
    "az.ai.openai": "azure",
    "az.ai.inference": "azure",
    "anthropic": "anthropic",
    "google": "google",
    "gemini": "google",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "vertex_ai": "google",
    "vertexai": "google",
    "vertex": "google",
    "google_genai": "google",
    "mistral": "mistral",
    "mistralai": "mistral",
    "mistral_ai": "mistral",
    "together": "together",
    "together_ai": "together",
    "togetherai": "together",
    "groq": "groq",
    "fireworks": "fireworks",
    "fireworks_ai": "fireworks",
    "bedrock": "bedrock",
    "aws.bedrock": "bedrock",
    "aws_bedrock": "bedrock",
    "amazon_bedrock": "bedrock",
    "bedrock_converse": "bedrock",
    "deepseek": "deepseek",
    "xai": "xai",
    "x_ai": "xai",
    "x-ai": "xai",
    "cohere": "cohere",
    "cohere_chat": "cohere",
}

# Bedrock model ids: optional cross-region prefix, vendor, model, e.g.
# "us.anthropic.claude-3-5-sonnet-20241022-v2:0" or "meta.llama3-1-8b-instruct-v1:0".
_BEDROCK_ID = re.compile(
    r"^(?:(?:us|eu|apac|ap|us-gov|ca|jp|au|global)\.)?"
    r"(?:anthropic|meta|amazon|mistral|cohere|ai21|deepseek|writer|openai|qwen)\.(.+)$"
)
_BEDROCK_VERSION = re.compile(r"-v\d+:\d+$")
_CLAUDE_DOTTED_VERSION = re.compile(r"(?<=\d)\.(?=\d)")

# Snapshot suffixes that name a dated or rolling release of a base model.
_SNAPSHOT_SUFFIXES: tuple[re.Pattern[str], ...] = (
    re.compile(r"@.*$"),  # Vertex AI: claude-3-5-sonnet-v2@20241022
    re.compile(r"-latest$"),  # claude-3-5-sonnet-latest, mistral-large-latest
    re.compile(r"-\d{4}-\d{2}-\d{2}$"),  # OpenAI: gpt-4o-2024-08-06
    re.compile(r"-\d{8}$"),  # Anthropic: claude-3-5-sonnet-20241022
    re.compile(r"-\d{2}-\d{4}$"),  # Cohere: command-r-plus-08-2024
    re.compile(r"-\d{4}$"),  # OpenAI gpt-4-0613, Mistral mistral-large-2411
    re.compile(r"-\d{3}$"),  # Google: gemini-1.5-pro-002
)

# A prefix match is refused when what follows the prefix starts with a short
# version number: "claude-opus-4-6" is a different model from "claude-opus-4",
# not a snapshot of it.
_VERSION_AFTER_PREFIX = re.compile(r"^[-_]\d{1,2}(?:$|[-_.:@])")
_PREFIX_CUTS = frozenset("-_:@")

_REQUIRED_FIELDS: dict[str, str] = {
    "model": 'the model name, e.g. "gpt-4o"',
    "provider": 'who bills for it, e.g. "openai"',
    "input_per_mtok": "USD per 1M input tokens",
    "output_per_mtok": "USD per 1M output tokens",
}
_OPTIONAL_FIELDS: dict[str, str] = {
    "cached_input_per_mtok": "USD per 1M cached input tokens, or null",
    "as_of": 'the date the price was taken, "YYYY-MM-DD"',
    "aliases": "other names for the same model, a list of strings",
    "note": "free text",
}
_TOP_LEVEL_FIELDS = ("as_of", "currency", "comment", "providers", "models")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BUILTIN_ORIGIN = "built-in price table lamina/data/prices.json"


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """The price of one model at one provider, in USD per 1M tokens."""

    model: str
    provider: str
    input_per_mtok: float
    output_per_mtok: float
    cached_input_per_mtok: float | None
    as_of: str


@dataclass(frozen=True, slots=True)
class _Entry:
    price: ModelPrice
    names: tuple[str, ...]  # canonical model name first, then aliases


def _normalise_provider(provider: str) -> str:
    p = provider.strip().lower()
    return _PROVIDER_ALIASES.get(p, p)


def _canonical_name(raw: str) -> tuple[str, str | None]:
    """Lower-case ``raw`` and strip provider prefixes and Bedrock decoration.

    Returns the bare model name and the provider the prefix named, if any.
    Dates are left alone: an exact snapshot can have its own price.
    """
    name = raw.strip().lower()
    hint: str | None = None
    if "/" in name:
        *prefixes, name = name.split("/")
        for segment in prefixes:
            if segment in _PROVIDER_ALIASES:
                hint = _PROVIDER_ALIASES[segment]
                break
    bedrock = _BEDROCK_ID.match(name)
    if bedrock is not None:
        name = bedrock.group(1)
        hint = hint or "bedrock"
    name = _BEDROCK_VERSION.sub("", name)
    if name.startswith("claude"):
        # OpenRouter and others write "claude-3.5-sonnet"; Anthropic writes "claude-3-5-sonnet".
        name = _CLAUDE_DOTTED_VERSION.sub("-", name)
    return name, hint


def _without_snapshots(name: str) -> list[str]:
    """``name`` with snapshot suffixes removed one at a time, shortest last."""
    forms: list[str] = []
    changed = True
    while changed:
        changed = False
        for pattern in _SNAPSHOT_SUFFIXES:
            shorter = pattern.sub("", name)
            if shorter != name and shorter:
                name = shorter
                forms.append(name)
                changed = True
                break
    return forms


class PriceTable:
    """Model prices, with lookups that tolerate how real clients name models."""

    __slots__ = ("_cache", "_entries", "_index")

    def __init__(self, entries: Sequence[_Entry]) -> None:
        self._entries: tuple[_Entry, ...] = tuple(entries)
        # canonical name -> prices under that name, preferred first
        self._index: dict[str, list[ModelPrice]] = {}
        for entry in self._entries:
            for name in entry.names:
                prices = self._index.setdefault(name, [])
                if entry.price not in prices:
                    prices.append(entry.price)
        self._cache: dict[tuple[str, str | None], ModelPrice | None] = {}

    @classmethod
    def load(cls, override_path: Path | None = None) -> PriceTable:
        """The built-in table, overridden and extended by the file at ``override_path``.

        An override entry replaces the built-in entry with the same model and
        provider, and is preferred over built-in entries of the same name.
        Raises ``ValueError`` naming the file and the problem if the override
        file cannot be read or is not a valid price file.
        """
        text = resources.files("lamina").joinpath("data").joinpath("prices.json").read_text("utf-8")
        builtin = _parse_price_file(text, _BUILTIN_ORIGIN)
        if override_path is None:
            return cls(builtin)
        origin = f"price file {override_path}"
        try:
            override_text = Path(override_path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"{origin}: cannot read it: {exc}") from exc
        overrides = _parse_price_file(override_text, origin)
        return cls(_merge(builtin, overrides))

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[ModelPrice]:
        return (entry.price for entry in self._entries)

    def lookup(self, model: str | None, provider: str | None = None) -> ModelPrice | None:
        """The price for ``model``, or None if no known model matches.

        ``provider`` (a table name like "groq" or a telemetry value like
        "aws.bedrock") picks between hosts that serve a model under the same
        name; it never makes a lookup fail.
        """
        if not model:
            return None
        key = (model, provider)
        try:
            return self._cache[key]
        except KeyError:
            pass
        price = self._resolve(model, provider)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = price
        return price

    def cost(
        self,
        model: str | None,
        provider: str | None,
        input_tokens: int | None,
        output_tokens: int | None,
    ) -> float | None:
        """USD cost of a call, or None if the model is unknown or both counts are None.

        A missing (or negative) count is treated as 0.
        """
        if input_tokens is None and output_tokens is None:
            return None
        price = self.lookup(model, provider)
        if price is None:
            return None
        tokens_in = max(input_tokens or 0, 0)
        tokens_out = max(output_tokens or 0, 0)
        return (
            tokens_in * price.input_per_mtok + tokens_out * price.output_per_mtok
        ) / _TOKENS_PER_UNIT

    def _resolve(self, model: str, provider: str | None) -> ModelPrice | None:
        name, hint = _canonical_name(model)
        if not name:
            return None
        preferred = [p for p in (provider and _normalise_provider(provider), hint) if p]
        candidates = self._index.get(name)
        if candidates is None:
            for shorter in _without_snapshots(name):
                candidates = self._index.get(shorter)
                if candidates is not None:
                    break
                name = shorter
        if candidates is None:
            candidates = self._longest_prefix(name)
        if candidates is None:
            return None
        for wanted in preferred:
            for price in candidates:
                if price.provider == wanted:
                    return price
        return candidates[0]

    def _longest_prefix(self, name: str) -> list[ModelPrice] | None:
        for cut in range(len(name) - 1, 0, -1):
            if name[cut] not in _PREFIX_CUTS:
                continue
            candidates = self._index.get(name[:cut])
            if candidates is None:
                continue
            if _VERSION_AFTER_PREFIX.match(name[cut:]):
                return None
            return candidates
        return None


def _merge(builtin: list[_Entry], overrides: list[_Entry]) -> list[_Entry]:
    """Override entries first (so they win name clashes), then the untouched built-ins."""
    by_key = {(e.names[0], e.price.provider): e for e in builtin}
    merged: list[_Entry] = []
    for entry in overrides:
        replaced = by_key.pop((entry.names[0], entry.price.provider), None)
        if replaced is not None:
            extra = tuple(n for n in replaced.names if n not in entry.names)
            entry = _Entry(entry.price, entry.names + extra)
        merged.append(entry)
    merged.extend(e for e in builtin if (e.names[0], e.price.provider) in by_key)
    return merged


class _Problem(Exception):
    """A defect in a price file; turned into a ValueError that names the file."""


def _parse_price_file(text: str, origin: str) -> list[_Entry]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{origin}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    try:
        return _parse_document(data)
    except _Problem as exc:
        raise ValueError(f"{origin}: {exc}") from None


def _parse_document(data: Any) -> list[_Entry]:
    if not isinstance(data, dict):
        raise _Problem(
            f'the file must hold a JSON object like {{"models": [...]}}, not {_kind(data)}'
        )
    unknown = sorted(set(data) - set(_TOP_LEVEL_FIELDS))
    if unknown:
        raise _Problem(
            f"unknown top-level field {_quote_list(unknown)}; "
            f"allowed fields are {_quote_list(_TOP_LEVEL_FIELDS)}"
        )
    if "models" not in data:
        raise _Problem('missing the "models" field: a list of model prices')
    file_as_of = data.get("as_of")
    if file_as_of is not None:
        _check_date(file_as_of, 'top-level "as_of"')
    currency = data.get("currency", "USD")
    if currency != "USD":
        raise _Problem(f'"currency" must be "USD" (prices are not converted), not {currency!r}')
    providers = data.get("providers", {})
    if not isinstance(providers, dict):
        raise _Problem(f'"providers" must be an object, not {_kind(providers)}')
    models = data["models"]
    if not isinstance(models, list):
        raise _Problem(f'"models" must be a list of model prices, not {_kind(models)}')

    entries: list[_Entry] = []
    seen: dict[tuple[str, str], int] = {}
    for i, raw in enumerate(models):
        entry = _parse_entry(raw, f"models[{i}]", file_as_of)
        key = (entry.names[0], entry.price.provider)
        if key in seen:
            raise _Problem(
                f"models[{i}] ({entry.price.model!r}, provider {entry.price.provider!r}) "
                f"repeats models[{seen[key]}]; list each model once per provider"
            )
        seen[key] = i
        entries.append(entry)
    return entries


def _parse_entry(raw: Any, where: str, file_as_of: str | None) -> _Entry:
    if not isinstance(raw, dict):
        raise _Problem(
            f"{where} must be an object like "
            '{"model": "gpt-4o", "provider": "openai", "input_per_mtok": 2.5, '
            f'"output_per_mtok": 10.0, "as_of": "2025-08-07"}}, not {_kind(raw)}'
        )
    model = raw.get("model")
    if isinstance(model, str) and model.strip():
        where = f"{where} ({model!r})"
    unknown = sorted(set(raw) - set(_REQUIRED_FIELDS) - set(_OPTIONAL_FIELDS))
    if unknown:
        allowed = (*_REQUIRED_FIELDS, *_OPTIONAL_FIELDS)
        raise _Problem(
            f"{where}: unknown field {_quote_list(unknown)}; "
            f"allowed fields are {_quote_list(allowed)}"
        )
    for field, meaning in _REQUIRED_FIELDS.items():
        if field not in raw:
            raise _Problem(f'{where}: missing "{field}" ({meaning})')

    model = _text(raw["model"], f'{where}: "model"')
    provider = _normalise_provider(_text(raw["provider"], f'{where}: "provider"'))
    input_price = _price(raw["input_per_mtok"], f'{where}: "input_per_mtok"')
    output_price = _price(raw["output_per_mtok"], f'{where}: "output_per_mtok"')
    cached = raw.get("cached_input_per_mtok")
    cached_price = None if cached is None else _price(cached, f'{where}: "cached_input_per_mtok"')

    as_of = raw.get("as_of", file_as_of)
    if as_of is None:
        raise _Problem(
            f'{where}: missing "as_of" (the date the price was taken, "YYYY-MM-DD"); '
            "give it per model or once at the top level of the file"
        )
    _check_date(as_of, f'{where}: "as_of"')

    aliases = raw.get("aliases", [])
    if not isinstance(aliases, list):
        raise _Problem(f'{where}: "aliases" must be a list of model names, not {_kind(aliases)}')
    note = raw.get("note")
    if note is not None and not isinstance(note, str):
        raise _Problem(f'{where}: "note" must be a string, not {_kind(note)}')

    names: list[str] = []
    for j, name in enumerate([model, *aliases]):
        label = f'{where}: "model"' if j == 0 else f'{where}: "aliases"[{j - 1}]'
        canonical, _ = _canonical_name(_text(name, label))
        if not canonical:
            raise _Problem(f"{label} has no model name after its prefix: {name!r}")
        if canonical not in names:
            names.append(canonical)

    price = ModelPrice(
        model=model.strip(),
        provider=provider,
        input_per_mtok=input_price,
        output_per_mtok=output_price,
        cached_input_per_mtok=cached_price,
        as_of=as_of,
    )
    return _Entry(price, tuple(names))


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Problem(f"{what} must be a non-empty string, not {_kind(value)}")
    return value


def _price(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Problem(
            f"{what} must be a number of US dollars per 1M tokens, like 2.5, not {_kind(value)}"
        )
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise _Problem(f"{what} must be a finite price of 0 or more, not {value!r}")
    return number


def _check_date(value: Any, what: str) -> None:
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            date.fromisoformat(value)
        except ValueError:
            pass
        else:
            return
    raise _Problem(f'{what} must be a date written "YYYY-MM-DD", like "2025-08-07", not {value!r}')


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {json.dumps(value)}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _quote_list(names: Sequence[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)
