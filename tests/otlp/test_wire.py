"""The wire decoder (C) gives what upb and decode.py give, or leaves the request to them.

decode.py is the definition of what a span becomes. For every request generated
here, the batch of the wire decoder must equal decode.py's batch, value for value
(the attributes' JSON text byte for byte, NaN and -0.0 told apart), with the same
rejected spans and reasons. It may decline a request (None), but never one of the
ordinary requests generated here, and never accept a body upb refuses.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from lamina.errors import BadRequest
from lamina.otlp import attributes as conv
from lamina.otlp.decode import decode_request, parse_protobuf
from lamina.otlp.wire import count_spans, decode_wire
from lamina.pricing import PriceTable
from tests.strategies import any_values, damaged

PRICES = PriceTable.load(None)
SETTINGS = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Every name of the conventions table, chat messages, metadata, and names of no meaning.
_CONVENTION_KEYS = sorted({key for names in conv._FIELD_NAMES.values() for key in names})
_KEYS = st.one_of(
    st.sampled_from(_CONVENTION_KEYS),
    st.sampled_from(
        [
            "gen_ai.prompt.0.content",
            "gen_ai.prompt.0.role",
            "gen_ai.prompt.1.content",
            "gen_ai.prompt.10.content",
            "gen_ai.prompt.01.content",
            "gen_ai.completion.0.content",
            "gen_ai.completion.0.role",
            "gen_ai.prompt.x.content",
            "lmnr.association.properties.metadata.k",
            "langfuse.trace.metadata.k",
            "traceloop.association.properties.k",
            "traceloop.association.properties.session_id",
            "service.name",
            "metadata",
        ]
    ),
    st.text(max_size=12),
)
_TEXTS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            "12",
            " 7 ",
            "1.5",
            "nan",
            "1e400",
            '["a", "b", "a"]',
            " [1, 2]",
            '{"k": "v", "n": 1}',
            "{not json",
            "gpt-4o",
            "gpt-5.1",
            "openai",
            "llm",
            "tool",
            "straße",
        ]
    ),
)
_SCALARS = st.one_of(
    st.builds(lambda v: AnyValue(string_value=v), _TEXTS),
    st.builds(
        lambda v: AnyValue(int_value=v),
        st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(-3, 2000)),
    ),
    st.builds(
        lambda v: AnyValue(double_value=v),
        st.one_of(st.floats(), st.sampled_from([0.0, -0.0, 0.5, -0.5, 1e12, 1e13, 2.5e-6])),
    ),
    st.builds(lambda v: AnyValue(bool_value=v), st.booleans()),
    st.builds(lambda v: AnyValue(bytes_value=v), st.binary(max_size=7)),
    st.just(AnyValue()),
)
_VALUES = any_values(_KEYS, _SCALARS, max_leaves=8)
_ATTRIBUTES = st.lists(
    st.one_of(
        st.builds(lambda k, v: KeyValue(key=k, value=v), _KEYS, _VALUES),
        st.builds(KeyValue, key=_KEYS),  # no value at all
    ),
    max_size=10,
)
_TRACE_IDS = st.one_of(
    st.binary(min_size=16, max_size=16), st.sampled_from([b"", bytes(16), b"\x01" * 15])
)
_SPAN_IDS = st.one_of(
    st.binary(min_size=8, max_size=8), st.sampled_from([b"", bytes(8), b"\x01" * 9])
)
_TIMES = st.one_of(
    st.integers(0, 2**64 - 1), st.integers(1_700_000_000 * 10**9, 1_800_000_000 * 10**9)
)


@st.composite
def spans(draw: st.DrawFn) -> Span:
    span = Span(
        trace_id=draw(_TRACE_IDS),
        span_id=draw(_SPAN_IDS),
        parent_span_id=draw(st.one_of(st.just(b""), _SPAN_IDS)),
        trace_state=draw(st.text(max_size=5)),
        name=draw(st.text(max_size=20)),
        kind=draw(st.integers(0, 5)),
        start_time_unix_nano=draw(_TIMES),
        end_time_unix_nano=draw(_TIMES),
        attributes=draw(_ATTRIBUTES),
        dropped_attributes_count=draw(st.integers(0, 3)),
        flags=draw(st.integers(0, 2**32 - 1)),
    )
    if draw(st.booleans()):
        span.status.CopyFrom(
            Status(code=draw(st.integers(-1, 4)), message=draw(st.text(max_size=10)))
        )
    for name, at, attributes in draw(
        st.lists(st.tuples(st.text(max_size=8), _TIMES, _ATTRIBUTES), max_size=2)
    ):
        span.events.add(name=name, time_unix_nano=at, attributes=attributes)
    for trace_id, attributes in draw(st.lists(st.tuples(_TRACE_IDS, _ATTRIBUTES), max_size=2)):
        span.links.add(trace_id=trace_id, span_id=b"\x02" * 8, attributes=attributes)
    return span


@st.composite
def requests(draw: st.DrawFn) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    for _ in range(draw(st.integers(0, 3))):
        resource_spans = request.resource_spans.add(schema_url=draw(st.text(max_size=5)))
        if draw(st.booleans()):
            resource_spans.resource.attributes.extend(draw(_ATTRIBUTES))
        for _ in range(draw(st.integers(0, 2))):
            scope = resource_spans.scope_spans.add()
            scope.scope.name = draw(st.text(max_size=5))
            scope.scope.attributes.extend(draw(_ATTRIBUTES))
            scope.spans.extend(draw(st.lists(spans(), max_size=4)))
    return request


def same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to itself and -0.0 told from 0.0 (types compared too)."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and str(a) == str(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    return type(a) is type(b) and a == b


def check(body: bytes) -> str:
    """Compare the two decoders on one body: "refused", "declined" or "same"."""
    try:
        request = parse_protobuf(body)
    except BadRequest:
        assert decode_wire(body, "prj", PRICES.cost) is None, "accepted what upb refuses"
        return "refused"
    expected = decode_request(request, "prj", PRICES.cost)
    spans = sum(len(scope.spans) for rs in request.resource_spans for scope in rs.scope_spans)
    assert count_spans(body) in (spans, -1)
    got = decode_wire(body, "prj", PRICES.cost)
    if got is None:
        return "declined"
    assert count_spans(body) == spans
    assert (got.rejected, got.rejection) == (expected.rejected, expected.rejection)
    assert got.spans.schema == expected.spans.schema and got.count == expected.count
    for name in expected.spans.column_names:
        values, given = expected.spans[name].to_pylist(), got.spans[name].to_pylist()
        for at, (want, have) in enumerate(zip(values, given, strict=True)):
            assert same(want, have), f"span {at}, {name}: {want!r} (decode.py) != {have!r} (wire)"
    assert got.traces.equals(expected.traces)
    return "same"


@SETTINGS
@given(requests())
def test_the_wire_decoder_gives_what_decode_py_gives(request: ExportTraceServiceRequest) -> None:
    assert check(request.SerializeToString()) == "same"


@SETTINGS
@given(requests(), st.data())
def test_a_damaged_request_is_decoded_the_same_or_left_to_upb(
    request: ExportTraceServiceRequest, data: st.DataObject
) -> None:
    check(damaged(request.SerializeToString(), data, edits=3, span=6))


def varint(number: int) -> bytes:
    out = bytearray()
    while number >= 0x80:
        out.append(number & 0x7F | 0x80)
        number >>= 7
    return bytes([*out, number])


def field(number: int, wire_type: int, payload: bytes) -> bytes:
    length = varint(len(payload)) if wire_type == 2 else b""
    return varint(number << 3 | wire_type) + length + payload


def one_span(span: bytes) -> bytes:
    return field(1, 2, field(2, 2, field(2, 2, span)))


IDS = field(1, 2, b"\x01" * 16) + field(2, 2, b"\x02" * 8)


def test_what_the_wire_decoder_leaves_to_upb_is_still_decoded_or_refused() -> None:
    # Each is valid protobuf the fast path declines: upb and decode.py decode it.
    declined = {
        "a status sent twice (upb merges the two)": IDS
        + field(15, 2, field(3, 0, b"\x02"))
        + field(15, 2, field(2, 2, b"m")),
        "an AnyValue with two values": IDS
        + field(9, 2, field(1, 2, b"k") + field(2, 2, field(1, 2, b"a") + field(3, 0, b"\x05"))),
        "a group among unknown fields": IDS + field(99, 3, b"") + field(99, 4, b""),
        "a known field of another wire type": IDS + field(5, 0, b"\x01"),
    }
    for what, span in declined.items():
        assert check(one_span(span)) in ("declined", "refused"), what
    assert check(one_span(IDS + field(5, 2, b"\xff\xfe"))) == "refused"  # a name not UTF-8
    assert check(one_span(IDS + field(3, 2, b"\xc3"))) == "refused"  # trace_state, not kept
    # A string sent twice: the last one is kept, but upb checks both.
    assert check(one_span(IDS + field(5, 2, b"\xc3") + field(5, 2, b"ok"))) == "refused"
    status = field(2, 2, b"\xc3") + field(2, 2, b"ok")
    assert check(one_span(IDS + field(15, 2, status))) == "refused"
    event = field(2, 2, b"\xc3") + field(2, 2, b"ok")
    assert check(one_span(IDS + field(11, 2, event))) == "refused"
    assert check(one_span(IDS + field(99, 0, b"\x01") + field(5, 2, b"ok"))) == "same"


def test_values_nested_deeper_than_decode_py_reads_are_left_to_it() -> None:
    value = AnyValue(string_value="leaf")
    for _ in range(40):
        value = AnyValue(array_value=ArrayValue(values=[value]))
    span = Span(
        trace_id=b"\x01" * 16, span_id=b"\x02" * 8, attributes=[KeyValue(key="deep", value=value)]
    )
    request = ExportTraceServiceRequest()
    request.resource_spans.add().scope_spans.add().spans.append(span)
    assert check(request.SerializeToString()) == "declined"
