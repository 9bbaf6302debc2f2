"""Decode an OTLP trace export and normalise each span into a SpanRecord.

This is the one decode + normalise step: the HTTP receiver (protobuf and JSON
bodies) and the gRPC receiver both end here. The functions are pure: bytes or
a parsed message in, records and a count of rejected spans out.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from lamina.errors import BadRequest
from lamina.otlp import attributes as conv
from lamina.spans import SpanRecord

CostFunction = Callable[[str | None, str | None, int | None, int | None], float | None]

_STATUS = {0: "unset", 1: "ok", 2: "error"}
_ZERO_TRACE = bytes(16)
_ZERO_SPAN = bytes(8)
_MAX_TIME = 2**63
# Nesting past this depth in an attribute value is stored as a marker, so a
# hostile payload cannot make the decoder recurse without limit.
_MAX_VALUE_DEPTH = 32


@dataclass(slots=True)
class DecodedBatch:
    """The result of decoding one export request."""

    records: list[SpanRecord] = field(default_factory=list)
    rejected: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def error_message(self) -> str:
        if not self.rejected:
            return ""
        shown = "; ".join(dict.fromkeys(self.errors[:20]))
        return f"{self.rejected} span(s) rejected: {shown}"


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


def any_value(value: Any, depth: int = 0) -> Any:
    """An OTLP AnyValue as the plain Python value it carries."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "bool_value":
        return value.bool_value
    if depth >= _MAX_VALUE_DEPTH:
        return "[nested too deeply]"
    if kind == "array_value":
        return [any_value(item, depth + 1) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value, depth + 1) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return None


def key_values(items: Any) -> dict[str, Any]:
    values = {}
    for kv in items:
        value = kv.value
        # Most attribute values are strings: read those without a call.
        values[kv.key] = (
            value.string_value if value.WhichOneof("value") == "string_value" else any_value(value)
        )
    return values


def decode_request(
    request: ExportTraceServiceRequest, project_id: str, price: CostFunction
) -> DecodedBatch:
    """Every span of the request as a SpanRecord; invalid spans counted, not stored."""
    batch = DecodedBatch()
    for resource_spans in request.resource_spans:
        resource = key_values(resource_spans.resource.attributes)
        resource_scan = conv.scan(resource)
        resource_json = orjson.dumps(resource, default=str).decode()
        service = resource.get("service.name")
        service_name = str(service) if service is not None else None
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                problem = _invalid(span)
                if problem:
                    batch.rejected += 1
                    batch.errors.append(problem)
                    continue
                fields = conv.normalise(conv.scan(key_values(span.attributes)), resource_scan)
                batch.records.append(
                    _record(span, fields, resource_json, service_name, project_id, price)
                )
    return batch


def _invalid(span: Any) -> str | None:
    if len(span.trace_id) != 16 or span.trace_id == _ZERO_TRACE:
        return "trace_id must be 16 bytes (32 hex digits) and not all zero"
    if len(span.span_id) != 8 or span.span_id == _ZERO_SPAN:
        return "span_id must be 8 bytes (16 hex digits) and not all zero"
    if span.parent_span_id and len(span.parent_span_id) != 8:
        return "parent_span_id must be empty or 8 bytes (16 hex digits)"
    if span.start_time_unix_nano >= _MAX_TIME or span.end_time_unix_nano >= _MAX_TIME:
        return "start and end times must be nanoseconds since 1970 before the year 2262"
    return None


def _record(
    span: Any,
    fields: conv.Normalised,
    resource_json: str,
    service_name: str | None,
    project_id: str,
    price: CostFunction,
) -> SpanRecord:
    cost = fields.cost
    if cost is None and fields.model is not None and (fields.input_tokens or fields.output_tokens):
        cost = price(fields.model, fields.provider, fields.input_tokens, fields.output_tokens)
    start_ns = span.start_time_unix_nano
    parent = span.parent_span_id
    return SpanRecord(
        project_id=project_id,
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_span_id=parent.hex() if parent and parent != _ZERO_SPAN else None,
        name=span.name,
        span_type=fields.span_type,
        start_ns=start_ns,
        end_ns=max(span.end_time_unix_nano, start_ns),
        status=_STATUS.get(span.status.code, "unset"),
        status_message=span.status.message,
        session_id=fields.session_id,
        user_id=fields.user_id,
        input=fields.input,
        output=fields.output,
        model=fields.model,
        provider=fields.provider,
        input_tokens=fields.input_tokens,
        output_tokens=fields.output_tokens,
        cost=cost,
        tags=fields.tags,
        metadata=fields.metadata,
        attributes=orjson.dumps(fields.kept, default=str).decode(),
        events=_events(span.events),
        resource=resource_json,
        service_name=service_name,
    )


def _events(events: Any) -> str:
    if not events:
        return "[]"
    return orjson.dumps(
        [
            {"name": e.name, "time_ns": e.time_unix_nano, "attributes": key_values(e.attributes)}
            for e in events
        ],
        default=str,
    ).decode()
