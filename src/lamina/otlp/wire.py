"""OTLP trace exports read from the protobuf wire format straight into a batch of spans.

The fast path of :mod:`lamina.otlp.decode`, in C (``_wire.c``): the same batch, the
same values, several times quicker, because no protobuf message object is built
and no field is read through Python. decode.py stays the definition. A request the C
code does not read exactly as upb would (malformed, or unusual in a way that affects
the result) comes back as None, and the caller decodes it with upb and decode.py,
which words any error; a span whose attributes need more than a table lookup (chat
messages, metadata, text to parse) is normalised by :mod:`lamina.otlp.attributes`
from the attribute dict the C code built.
"""

from __future__ import annotations

import orjson

from lamina.otlp import attributes as conv
from lamina.otlp.decode import CostFunction
from lamina.spans.batch import SPAN_FIELDS, ColumnBatch, from_columns

try:
    from lamina.otlp import _wire
except ImportError:  # built only on request (setup.py): decode.py then reads every request
    _wire = None  # type: ignore[assignment]

#: Whether the C decoder is there (`lamina serve` says when it is not).
BUILT = _wire is not None

# The conventions' fields, in the order of the F_* numbers in _wire.c.
FIELDS = (
    "session_id",
    "user_id",
    "tags",
    "span_type",
    "input",
    "input_late",
    "output",
    "output_late",
    "model",
    "provider",
    "input_tokens",
    "output_tokens",
    "cost",
    "input_cost",
    "output_cost",
    "cost_late",
    "metadata_json",
)
assert set(FIELDS) == set(conv._FIELD_NAMES), "a field of the conventions is missing here"

if _wire is not None:
    # _wire.decode() fills its columns in the order of _wire.COLUMNS.
    if _wire.COLUMNS != SPAN_FIELDS:
        raise ImportError("lamina.otlp._wire was built for other span fields: build it again")
    _wire.configure(
        conv._ROLES,
        conv.role,
        {name: index for index, name in enumerate(FIELDS)},
        conv.scan,
        conv.normalise,
        orjson.dumps,
        {"default": str},
    )


def decode_wire(body: bytes, project_id: str, price: CostFunction) -> ColumnBatch | None:
    """The spans of a protobuf ExportTraceServiceRequest as a batch, or None when the
    request must be decoded with upb and decode.py instead."""
    if _wire is None:
        return None
    result = _wire.decode(body, project_id, price)
    if result is None:
        return None
    columns, errors = result
    return from_columns(dict(zip(SPAN_FIELDS, columns, strict=True)), errors=errors)


def count_spans(body: bytes) -> int:
    """The spans in a protobuf request, without decoding them; -1 if it cannot be read."""
    if _wire is None:
        return -1
    count: int = _wire.count_spans(body)
    return count
