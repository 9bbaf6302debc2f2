"""The decoder's shortcuts give the answers of the plain rules they stand for.

Decoding caches what each attribute name means, moves the payloads out of the
attribute map it was given instead of copying it, and folds the whitespace of
only as much of a long text as a preview shows. These tests pin what those
shortcuts must not change.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lamina.otlp import attributes
from lamina.otlp.decode import decode_request
from lamina.pricing import PriceTable
from lamina.spans.preview import _cut, _single_spaced
from tests.otlp.decoded import spans_of
from tests.support import otlp

PRICES = PriceTable.load(None)


def decode(values: dict[str, Any]) -> SimpleNamespace:
    request = otlp.export([otlp.span(otlp.new_trace_id(), "s", attributes=values)], resource={})
    (record,) = spans_of(decode_request(request, "p", PRICES.cost))
    return record


def test_unused_payloads_follow_the_other_attributes_in_their_order() -> None:
    record = decode(
        {
            "gen_ai.prompt.0.content": "p",
            "traceloop.entity.input": "late",
            "input.value": "in",
            "foo": 1,
            "gen_ai.completion.0.content": "c",
            "gen_ai.prompt.1.role": "user",
            "bar": "x",
        }
    )
    assert (record.input, record.output) == ("in", '[{"content":"c"}]')
    # Stored as JSON text in this order; the parsed dict would hide a change of order.
    assert list(orjson.loads(record.attributes)) == [
        "foo",
        "bar",
        "gen_ai.prompt.0.content",
        "traceloop.entity.input",
        "gen_ai.prompt.1.role",
    ]


def test_the_cache_of_attribute_roles_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    limit = len(attributes._FIELD_ROLES) + 3
    monkeypatch.setattr(attributes, "_ROLES_MAX", limit)
    names = {f"lmnr.association.properties.metadata.k{n}": str(n) for n in range(10)}
    long_name = "langfuse.trace.metadata." + "k" * attributes._ROLE_NAME_MAX
    for _ in range(2):
        record = decode({**names, long_name: "long", "session.id": "s"})
        assert record.metadata == {
            **{f"k{n}": str(n) for n in range(10)},
            "k" * attributes._ROLE_NAME_MAX: "long",
        }
        assert record.session_id == "s"
        assert len(attributes._ROLES) <= limit
        assert long_name not in attributes._ROLES


_texts = st.lists(
    st.one_of(st.sampled_from([" ", "  ", "\n", "\t", "\u2003", "é", "🙂", "x" * 40]), st.text()),
    max_size=200,
).map("".join)


@given(_texts, st.integers(min_value=-2, max_value=300))
def test_previews_of_long_texts_fold_only_a_prefix_with_the_same_result(
    text: str, limit: int
) -> None:
    assert _cut(_single_spaced(text, limit), limit) == _cut(" ".join(text.split()), limit)
