"""Hostile requests over real HTTP: compression bombs, huge bodies and attribute values,
a million tiny spans, nesting deeper than any parser's limit. Each is refused with a
clear 4xx in a moment, the server's memory stays put, and it keeps working."""

from __future__ import annotations

import json
import socket
import time
import zlib
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import LaminaServer, start_server
from tests.reliability.test_fuzz import _deep_request, _field
from tests.reliability.test_overload import rss_mb
from tests.support import otlp
from tests.support.otlp import IN_PROCESS

MiB = 1 << 20
BODY_LIMIT = 1 * MiB
QUEUE_LIMIT = 5000


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaminaServer]:
    running = start_server(
        tmp_path_factory.mktemp("hostile"),
        "--max-body-bytes",
        str(BODY_LIMIT),
        "--max-queue-spans",
        str(QUEUE_LIMIT),
        *IN_PROCESS,
    )
    yield running
    running.kill()


def bomb(size: int, wbits: int) -> bytes:
    """``size`` zero bytes, compressed (gzip: wbits 31; deflate: 15)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    chunk = b"\0" * MiB
    parts = [packer.compress(chunk) for _ in range(size // MiB)]
    return b"".join(parts) + packer.flush()


def post_raw(server: LaminaServer, body: bytes, **headers: str) -> httpx.Response:
    sent = {"Content-Type": otlp.PROTOBUF, "Authorization": f"Bearer {server.api_key}"}
    sent.update(headers)
    return otlp.client().post(server.url + "/v1/traces", content=body, headers=sent)


def message(answer: httpx.Response) -> str:
    return otlp.error_status(answer).message


def still_works(server: LaminaServer) -> None:
    spans = otlp.conversation_turn(otlp.uid("after"), 0, start_ns=time.time_ns())
    answer = otlp.post(server.url, server.api_key, otlp.export(spans))
    assert answer.status_code == 200, answer.text
    assert otlp.api(server, f"/api/v1/traces/{spans[0].trace_id.hex()}")["span_count"] == 2


@pytest.mark.parametrize(("encoding", "wbits"), [("gzip", 31), ("deflate", 15)])
def test_a_compression_bomb_is_413_without_inflating_it(
    guarded: LaminaServer, encoding: str, wbits: int
) -> None:
    body = bomb(64 * MiB, wbits)  # 64 MiB of zeros in 64 KiB
    assert len(body) < BODY_LIMIT
    before = rss_mb(guarded.process.pid)
    started = time.monotonic()
    answer = post_raw(guarded, body, **{"Content-Encoding": encoding})
    assert answer.status_code == 413, answer.text
    assert time.monotonic() - started < 5
    assert "after decompression" in message(answer) and "Send smaller batches" in message(answer)
    assert rss_mb(guarded.process.pid) - before < 50
    still_works(guarded)


def test_a_body_over_the_limit_is_413_whether_or_not_it_says_so(guarded: LaminaServer) -> None:
    huge = b"\x0a" * (BODY_LIMIT + 1)
    answer = post_raw(guarded, huge)
    assert answer.status_code == 413 and "larger than" in message(answer)

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked, and endless enough
        for _ in range(64):
            yield b"\x0a" * (64 * 1024)

    sent = {"Content-Type": otlp.PROTOBUF, "Authorization": f"Bearer {guarded.api_key}"}
    answer = otlp.client().post(guarded.url + "/v1/traces", content=chunks(), headers=sent)
    assert answer.status_code == 413
    # a declared length of a terabyte is refused before a byte of the body is read
    host, port = guarded.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(
            f"POST /v1/traces HTTP/1.1\r\nHost: {host}\r\nContent-Type: {otlp.PROTOBUF}\r\n"
            f"Authorization: Bearer {guarded.api_key}\r\nContent-Length: {10**12}\r\n\r\n".encode()
        )
        assert raw.recv(100).startswith(b"HTTP/1.1 413 ")
    still_works(guarded)


def test_a_huge_attribute_value_is_refused_by_the_body_limit(guarded: LaminaServer) -> None:
    span = otlp.span(otlp.new_trace_id(), "huge", attributes={"input.value": "x" * 2 * MiB})
    answer = otlp.post(guarded.url, guarded.api_key, otlp.export([span]))
    assert answer.status_code == 413 and "LAMINA_MAX_BODY_BYTES" in message(answer)
    # and as gzip, where the wire size is small
    answer = otlp.post(guarded.url, guarded.api_key, otlp.export([span]), gzip=True)
    assert answer.status_code == 413 and "after decompression" in message(answer)
    # a large value within the limit is stored whole
    fits = otlp.span(otlp.new_trace_id(), "large", attributes={"input.value": "y" * 500_000})
    assert otlp.post(guarded.url, guarded.api_key, otlp.export([fits])).status_code == 200
    stored = otlp.api(guarded, f"/api/v1/traces/{fits.trace_id.hex()}")
    span = stored["spans"][0]  # the trace shows it cut, and names its full length
    assert span["truncated"] == {"input": 500_000}
    path = f"/api/v1/traces/{fits.trace_id.hex()}/spans/{span['span_id']}/input"
    assert otlp.api(guarded, path)["value"] == "y" * 500_000


def test_a_flood_of_tiny_spans_in_one_request_is_refused_clearly(guarded: LaminaServer) -> None:
    trace_id = otlp.new_trace_id()
    spans = [otlp.span(trace_id, "") for _ in range(QUEUE_LIMIT * 2)]
    for span in spans:
        span.ClearField("attributes")
        span.ClearField("status")
    body = otlp.export(spans, resource={})
    assert len(body.SerializeToString()) < BODY_LIMIT
    before = rss_mb(guarded.process.pid)
    answer = otlp.post(guarded.url, guarded.api_key, body)
    assert answer.status_code == 413, answer.text
    assert f"holds {QUEUE_LIMIT * 2} spans" in message(answer)
    assert f"at most {QUEUE_LIMIT}" in message(answer)
    assert rss_mb(guarded.process.pid) - before < 200
    assert otlp.get(guarded, f"/api/v1/traces/{trace_id.hex()}").status_code == 404
    still_works(guarded)


def test_nesting_past_every_limit_is_400(guarded: LaminaServer) -> None:
    answer = post_raw(guarded, _deep_request(20_000))
    assert answer.status_code == 400 and "not a valid OTLP" in message(answer)
    deep_json = b'{"resourceSpans": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    answer = post_raw(guarded, deep_json, **{"Content-Type": otlp.JSON})
    assert answer.status_code == 400 and "not valid JSON" in message(answer)
    still_works(guarded)


def test_query_parameters_of_any_size_are_400_not_500(guarded: LaminaServer) -> None:
    for params in (
        {"q": "x" * 30_000},
        {"since": "9999-12-31T23:59:59+14:00", "until": "0001-01-01T00:00:00"},
        {"limit": "9" * 5000},
        {"cursor": "A" * 30_000},
        {"sort": "\x00"},
    ):
        answer = otlp.get(guarded, "/api/v1/traces", **params)
        assert answer.status_code in (200, 400), (params, answer.status_code, answer.text[:200])
    long_path = otlp.get(guarded, "/api/v1/traces/" + "a" * 30_000)
    assert long_path.status_code in (404, 414, 431)


def test_a_million_tiny_spans_are_refused_before_the_dear_decoding(server: LaminaServer) -> None:
    """With the default limits (16 MiB, 100,000 spans a request): 15 MB of 300,000 empty
    spans. Decoding them all took 20 s and 500 MB before they were refused."""
    trace_id = otlp.new_trace_id()
    one = _field(2, _field(1, trace_id) + _field(2, b"\x01" * 8))  # ScopeSpans.spans
    body = _field(1, _field(2, one * 300_000))  # built as bytes: 300,000 Span objects are slow
    assert len(body) < 16 * MiB
    before = rss_mb(server.process.pid)
    started = time.monotonic()
    answer = post_raw(server, body)
    took = time.monotonic() - started
    assert answer.status_code == 413, answer.text
    assert "holds 300000 spans" in message(answer) and "at most 100000" in message(answer)
    assert took < 5, f"{took:.1f} s to refuse"
    assert rss_mb(server.process.pid) - before < 250
    still_works(server)


def test_bytes_that_are_no_http_request_get_a_json_error(guarded: LaminaServer) -> None:
    """What the HTTP parser cannot read (here a control byte in the request line) is a
    400 in the API's JSON error shape, as every other refusal (was uvicorn's plain
    text: schemathesis's negative run found it with very long metric queries)."""
    host, port = guarded.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(b"GET /api/v1/metrics?q=\x01 HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while chunk := raw.recv(4096):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert b"content-type: application/json" in head.lower()
    assert json.loads(body)["error"]["message"].startswith("The request could not be read")
    still_works(guarded)
