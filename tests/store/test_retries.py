"""A client that retries a request after losing the answer does not store its spans twice."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import LaminaServer
from tests.support import otlp

pytestmark = pytest.mark.both_stores  # tests/conftest.py


def test_the_same_request_sent_twice_is_stored_once(server: LaminaServer) -> None:
    trace_id = otlp.new_trace_id()
    root = otlp.span(trace_id, "turn")
    request = otlp.export([root, otlp.span(trace_id, "llm", parent=root.span_id)])
    for _ in range(3):  # the original and two retries
        assert otlp.post(server.url, server.api_key, request).status_code == 200
    trace = otlp.api(server, f"/api/v1/traces/{trace_id.hex()}")
    assert trace["span_count"] == 2
    assert len(trace["spans"]) == 2


def test_a_retry_after_a_restart_is_still_recognised(
    new_server: Callable[..., LaminaServer],
) -> None:
    first = new_server()
    trace_id = otlp.new_trace_id()
    request = otlp.export([otlp.span(trace_id, "turn")])
    assert otlp.post(first.url, first.api_key, request).status_code == 200
    first.kill()  # as if the answer was lost with the server
    second = new_server(data_dir=first.data_dir, api_key=first.api_key)
    assert otlp.post(second.url, second.api_key, request).status_code == 200
    assert otlp.api(second, f"/api/v1/traces/{trace_id.hex()}")["span_count"] == 1


def test_different_requests_with_new_spans_are_all_stored(server: LaminaServer) -> None:
    trace_id = otlp.new_trace_id()
    for name in ("a", "b", "c"):
        request = otlp.export([otlp.span(trace_id, name)])
        assert otlp.post(server.url, server.api_key, request).status_code == 200
    assert otlp.api(server, f"/api/v1/traces/{trace_id.hex()}")["span_count"] == 3
