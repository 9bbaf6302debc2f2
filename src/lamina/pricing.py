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

import re
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path

from lamina.model_names import canonical_name, normalise_provider, without_snapshots
from lamina.price_file import (
    BUILTIN_ORIGIN,
    ModelPrice,
    PriceEntry,
    merge_entries,
    parse_price_file,
)

__all__ = ["ModelPrice", "PriceTable"]

_TOKENS_PER_UNIT = 1_000_000
_CACHE_LIMIT = 10_000  # distinct (model, provider) pairs remembered before the cache is reset

# A prefix match is refused when what follows the prefix starts with a short
# version number: "claude-opus-4-6" is a different model from "claude-opus-4",
# not a snapshot of it.
_VERSION_AFTER_PREFIX = re.compile(r"^[-_]\d{1,2}(?:$|[-_.:@])")
_PREFIX_CUTS = frozenset("-_:@")


class PriceTable:
    """Model prices, with lookups that tolerate how real clients name models."""

    __slots__ = ("_cache", "_entries", "_index")

    def __init__(self, entries: Sequence[PriceEntry]) -> None:
        self._entries: tuple[PriceEntry, ...] = tuple(entries)
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
        builtin = parse_price_file(text, BUILTIN_ORIGIN)
        if override_path is None:
            return cls(builtin)
        origin = f"price file {override_path}"
        try:
            override_text = Path(override_path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"{origin}: cannot read it: {exc}") from exc
        overrides = parse_price_file(override_text, origin)
        return cls(merge_entries(builtin, overrides))

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
        name, hint = canonical_name(model)
        if not name:
            return None
        preferred = [p for p in (provider and normalise_provider(provider), hint) if p]
        candidates = self._index.get(name)
        if candidates is None:
            for shorter in without_snapshots(name):
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
