"""Hostile input, generated: the OTLP decoders (protobuf and JSON) and the API's query
parameters take whatever hypothesis makes and either work or refuse with a
BadRequest (a 400): never another exception (a 500), never a hang.

The CI run makes 2,900 inputs in about 20 seconds. ``LAMINA_FUZZ_EXAMPLES``
multiplies every test's examples: ``LAMINA_FUZZ_EXAMPLES=40 pytest
tests/reliability/test_fuzz.py`` makes 116,000 (docs/reliability.md).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from lamina.errors import BadRequest
from lamina.otlp.decode import decode_request, parse_json, parse_protobuf
from lamina.pricing import PriceTable
from lamina.query.params import parse_session_query, parse_trace_query
from lamina.store.duckdb.store import DuckDBStore
from tests.store.writing import write
from tests.strategies import any_values, damaged

SCALE = float(os.environ.get("LAMINA_FUZZ_EXAMPLES", "1"))
PRICES = PriceTable.load(None)


def fuzz(examples: int) -> Any:
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=timedelta(seconds=5),  # a hang, not a slow machine
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def decode_all_the_way(request: ExportTraceServiceRequest) -> None:
    """What the server does with a parsed request (trace deltas included): nothing here
    may raise."""
    batch = decode_request(request, "prj_fuzz", PRICES.cost)
    assert batch.rejected + batch.count == sum(
        len(scope.spans) for rs in request.resource_spans for scope in rs.scope_spans
    )


# -- OTLP protobuf ------------------------------------------------------------------------------

_int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_keys = st.one_of(
    st.sampled_from(
        [
            "session.id",
            "user.id",
            "input.value",
            "output.value",
            "gen_ai.usage.input_tokens",
            "gen_ai.usage.output_tokens",
            "gen_ai.usage.cost",
            "gen_ai.request.model",
            "gen_ai.system",
            "gen_ai.prompt.0.content",
            "gen_ai.completion.0.role",
            "tag.tags",
            "metadata",
            "lmnr.association.properties.metadata.k",
            "lamina.span.type",
            "openinference.span.kind",
            "llm.token_count.prompt",
            "service.name",
        ]
    ),
    st.text(max_size=30),
)
_scalars = st.one_of(
    st.builds(lambda v: AnyValue(string_value=v), st.text(max_size=200)),
    st.builds(lambda v: AnyValue(int_value=v), _int64),
    st.builds(lambda v: AnyValue(double_value=v), st.floats(allow_nan=True)),
    st.builds(lambda v: AnyValue(bool_value=v), st.booleans()),
    st.builds(lambda v: AnyValue(bytes_value=v), st.binary(max_size=50)),
    st.just(AnyValue()),
)
_values = any_values(_keys, _scalars, max_leaves=6)
_attributes = st.lists(st.builds(lambda k, v: KeyValue(key=k, value=v), _keys, _values), max_size=6)
_ids = st.one_of(st.binary(min_size=16, max_size=16), st.binary(max_size=20))
_span_ids = st.one_of(st.binary(min_size=8, max_size=8), st.binary(max_size=10))
_times = st.one_of(st.integers(0, 2**64 - 1), st.integers(1_700_000_000 * 10**9, 2**62))


@st.composite
def spans(draw: st.DrawFn) -> Span:
    return Span(
        trace_id=draw(_ids),
        span_id=draw(_span_ids),
        parent_span_id=draw(st.one_of(st.just(b""), _span_ids)),
        name=draw(st.text(max_size=50)),
        kind=draw(st.integers(0, 9)),
        start_time_unix_nano=draw(_times),
        end_time_unix_nano=draw(_times),
        attributes=draw(_attributes),
        status=Status(code=draw(st.integers(0, 7)), message=draw(st.text(max_size=20))),
        events=[
            Span.Event(name=name, time_unix_nano=at, attributes=attributes)
            for name, at, attributes in draw(
                st.lists(st.tuples(st.text(max_size=10), _times, _attributes), max_size=2)
            )
        ],
    )


@st.composite
def export_requests(draw: st.DrawFn) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    for _ in range(draw(st.integers(0, 2))):
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.extend(draw(_attributes))
        for _ in range(draw(st.integers(0, 2))):
            scope = resource_spans.scope_spans.add()
            scope.scope.name = draw(st.text(max_size=10))
            scope.spans.extend(draw(st.lists(spans(), max_size=4)))
    return request


@fuzz(100)
@given(export_requests())
def test_any_export_request_decodes_or_rejects_spans_but_never_fails(
    request: ExportTraceServiceRequest,
) -> None:
    parsed = parse_protobuf(request.SerializeToString())
    decode_all_the_way(parsed)


@fuzz(1500)
@given(st.binary(max_size=2000))
def test_any_bytes_are_a_request_or_a_bad_request(body: bytes) -> None:
    try:
        request = parse_protobuf(body)
    except BadRequest:
        return
    decode_all_the_way(request)


@fuzz(100)
@given(export_requests(), st.data())
def test_damaged_export_requests_are_a_request_or_a_bad_request(
    request: ExportTraceServiceRequest, data: st.DataObject
) -> None:
    body = damaged(request.SerializeToString(), data, edits=4, span=8)
    try:
        parsed = parse_protobuf(body)
    except BadRequest:
        return
    decode_all_the_way(parsed)


# -- OTLP JSON ----------------------------------------------------------------------------------

_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
_json = st.recursive(
    _json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=25,
)


def _hex_or_junk(size: int) -> st.SearchStrategy[Any]:
    return st.one_of(st.binary(min_size=size, max_size=size).map(bytes.hex), _json_leaf)


def _json_value(value: Any) -> dict[str, Any]:
    return orjson.loads(
        orjson.dumps(
            {"stringValue": value}
            if isinstance(value, str)
            else {"intValue": str(value)}
            if isinstance(value, int) and not isinstance(value, bool)
            else {"boolValue": value}
            if isinstance(value, bool)
            else {"doubleValue": value}
            if isinstance(value, float)
            else {"arrayValue": {"values": []}}
        )
    )


@st.composite
def json_exports(draw: st.DrawFn) -> Any:
    """OTLP JSON documents, mostly well-formed, with any field of any JSON type."""

    def field(good: st.SearchStrategy[Any]) -> Any:
        return draw(st.one_of(good, good, good, _json))

    attributes = st.lists(
        st.fixed_dictionaries(
            {
                "key": _keys,
                "value": st.one_of(_json_leaf.map(_json_value), _json),
            }
        ),
        max_size=5,
    )
    span_list = [
        {
            "traceId": field(_hex_or_junk(16)),
            "spanId": field(_hex_or_junk(8)),
            "parentSpanId": field(st.one_of(st.just(""), _hex_or_junk(8))),
            "name": field(st.text(max_size=20)),
            "startTimeUnixNano": field(_times.map(str)),
            "endTimeUnixNano": field(st.one_of(_times, _times.map(str))),
            "attributes": field(attributes),
            "status": field(st.fixed_dictionaries({"code": st.integers(-3, 5)})),
            "events": field(
                st.lists(st.fixed_dictionaries({"name": st.text(), "attributes": attributes}))
            ),
        }
        for _ in range(draw(st.integers(0, 4)))
    ]
    return {
        "resourceSpans": field(
            st.just(
                [
                    {
                        "resource": {"attributes": draw(attributes)},
                        "scopeSpans": [{"scope": {"name": "fuzz"}, "spans": span_list}],
                    }
                ]
            )
        )
    }


@fuzz(150)
@given(st.one_of(json_exports(), _json))
def test_any_json_document_is_a_request_or_a_bad_request(document: Any) -> None:
    try:
        request = parse_json(json.dumps(document).encode())
    except BadRequest:
        return
    decode_all_the_way(request)


@fuzz(800)
@given(st.binary(max_size=500))
def test_any_bytes_as_json_are_a_bad_request_or_a_request(body: bytes) -> None:
    try:
        request = parse_json(body)
    except BadRequest:
        return
    decode_all_the_way(request)


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        low, number = number & 0x7F, number >> 7
        out.append(low | (0x80 if number else 0))
        if not number:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field, by hand (protobuf's Python classes refuse to
    build messages as deep as a hostile client can send)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _deep_request(depth: int) -> bytes:
    value = _field(1, b"bottom")  # AnyValue.string_value
    for _ in range(depth):
        value = _field(5, _field(1, value))  # AnyValue.array_value -> ArrayValue.values
    attribute = _field(1, b"deep") + _field(2, value)  # KeyValue
    span = _field(1, b"\x01" * 16) + _field(2, b"\x02" * 8) + _field(5, b"deep")
    span += _field(9, attribute)  # Span.attributes
    return _field(1, _field(2, _field(2, span)))  # request > resource spans > scope spans


def test_deep_nesting_is_refused_or_cut_not_a_crash() -> None:
    deep_json = b'{"resourceSpans": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(BadRequest):
        parse_json(deep_json)
    with pytest.raises(BadRequest):  # deeper than protobuf's own limit
        parse_protobuf(_deep_request(20_000))
    # within that limit, the decoder stores a marker past its own depth bound
    batch = decode_request(parse_protobuf(_deep_request(40)), "prj", PRICES.cost)
    (attributes,) = batch.spans["attributes"].to_pylist()
    assert "nested too deeply" in attributes
    # the same in OTLP JSON
    nested: Any = {"stringValue": "bottom"}
    for _ in range(60):
        nested = {"arrayValue": {"values": [nested]}}
    span = {"traceId": "01" * 16, "spanId": "02" * 8, "name": "deep"}
    span["attributes"] = [{"key": "deep", "value": nested}]
    document = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
    try:
        parsed = parse_json(orjson.dumps(document))
    except BadRequest:
        return
    decode_all_the_way(parsed)


# -- API query parameters -----------------------------------------------------------------------

_param_names = st.sampled_from(
    [
        "sort",
        "order",
        "limit",
        "cursor",
        "since",
        "until",
        "user_id",
        "session_id",
        "name",
        "status",
        "tag",
        "q",
        "min_traces",
        "unknown",
    ]
)
_param_values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "start_time",
            "cost",
            "name",
            "duration_ms",
            "asc",
            "desc",
            "ok",
            "error",
            "0",
            "-1",
            "500",
            "501",
            "9" * 30,
            "1e3",
            "0001-01-01T00:00:00",
            "9999-12-31T23:59:59.999999+14:00",
            "2026-01-01T00:00:00Z",
            "1970-01-01",
            "%",
            "_",
            "\\",
            "'; DROP TABLE spans; --",
            "\x00",
        ]
    ),
    st.integers(-(2**70), 2**70).map(str),
    st.builds(
        lambda parts: base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("="),
        st.tuples(
            st.sampled_from(["start_time", "cost", "name", "trace_count"]),
            st.one_of(st.integers(-(2**80), 2**80), st.floats(), st.text(max_size=5), st.none()),
            st.one_of(st.text(max_size=10), st.integers()),
        ),
    ),
)
_params = st.dictionaries(_param_names, _param_values, max_size=6)
_metadata = st.lists(st.one_of(st.text(max_size=20), st.just("k=v"), st.just('a"b=c')), max_size=3)


@pytest.fixture(scope="module")
def query_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBStore]:
    """A real store with a little data, for the generated queries to run on."""
    from tests.store.test_contract import BASE, agent_trace

    store = DuckDBStore(Path(tmp_path_factory.mktemp("fuzz-store")))
    for n in range(5):
        write(store, agent_trace(f"s-{n % 2}", BASE + n * 10**9, turn=n))
    yield store
    store.close()


@fuzz(250)
@given(params=_params, metadata=_metadata)
def test_any_query_parameters_are_a_query_or_a_bad_request(
    query_store: DuckDBStore, params: dict[str, str], metadata: list[str]
) -> None:
    try:
        sessions = parse_session_query(params)
    except BadRequest:
        pass
    else:
        query_store.list_sessions("prj_a", sessions)
    try:
        traces = parse_trace_query(params, metadata)
    except BadRequest:
        return
    query_store.list_traces("prj_a", traces)
