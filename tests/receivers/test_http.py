"""OTLP/HTTP POST /v1/traces and /v1/logs answer as the OTLP specification says.

Every request here is a real OTLP body (built with the OpenTelemetry protobuf classes, or
the OTLP JSON encoding written out by hand) sent over HTTP to a real `lamina serve`.
Each bad input gets its documented status and stores nothing.
"""

from __future__ import annotations

import concurrent.futures
import gzip
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from tests.conftest import LaminaServer, start_server
from tests.support import otlp
from tests.support.otlp import IN_PROCESS, JSON, MS, PROTOBUF


def _absent(server: LaminaServer, *trace_ids: bytes) -> None:
    for trace_id in trace_ids:
        response = otlp.get(server, f"/api/v1/traces/{trace_id.hex()}")
        assert response.status_code == 404, (trace_id.hex(), response.text)


def _turn(session_id: str, turn: int = 0) -> tuple[bytes, otlp.ExportTraceServiceRequest]:
    spans = otlp.conversation_turn(session_id, turn, start_ns=time.time_ns())
    return spans[0].trace_id, otlp.export(spans)


# -- accepted requests ------------------------------------------------------------------


def test_otlp_json_hex_ids_and_string_int64s_are_stored(server: LaminaServer) -> None:
    """The OTLP JSON encoding exactly as the specification writes it."""
    session_id = otlp.uid("json")
    trace_id = otlp.new_trace_id().hex()
    root_id, child_id = otlp.new_span_id().hex(), otlp.new_span_id().hex()
    start = time.time_ns()
    body = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "json-app"}}]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "manual"},
                        "spans": [
                            {
                                "traceId": trace_id,
                                "spanId": child_id,
                                "parentSpanId": root_id,
                                "name": "llm",
                                "kind": 3,
                                "startTimeUnixNano": str(start + 10 * MS),
                                "endTimeUnixNano": str(start + 60 * MS),
                                "attributes": [
                                    {"key": "gen_ai.system", "value": {"stringValue": "openai"}},
                                    {
                                        "key": "gen_ai.request.model",
                                        "value": {"stringValue": "gpt-4o-mini"},
                                    },
                                    {
                                        "key": "gen_ai.usage.input_tokens",
                                        "value": {"intValue": "1234"},
                                    },
                                    {
                                        "key": "gen_ai.usage.output_tokens",
                                        "value": {"intValue": "56"},
                                    },
                                    {"key": "gen_ai.usage.cost", "value": {"doubleValue": 0.5}},
                                    {
                                        "key": "tag.tags",
                                        "value": {
                                            "arrayValue": {
                                                "values": [
                                                    {"stringValue": "a"},
                                                    {"stringValue": "b"},
                                                ]
                                            }
                                        },
                                    },
                                ],
                                "status": {},
                            },
                            {
                                "traceId": trace_id,
                                "spanId": root_id,
                                "name": "json-root",
                                "kind": 1,
                                "startTimeUnixNano": str(start),
                                "endTimeUnixNano": str(start + 100 * MS),
                                "attributes": [
                                    {"key": "session.id", "value": {"stringValue": session_id}},
                                    {"key": "user.id", "value": {"stringValue": "json-user"}},
                                    {"key": "input.value", "value": {"stringValue": "hello"}},
                                    {"key": "output.value", "value": {"stringValue": "world"}},
                                ],
                                "events": [
                                    {
                                        "timeUnixNano": str(start + 5 * MS),
                                        "name": "exception",
                                        "attributes": [
                                            {
                                                "key": "exception.message",
                                                "value": {"stringValue": "boom"},
                                            }
                                        ],
                                    }
                                ],
                                "status": {"code": 2, "message": "it failed"},
                            },
                        ],
                    }
                ],
            }
        ]
    }
    response = otlp.post(server.url, server.api_key, body, content_type=JSON)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(JSON)
    assert orjson.loads(response.content) == {}  # an ExportTraceServiceResponse, all accepted
    assert not otlp.parse_response(response).HasField("partial_success")

    trace = otlp.api(server, f"/api/v1/traces/{trace_id}")
    assert trace["name"] == "json-root"
    assert trace["session_id"] == session_id
    assert trace["user_id"] == "json-user"
    assert trace["status"] == "error"
    assert trace["span_count"] == 2
    assert (trace["input_tokens"], trace["output_tokens"], trace["total_tokens"]) == (
        1234,
        56,
        1290,
    )
    assert trace["cost"] == pytest.approx(0.5)
    assert trace["tags"] == ["a", "b"]
    assert (trace["input_preview"], trace["output_preview"]) == ("hello", "world")
    assert trace["duration_ms"] == pytest.approx(100)
    spans = {span["span_id"]: span for span in trace["spans"]}
    assert spans[root_id]["parent_span_id"] is None
    assert spans[child_id]["parent_span_id"] == root_id
    assert spans[root_id]["status_message"] == "it failed"
    assert spans[root_id]["events"][0]["name"] == "exception"
    assert spans[root_id]["events"][0]["attributes"] == {"exception.message": "boom"}
    assert spans[child_id]["span_type"] == "LLM"
    assert spans[child_id]["model"] == "gpt-4o-mini"


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("encoding", [PROTOBUF, JSON], ids=["protobuf", "json"])
def test_export_answers_an_export_response_in_the_request_encoding(
    server: LaminaServer, encoding: str, compressed: bool
) -> None:
    session_id = otlp.uid("enc")
    trace_id, request = _turn(session_id)
    response = otlp.post(
        server.url, server.api_key, request, content_type=encoding, gzip=compressed
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(encoding)
    answer = otlp.parse_response(response)
    assert answer.partial_success.rejected_spans == 0
    # visible at once: the answer comes only after the spans are committed
    session = otlp.api(server, f"/api/v1/sessions/{session_id}")
    assert session["trace_count"] == 1 and session["span_count"] == 2
    assert [t["trace_id"] for t in session["traces"]] == [trace_id.hex()]


def test_content_type_parameters_are_accepted(server: LaminaServer) -> None:
    session_id = otlp.uid("charset")
    trace_id, request = _turn(session_id)
    body = orjson.dumps(otlp.to_otlp_json(request))
    response = otlp.post(
        server.url, server.api_key, body, content_type="application/json; charset=utf-8"
    )
    assert response.status_code == 200, response.text
    assert otlp.api(server, f"/api/v1/traces/{trace_id.hex()}")["span_count"] == 2


# -- bad requests: documented answer, nothing stored ----------------------------------------


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/grpc", "multipart/form-data", None]
)
def test_other_content_types_get_415(server: LaminaServer, content_type: str | None) -> None:
    trace_id, request = _turn(otlp.uid("ct"))
    response = otlp.post(
        server.url, server.api_key, request.SerializeToString(), content_type=content_type
    )
    assert response.status_code == 415, response.text
    assert "application/x-protobuf" in otlp.error_status(response).message
    _absent(server, trace_id)


def test_unparseable_protobuf_gets_400_saying_why(server: LaminaServer) -> None:
    trace_id, request = _turn(otlp.uid("trunc"))
    data = request.SerializeToString()
    response = otlp.post(server.url, server.api_key, data[: len(data) // 2])
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(PROTOBUF)
    status = otlp.error_status(response)
    assert status.code == 3  # INVALID_ARGUMENT, as google.rpc.Status
    assert "protobuf" in status.message
    _absent(server, trace_id)


def _json_span(trace_id: str, **fields: object) -> bytes:
    span = {"traceId": trace_id, "spanId": "0102030405060708", "name": "x", **fields}
    return orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"resourceSpans": [', "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"resourceSpans": 7}', "resourceSpans"),
        (b"\xff\xfe not utf-8", "JSON"),
        ("startTimeUnixNano", "startTimeUnixNano"),
        ("attributes", "attributes"),
    ],
    ids=["truncated", "array", "wrong-type", "binary", "bad-int64", "bad-attributes"],
)
def test_bad_json_gets_400_saying_why(server: LaminaServer, body: object, says: str) -> None:
    trace_id = otlp.new_trace_id()
    if body == "startTimeUnixNano":
        body = _json_span(trace_id.hex(), startTimeUnixNano="soon")
    elif body == "attributes":
        body = _json_span(trace_id.hex(), attributes={"session.id": "s"})
    assert isinstance(body, bytes)
    response = otlp.post(server.url, server.api_key, body, content_type=JSON)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith(JSON)
    error = orjson.loads(response.content)
    assert error["code"] == 3
    assert says in error["message"]
    _absent(server, trace_id)


def test_body_that_is_not_gzip_gets_400(server: LaminaServer) -> None:
    trace_id, request = _turn(otlp.uid("notgz"))
    response = otlp.post(
        server.url,
        server.api_key,
        request.SerializeToString(),
        headers={"Content-Encoding": "gzip"},
    )
    assert response.status_code == 400
    assert "gzip" in otlp.error_status(response).message
    truncated = gzip.compress(request.SerializeToString())[:-12]
    response = otlp.post(
        server.url, server.api_key, truncated, headers={"Content-Encoding": "gzip"}
    )
    assert response.status_code == 400
    _absent(server, trace_id)


def test_gzip_body_of_several_members_stores_every_member(server: LaminaServer) -> None:
    """RFC 1952: a gzip body may be several members one after another (``cat a.gz b.gz``);
    ``gzip -d`` inflates them all, and so does the server: no span is dropped."""
    first, request = _turn(otlp.uid("member-1"))
    second, other = _turn(otlp.uid("member-2"))
    body = gzip.compress(request.SerializeToString()) + gzip.compress(other.SerializeToString())
    assert gzip.decompress(body) == request.SerializeToString() + other.SerializeToString()
    response = otlp.post(server.url, server.api_key, body, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 200, response.text
    assert not otlp.parse_response(response).HasField("partial_success")
    for trace_id in (first, second):
        assert otlp.api(server, f"/api/v1/traces/{trace_id.hex()}")["span_count"] == 2


@pytest.mark.parametrize("trailing", [b"\n", b"\0" * 8, b"not gzip"], ids=repr)
def test_bytes_after_the_gzip_data_get_400(server: LaminaServer, trailing: bytes) -> None:
    trace_id, request = _turn(otlp.uid("trailing"))
    body = gzip.compress(request.SerializeToString()) + trailing
    response = otlp.post(server.url, server.api_key, body, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 400, response.text
    message = otlp.error_status(response).message
    assert f"goes on for {len(trailing)} byte" in message and "after its gzip data" in message
    _absent(server, trace_id)


@pytest.mark.parametrize("encoding", [PROTOBUF, JSON], ids=["protobuf", "json"])
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer lmn_notarealkey0000000000000000000000000000000", "Basic dXNlcjpwYXNz", ""],
    ids=["missing", "unknown", "basic", "empty"],
)
def test_missing_or_unknown_key_gets_401(
    server: LaminaServer, authorization: str | None, encoding: str
) -> None:
    trace_id, request = _turn(otlp.uid("auth"))
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = otlp.post(server.url, None, request, content_type=encoding, headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith(encoding)
    assert "API key" in otlp.error_status(response).message
    _absent(server, trace_id)


def test_revoked_key_gets_401(server: LaminaServer) -> None:
    _, key = otlp.new_project(server, "revoke")
    first, request = _turn(otlp.uid("before-revoke"))
    assert otlp.post(server.url, key, request).status_code == 200
    assert otlp.api(server, f"/api/v1/traces/{first.hex()}", key=key)["span_count"] == 2
    key_id = next(k["id"] for k in otlp.admin(server, "list_keys") if key.startswith(k["prefix"]))
    otlp.admin(server, "revoke_key", key_id=key_id)

    second, request = _turn(otlp.uid("after-revoke"))
    for encoding in (PROTOBUF, JSON):
        response = otlp.post(server.url, key, request, content_type=encoding)
        assert response.status_code == 401
    _absent(server, second)
    assert otlp.get(server, "/api/v1/sessions", key=key).status_code == 401


def test_body_over_the_limit_gets_413(small_body_server: LaminaServer) -> None:
    server = small_body_server
    written = otlp.api(server, "/healthz")["spans_written"]
    # A request under the limit is taken...
    small_id, small = _turn(otlp.uid("small"))
    assert len(small.SerializeToString()) < 4096
    assert otlp.post(server.url, server.api_key, small).status_code == 200
    # ...one over it is refused, whether its length is declared or streamed in chunks.
    trace_id = otlp.new_trace_id()
    big = otlp.export([otlp.span(trace_id, "big", attributes={"input.value": "x" * 5000})])
    response = otlp.post(server.url, server.api_key, big)
    assert response.status_code == 413
    assert "4096" in otlp.error_status(response).message

    def chunks() -> Iterator[bytes]:
        data = big.SerializeToString()
        for at in range(0, len(data), 1000):
            yield data[at : at + 1000]

    response = httpx.post(
        server.url + "/v1/traces",
        content=chunks(),
        headers={"Content-Type": PROTOBUF, "Authorization": f"Bearer {server.api_key}"},
        timeout=30,
    )
    assert response.status_code == 413
    assert otlp.api(server, "/healthz")["spans_written"] == written + 2
    _absent(server, trace_id)
    assert otlp.api(server, f"/api/v1/traces/{small_id.hex()}")["span_count"] == 2


def test_gzip_bomb_gets_413(small_body_server: LaminaServer) -> None:
    server = small_body_server
    written = otlp.api(server, "/healthz")["spans_written"]
    trace_id = otlp.new_trace_id()
    payload = otlp.export(
        [otlp.span(trace_id, "bomb", attributes={"input.value": "\0" * (3 * 1024 * 1024)})]
    ).SerializeToString()
    bomb = gzip.compress(payload, compresslevel=9)
    assert len(bomb) < 4096 < len(payload)  # small on the wire, huge inside
    response = otlp.post(server.url, server.api_key, bomb, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert "decompression" in otlp.error_status(response).message
    _absent(server, trace_id)
    assert otlp.api(server, "/healthz")["spans_written"] == written


def test_gzip_bomb_over_the_default_limit_gets_413(server: LaminaServer) -> None:
    """The default limit is 16 MiB after decompression."""
    trace_id = otlp.new_trace_id()
    payload = otlp.export(
        [otlp.span(trace_id, "bomb", attributes={"input.value": "a" * (17 * 1024 * 1024)})]
    ).SerializeToString()
    bomb = gzip.compress(payload, compresslevel=1)
    assert len(bomb) < 1024 * 1024
    response = otlp.post(server.url, server.api_key, bomb, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 413
    _absent(server, trace_id)


# -- partial success --------------------------------------------------------------------------


def _mixed_batch(session_id: str) -> tuple[list[bytes], otlp.ExportTraceServiceRequest]:
    good = [otlp.conversation_turn(session_id, turn, start_ns=time.time_ns()) for turn in (0, 1)]
    bad = [
        otlp.span(b"", "empty trace id"),
        otlp.span(otlp.new_trace_id()[:15], "short trace id"),
        otlp.span(bytes(16), "zero trace id"),
        otlp.span(otlp.new_trace_id(), "short span id", span_id=b"\x01\x02\x03"),
    ]
    spans = [good[0][0], bad[0], good[0][1], bad[1], bad[2], good[1][0], bad[3], good[1][1]]
    return [good[0][0].trace_id, good[1][0].trace_id, bad[3].trace_id], otlp.export(spans)


@pytest.mark.parametrize("encoding", [PROTOBUF, JSON], ids=["protobuf", "json"])
def test_mixed_batch_stores_good_spans_and_reports_rejected(
    server: LaminaServer, encoding: str
) -> None:
    session_id = otlp.uid("mixed")
    (good_a, good_b, bad), request = _mixed_batch(session_id)
    response = otlp.post(server.url, server.api_key, request, content_type=encoding)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(encoding)
    answer = otlp.parse_response(response)
    assert answer.partial_success.rejected_spans == 4
    assert "trace_id" in answer.partial_success.error_message
    if encoding == JSON:  # int64 as a string, per the OTLP JSON encoding
        assert orjson.loads(response.content)["partialSuccess"]["rejectedSpans"] == "4"
    session = otlp.api(server, f"/api/v1/sessions/{session_id}")
    assert session["trace_count"] == 2 and session["span_count"] == 4
    assert {t["trace_id"] for t in session["traces"]} == {good_a.hex(), good_b.hex()}
    _absent(server, bad)


def test_json_mixed_batch_with_malformed_hex_ids(server: LaminaServer) -> None:
    session_id = otlp.uid("hex")
    good = otlp.conversation_turn(session_id, 0, start_ns=time.time_ns())
    document = otlp.to_otlp_json(otlp.export(good))
    spans = document["resourceSpans"][0]["scopeSpans"][0]["spans"]
    template = {k: v for k, v in spans[0].items() if k not in ("traceId", "spanId")}
    spans += [
        {**template, "traceId": "", "spanId": "0102030405060708"},
        {**template, "traceId": "abc", "spanId": "0102030405060708"},
        {**template, "traceId": "zz" * 16, "spanId": "0102030405060708"},
        {**template, "traceId": otlp.new_trace_id().hex(), "spanId": "01020304"},
    ]
    response = otlp.post(server.url, server.api_key, document, content_type=JSON)
    assert response.status_code == 200, response.text
    assert otlp.parse_response(response).partial_success.rejected_spans == 4
    session = otlp.api(server, f"/api/v1/sessions/{session_id}")
    assert session["trace_count"] == 1 and session["span_count"] == 2


def test_all_spans_rejected_is_still_200_with_partial_success(server: LaminaServer) -> None:
    request = otlp.export([otlp.span(b"", "a"), otlp.span(bytes(16), "b")])
    response = otlp.post(server.url, server.api_key, request)
    assert response.status_code == 200
    assert otlp.parse_response(response).partial_success.rejected_spans == 2


def test_empty_export_is_accepted(server: LaminaServer) -> None:
    for encoding, body in ((PROTOBUF, b""), (JSON, b"{}"), (JSON, b'{"resourceSpans": []}')):
        response = otlp.post(server.url, server.api_key, body, content_type=encoding)
        assert response.status_code == 200, (encoding, body, response.text)
        assert otlp.parse_response(response).partial_success.rejected_spans == 0


# -- logs ------------------------------------------------------------------------------------


def _logs_request() -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    records = request.resource_logs.add().scope_logs.add()
    records.log_records.append(
        LogRecord(time_unix_nano=time.time_ns(), severity_text="INFO", trace_id=bytes(16))
    )
    records.log_records[0].body.string_value = "hello from the Laminar SDK"
    return request


@pytest.mark.parametrize(
    ("encoding", "compressed"),
    [(PROTOBUF, False), (PROTOBUF, True), (JSON, False)],
    ids=["protobuf", "protobuf-gzip", "json"],
)
def test_logs_are_answered_200(server: LaminaServer, encoding: str, compressed: bool) -> None:
    request = _logs_request()
    if encoding == JSON:
        from google.protobuf import json_format

        body = json_format.MessageToJson(request).encode()
    else:
        body = request.SerializeToString()
    response = otlp.post(
        server.url, server.api_key, body, content_type=encoding, gzip=compressed, path="/v1/logs"
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(encoding)
    if encoding == PROTOBUF:
        ExportLogsServiceResponse().ParseFromString(response.content)
    else:
        assert orjson.loads(response.content) == {}


def test_unreadable_logs_body_is_still_200(server: LaminaServer) -> None:
    """A log body we cannot read is not worth a client's retry loop."""
    response = otlp.post(server.url, server.api_key, b"\xff\xff\xff", path="/v1/logs")
    assert response.status_code == 200


# -- a full queue ------------------------------------------------------------------------------


def test_request_larger_than_the_queue_gets_413(small_queue_server: LaminaServer) -> None:
    server = small_queue_server
    trace_id = otlp.new_trace_id()
    too_many = otlp.export([otlp.span(trace_id, f"s{i}") for i in range(11)])
    response = otlp.post(server.url, server.api_key, too_many)
    assert response.status_code == 413  # it can never fit: retrying would not help
    assert "10" in otlp.error_status(response).message
    _absent(server, trace_id)
    fits = otlp.export([otlp.span(trace_id, f"s{i}") for i in range(10)])
    assert otlp.post(server.url, server.api_key, fits).status_code == 200
    assert otlp.api(server, f"/api/v1/traces/{trace_id.hex()}")["span_count"] == 10


def test_full_queue_gets_429_with_retry_after_and_stores_nothing(
    small_queue_server: LaminaServer,
) -> None:
    """Queue-full behaviour: while the writer works, requests that do not fit in the
    bounded queue are refused at once (429 + Retry-After), never buffered; the accepted
    ones are all stored, the refused ones not at all."""
    server = small_queue_server
    written = otlp.api(server, "/healthz")["spans_written"]

    def send(_: int) -> tuple[bytes, httpx.Response]:
        trace_id = otlp.new_trace_id()
        spans = [
            otlp.span(trace_id, f"s{i}", attributes={"input.value": "x" * 200_000})
            for i in range(5)
        ]
        return trace_id, otlp.post(server.url, server.api_key, otlp.export(spans))

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        results = list(pool.map(send, range(16)))
    statuses = [response.status_code for _, response in results]
    assert set(statuses) <= {200, 429}, statuses
    assert 429 in statuses and 200 in statuses, statuses
    for trace_id, response in results:
        if response.status_code == 429:
            assert response.headers["retry-after"].isdigit()
            assert otlp.error_status(response).code == 8  # RESOURCE_EXHAUSTED
            _absent(server, trace_id)
        else:
            assert otlp.api(server, f"/api/v1/traces/{trace_id.hex()}")["span_count"] == 5
    health = otlp.api(server, "/healthz")
    assert health["queued_spans"] == 0
    assert health["spans_written"] == written + 5 * statuses.count(200)


# -- one client's bad values must not fail other clients ------------------------------------


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaminaServer]:
    """A server of its own: while the bug below exists, it refuses everything for 2 s."""
    running = start_server(tmp_path_factory.mktemp("poison"), *IN_PROCESS)
    yield running
    running.kill()


def _poison(case: str) -> list[otlp.Span]:
    trace_id = otlp.new_trace_id()
    if case == "time-past-int64":  # a fixed64 time no int64 column holds (year 2262+)
        span = otlp.span(trace_id, "future")
        span.start_time_unix_nano = span.end_time_unix_nano = 2**64 - 1
        return [span]
    if case == "tokens-as-huge-string":
        return [otlp.span(trace_id, "llm", attributes={"gen_ai.usage.input_tokens": "9" * 20})]
    # two spans whose token counts are each in range, but not their trace's sum
    return [
        otlp.span(trace_id, f"llm-{n}", attributes={"gen_ai.usage.input_tokens": 2**62 + n})
        for n in range(2)
    ]


@pytest.mark.parametrize(
    "case", ["time-past-int64", "tokens-as-huge-string", "tokens-sum-overflow"]
)
def test_out_of_range_values_do_not_fail_other_clients(own_server: LaminaServer, case: str) -> None:
    server = own_server
    bad = _poison(case)
    for span in bad:  # one request per span: the sum case overflows only on the merge
        response = otlp.post(server.url, server.api_key, otlp.export([span]))
        assert response.status_code in (200, 400), (response.status_code, response.content)
    good_id, good = _turn(otlp.uid("innocent"))
    response = otlp.post(server.url, server.api_key, good)
    assert response.status_code == 200, response.content
    assert otlp.api(server, f"/api/v1/traces/{good_id.hex()}")["span_count"] == 2


# -- metrics ---------------------------------------------------------------------------------


def test_metrics_from_a_real_exporter_are_accepted(server: LaminaServer) -> None:
    """OpenLLMetry exports metrics beside traces; they are answered 200 and dropped."""
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import (
        MetricExportResult,
        PeriodicExportingMetricReader,
    )

    results: list[MetricExportResult] = []

    class Recording(OTLPMetricExporter):
        def export(self, *args: Any, **kwargs: Any) -> MetricExportResult:
            results.append(super().export(*args, **kwargs))
            return results[-1]

    exporter = Recording(
        endpoint=f"{server.url}/v1/metrics",
        headers={"Authorization": f"Bearer {server.api_key}"},
    )
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=60_000)
    provider = MeterProvider(metric_readers=[reader])
    provider.get_meter("test").create_counter("gen_ai.client.token.usage").add(12)
    provider.force_flush(10_000)
    provider.shutdown()
    assert results and all(result == MetricExportResult.SUCCESS for result in results)
    response = otlp.post(server.url, "lmn_not_a_key", b"", path="/v1/metrics")
    assert response.status_code == 401
