"""Decode an OTLP trace export and normalise its spans into a batch (ColumnBatch).

The definition of what a span becomes: the C wire decoder (:mod:`lamina.otlp.wire`)
gives the same batch, faster, and leaves to this module every request it does not
read exactly as upb would. The functions are pure: bytes or a parsed message in, a
batch (with its rejected spans counted and explained) out.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Sequence
from operator import attrgetter
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from lamina.errors import BadRequest
from lamina.otlp import attributes as conv
from lamina.spans.batch import SPAN_FIELDS, ColumnBatch, from_columns

CostFunction = Callable[[str | None, str | None, int | None, int | None], float | None]

_STATUS = {0: "unset", 1: "ok", 2: "error"}
_ZERO_TRACE = bytes(16)
_ZERO_SPAN = bytes(8)
_MAX_TIME = 2**63
# Nesting past this depth in an attribute value is stored as a marker, so a
# hostile payload cannot make the decoder recurse without limit.
_MAX_VALUE_DEPTH = 32


def parse_protobuf(body: bytes) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as exc:
        raise BadRequest(
            "The request body is not a valid OTLP ExportTraceServiceRequest in protobuf "
            f"encoding ({exc})."
        ) from exc
    return request


def parse_json(body: bytes) -> ExportTraceServiceRequest:
    """Parse the OTLP JSON encoding: hex ids, 64-bit integers as strings."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}.") from exc
    if not isinstance(document, dict):
        raise BadRequest('The request body must be a JSON object with a "resourceSpans" list.')
    try:
        _hex_ids_to_base64(document)
        request = ExportTraceServiceRequest()
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
        raise BadRequest(f"The request body is not a valid OTLP JSON trace export: {exc}") from exc
    return request


def _hex_ids_to_base64(document: dict[str, Any]) -> None:
    """OTLP JSON writes ids as hex; protobuf's JSON mapping expects base64."""
    for resource_spans in _list(document, "resourceSpans", "resource_spans"):
        for scope_spans in _list(resource_spans, "scopeSpans", "scope_spans"):
            for span in _list(scope_spans, "spans"):
                _convert_ids(span)
                for link in _list(span, "links"):
                    _convert_ids(link)


def _list(node: Any, *names: str) -> list[Any]:
    if not isinstance(node, dict):
        raise ValueError("expected a JSON object")
    for name in names:
        value = node.get(name)
        if value is not None:
            if not isinstance(value, list):
                raise ValueError(f'"{name}" must be a list')
            return value
    return []


def _convert_ids(node: Any) -> None:
    if not isinstance(node, dict):
        raise ValueError("each span must be a JSON object")
    for name in ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"):
        value = node.get(name)
        if isinstance(value, str) and value:
            try:
                raw = bytes.fromhex(value)
            except ValueError:
                # Leave it; the span is rejected below with a precise reason.
                raw = b"\xff"
            node[name] = base64.b64encode(raw).decode()


# The kinds of AnyValue that hold a plain value, and how to read each.
_SCALARS = {
    name: attrgetter(name) for name in ("string_value", "int_value", "double_value", "bool_value")
}


def any_value(value: Any, depth: int = 0) -> Any:
    """An OTLP AnyValue as the plain Python value it carries."""
    kind = value.WhichOneof("value")
    read = _SCALARS.get(kind)
    if read is not None:
        return read(value)
    if depth >= _MAX_VALUE_DEPTH:
        return "[nested too deeply]"
    if kind == "array_value":
        # Most items are non-empty strings: read those without a call.
        return [
            item.string_value or any_value(item, depth + 1) for item in value.array_value.values
        ]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value, depth + 1) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return None


def key_values(items: Any) -> dict[str, Any]:
    values = {}
    for kv in items:
        value = kv.value
        # Most attribute values are non-empty strings: read those without a call.
        values[kv.key] = value.string_value or any_value(value)
    return values


def decode_request(
    request: ExportTraceServiceRequest, project_id: str, price: CostFunction
) -> ColumnBatch:
    """Every span of the request in one batch; invalid spans counted, not stored."""
    rows: list[tuple[Any, ...]] = []
    errors: list[str] = []
    for resource_spans in request.resource_spans:
        resource = _Resource(key_values(resource_spans.resource.attributes))
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                row = _row(span, resource, project_id, price)
                if isinstance(row, str):
                    errors.append(row)
                else:
                    rows.append(row)
    columns: Iterable[Sequence[Any]] = zip(*rows, strict=True) if rows else [()] * len(SPAN_FIELDS)
    return from_columns(dict(zip(SPAN_FIELDS, columns, strict=True)), errors=errors)


class _Resource:
    """What every span of one resource shares."""

    __slots__ = ("json", "scan", "service_name")

    def __init__(self, attributes: dict[str, Any]) -> None:
        self.json = orjson.dumps(attributes, default=str).decode()
        service = attributes.get("service.name")
        self.service_name = str(service) if service is not None else None
        self.scan = conv.scan(attributes)


def _row(
    span: Any, resource: _Resource, project_id: str, price: CostFunction
) -> tuple[Any, ...] | str:
    """The span's fields in SPAN_FIELDS order, or why it cannot be stored.

    Each field of the protobuf span is read once (a read costs as much as a
    dict lookup and a call); the rows become the batch's columns."""
    trace_id, span_id, parent = span.trace_id, span.span_id, span.parent_span_id
    start_ns, end_ns = span.start_time_unix_nano, span.end_time_unix_nano
    problem = _invalid(trace_id, span_id, parent, start_ns, end_ns)
    if problem is not None:
        return problem
    fields = conv.normalise(conv.scan(key_values(span.attributes)), resource.scan)
    cost = fields.cost
    if cost is None and fields.model is not None and (fields.input_tokens or fields.output_tokens):
        cost = price(fields.model, fields.provider, fields.input_tokens, fields.output_tokens)
    status = span.status
    events = span.events
    return (
        project_id,
        trace_id.hex(),
        span_id.hex(),
        parent.hex() if parent and parent != _ZERO_SPAN else None,  # parent_span_id
        span.name,
        fields.span_type,
        start_ns,
        end_ns if end_ns > start_ns else start_ns,
        _STATUS.get(status.code, "unset"),
        status.message,
        fields.session_id,
        fields.user_id,
        fields.input,
        fields.output,
        fields.model,
        fields.provider,
        fields.input_tokens,
        fields.output_tokens,
        cost,
        fields.tags,
        fields.metadata,
        orjson.dumps(fields.kept, default=str).decode(),  # attributes
        _events(events) if events else "[]",
        resource.json,
        resource.service_name,
    )


def _invalid(trace_id: bytes, span_id: bytes, parent: bytes, start: int, end: int) -> str | None:
    if len(trace_id) != 16 or trace_id == _ZERO_TRACE:
        return "trace_id must be 16 bytes (32 hex digits) and not all zero"
    if len(span_id) != 8 or span_id == _ZERO_SPAN:
        return "span_id must be 8 bytes (16 hex digits) and not all zero"
    if parent and len(parent) != 8:
        return "parent_span_id must be empty or 8 bytes (16 hex digits)"
    if start >= _MAX_TIME or end >= _MAX_TIME:
        return "start and end times must be nanoseconds since 1970 before the year 2262"
    return None


def _events(events: Any) -> str:
    return orjson.dumps(
        [
            {"name": e.name, "time_ns": e.time_unix_nano, "attributes": key_values(e.attributes)}
            for e in events
        ],
        default=str,
    ).decode()
