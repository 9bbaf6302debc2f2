"""Real OTLP export requests, built with the OpenTelemetry protobuf classes, and sent the
way any OTLP/HTTP client sends them (protobuf or the OTLP JSON encoding, gzip or not).

Every helper makes fresh random ids, so tests can share one server.
"""

from __future__ import annotations

import base64
import gzip as gzip_module
import os
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import httpx
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
MS = 1_000_000
# `lamina serve` flags for servers started only to try a limit: decode in the server
# process. Starting decode workers is the dearest part of a start on a 2-core machine,
# and this keeps that configuration tested too; the shared `server` uses the default.
IN_PROCESS = ("--decode-workers", "0")


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def new_trace_id() -> bytes:
    return os.urandom(16)


def new_span_id() -> bytes:
    return os.urandom(8)


def any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, str):
        return AnyValue(string_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, Mapping):
        return AnyValue(kvlist_value=KeyValueList(values=key_values(value)))
    if isinstance(value, Sequence):
        return AnyValue(array_value=ArrayValue(values=[any_value(item) for item in value]))
    raise TypeError(f"no OTLP value for {value!r}")


def key_values(values: Mapping[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=key, value=any_value(value)) for key, value in values.items()]


def span(
    trace_id: bytes,
    name: str,
    *,
    span_id: bytes | None = None,
    parent: bytes = b"",
    start_ns: int | None = None,
    duration_ms: float = 10,
    attributes: Mapping[str, Any] | None = None,
    error: str | None = None,
    events: Iterable[tuple[str, int, Mapping[str, Any]]] = (),
) -> Span:
    start = start_ns if start_ns is not None else time.time_ns()
    return Span(
        trace_id=trace_id,
        span_id=span_id if span_id is not None else new_span_id(),
        parent_span_id=parent,
        name=name,
        kind=Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=start,
        end_time_unix_nano=start + int(duration_ms * MS),
        attributes=key_values(attributes or {}),
        status=Status(
            code=Status.STATUS_CODE_ERROR if error is not None else Status.STATUS_CODE_OK,
            message=error or "",
        ),
        events=[
            Span.Event(name=event, time_unix_nano=at, attributes=key_values(attrs))
            for event, at, attrs in events
        ],
    )


def export(
    spans: Iterable[Span], resource: Mapping[str, Any] | None = None
) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(
        key_values(resource if resource is not None else {"service.name": "lamina-tests"})
    )
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "tests"
    scope_spans.spans.extend(spans)
    return request


def to_otlp_json(request: ExportTraceServiceRequest) -> dict[str, Any]:
    """The OTLP JSON encoding: camelCase, enums as numbers, int64 as strings, hex ids."""
    document = json_format.MessageToDict(request, use_integers_for_enums=True)
    for resource_spans in document.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for item in scope_spans.get("spans", []):
                for name in ("traceId", "spanId", "parentSpanId"):
                    if name in item:
                        item[name] = base64.b64decode(item[name]).hex()
    return document


_client: httpx.Client | None = None


def client() -> httpx.Client:
    """One shared keep-alive client: a new httpx client per request costs ~30 ms."""
    global _client
    if _client is None:
        _client = httpx.Client(timeout=30)
    return _client


def close_client() -> None:
    global _client
    if _client is not None:
        _client.close()
        _client = None


def get(server: Any, path: str, key: str | None = None, **params: Any) -> httpx.Response:
    """GET from the server with its key (or ``key``; ``""`` sends none)."""
    headers = {"Authorization": f"Bearer {key or server.api_key}"} if key != "" else {}
    return client().get(server.url + path, params=params, headers=headers)


def api(server: Any, path: str, key: str | None = None, **params: Any) -> Any:
    """GET a JSON API route that must answer 200; its parsed body."""
    response = get(server, path, key=key, **params)
    assert response.status_code == 200, response.text
    return response.json()


def admin(server: Any, operation: str, **arguments: Any) -> Any:
    """Run an operation on the server through its JSON API with the admin token, exactly
    as the `lamina` CLI does while the server holds the data dir (the token is the data
    dir's admin.token); much faster than starting the CLI. The CLI itself is tested in
    test_cli.py."""
    from lamina.cli.client import ApiClient

    token = (server.data_dir / "admin.token").read_text().strip()
    client = ApiClient(server.url, token)
    try:
        return getattr(client, operation)(**arguments)
    finally:
        client.close()


def new_project(server: Any, prefix: str) -> tuple[str, str]:
    """A new project on the server and a key for it: (name, key)."""
    name = uid(prefix)
    admin(server, "create_project", name=name)
    return name, admin(server, "create_key", project=name)["key"]


def post(
    url: str,
    key: str | None,
    body: bytes | ExportTraceServiceRequest | dict[str, Any],
    *,
    content_type: str | None = PROTOBUF,
    gzip: bool = False,
    path: str = "/v1/traces",
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """POST an export to the server as an OTLP/HTTP client does."""
    if isinstance(body, ExportTraceServiceRequest):
        if content_type is not None and content_type.startswith(JSON):
            import orjson

            data = orjson.dumps(to_otlp_json(body))
        else:
            data = body.SerializeToString()
    elif isinstance(body, dict):
        import orjson

        data = orjson.dumps(body)
    else:
        data = body
    sent = dict(headers or {})
    if content_type is not None:
        sent["Content-Type"] = content_type
    if key is not None:
        sent["Authorization"] = f"Bearer {key}"
    if gzip:
        data = gzip_module.compress(data)
        sent["Content-Encoding"] = "gzip"
    return client().post(url + path, content=data, headers=sent)


def parse_response(response: httpx.Response) -> ExportTraceServiceResponse:
    """A 200 answer as the ExportTraceServiceResponse it must be, in either encoding."""
    message = ExportTraceServiceResponse()
    if response.headers["content-type"].startswith(JSON):
        json_format.Parse(response.text, message)
    else:
        message.ParseFromString(response.content)
    return message


def error_status(response: httpx.Response) -> status_pb2.Status:
    """An error answer's google.rpc.Status (the OTLP/HTTP error body), in either encoding."""
    status = status_pb2.Status()
    if response.headers["content-type"].startswith(JSON):
        json_format.Parse(response.text, status, ignore_unknown_fields=True)
    else:
        status.ParseFromString(response.content)
    return status


def conversation_turn(
    session_id: str,
    turn: int,
    *,
    start_ns: int,
    user_id: str = "u-1",
    model: str = "gpt-4o-mini",
    input_tokens: int = 1000,
    output_tokens: int = 200,
    extra_root: Mapping[str, Any] | None = None,
    error: str | None = None,
) -> list[Span]:
    """One chat turn: a root span with the session, user, input and output, and an LLM child."""
    trace = new_trace_id()
    root = span(
        trace,
        "handle_turn",
        start_ns=start_ns,
        duration_ms=500,
        attributes={
            "session.id": session_id,
            "user.id": user_id,
            "input.value": f"question {turn}",
            "output.value": f"answer {turn}",
            **(extra_root or {}),
        },
        error=error,
    )
    llm = span(
        trace,
        "openai.chat",
        parent=root.span_id,
        start_ns=start_ns + 100 * MS,
        duration_ms=300,
        attributes={
            "gen_ai.system": "openai",
            "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": input_tokens,
            "gen_ai.usage.output_tokens": output_tokens,
        },
    )
    return [root, llm]
