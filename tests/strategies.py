"""Hypothesis strategies shared by the tests that generate OTLP requests."""

from __future__ import annotations

from hypothesis import strategies as st
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList


def any_values(
    keys: st.SearchStrategy[str], scalars: st.SearchStrategy[AnyValue], max_leaves: int
) -> st.SearchStrategy[AnyValue]:
    """AnyValues: the scalars, and arrays and key-value lists of them, nested."""
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.builds(
                lambda vs: AnyValue(array_value=ArrayValue(values=vs)), st.lists(inner, max_size=3)
            ),
            st.builds(
                lambda kvs: AnyValue(
                    kvlist_value=KeyValueList(values=[KeyValue(key=k, value=v) for k, v in kvs])
                ),
                st.lists(st.tuples(keys, inner), max_size=3),
            ),
        ),
        max_leaves=max_leaves,
    )


def damaged(body: bytes, data: st.DataObject, edits: int, span: int) -> bytes:
    """The body with 1 to ``edits`` random edits: a byte flipped, up to ``span`` bytes cut
    out, or up to ``span`` random bytes put in."""
    damaged = bytearray(body)
    for _ in range(data.draw(st.integers(1, edits))):
        if not damaged:
            break
        at = data.draw(st.integers(0, len(damaged) - 1))
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            damaged[at] ^= data.draw(st.integers(1, 255))
        elif action == "cut":
            del damaged[at : at + data.draw(st.integers(1, span))]
        else:
            damaged[at:at] = data.draw(st.binary(min_size=1, max_size=span))
    return bytes(damaged)
