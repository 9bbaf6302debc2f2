"""Price files: the built-in table (``lamina/data/prices.json``) and a user's file in
the same format (see ``docs/pricing.md``), read and checked into entries, every defect
a ValueError naming the file and the field; and the merge of a user's entries over the
built-in ones."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from lamina.model_names import canonical_name, normalise_provider

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
BUILTIN_ORIGIN = "built-in price table lamina/data/prices.json"


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
class PriceEntry:
    price: ModelPrice
    names: tuple[str, ...]  # canonical model name first, then aliases


def merge_entries(builtin: list[PriceEntry], overrides: list[PriceEntry]) -> list[PriceEntry]:
    """Override entries first (so they win name clashes), then the untouched built-ins."""
    by_key = {(e.names[0], e.price.provider): e for e in builtin}
    merged: list[PriceEntry] = []
    for entry in overrides:
        replaced = by_key.pop((entry.names[0], entry.price.provider), None)
        if replaced is not None:
            extra = tuple(n for n in replaced.names if n not in entry.names)
            entry = PriceEntry(entry.price, entry.names + extra)
        merged.append(entry)
    merged.extend(e for e in builtin if (e.names[0], e.price.provider) in by_key)
    return merged


class _Problem(Exception):
    """A defect in a price file; turned into a ValueError that names the file."""


def parse_price_file(text: str, origin: str) -> list[PriceEntry]:
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


def _parse_document(data: Any) -> list[PriceEntry]:
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

    entries: list[PriceEntry] = []
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


def _parse_entry(raw: Any, where: str, file_as_of: str | None) -> PriceEntry:
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
    provider = normalise_provider(_text(raw["provider"], f'{where}: "provider"'))
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
        canonical, _ = canonical_name(_text(name, label))
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
    return PriceEntry(price, tuple(names))


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
