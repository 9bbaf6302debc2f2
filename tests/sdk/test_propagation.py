"""A session that spans services: a front end calls a back end over real HTTP,
carrying the trace, session and user in W3C headers."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from lamina import Laminar, observe
from tests.conftest import LaminaServer
from tests.sdk.support import session, spans_by_name, trace


@observe(span_type="TOOL")
def look_up_stock(item: str) -> int:
    return len(item)


class _BackEnd(BaseHTTPRequestHandler):
    """A back-end service: continues whatever trace the request carries."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        with Laminar.continue_trace(self.headers):
            stock = look_up_stock(body["item"])
        payload = json.dumps({"stock": stock}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def back_end() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BackEnd)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_the_back_end_joins_the_front_ends_trace_and_session(
    laminar: LaminaServer, back_end: str, new_id: Callable[[str], str]
) -> None:
    session_id = new_id("checkout")

    @observe()
    def check_stock(item: str) -> int:
        headers = Laminar.get_trace_headers()
        assert headers["traceparent"].split("-")[1] == Laminar.get_trace_id()
        response = httpx.post(f"{back_end}/stock", json={"item": item}, headers=headers)
        stock: int = response.json()["stock"]
        return stock

    with Laminar.with_session(session_id, user_id="u-shop"):
        assert check_stock("kettle") == 6

    result = session(laminar, session_id)
    assert result["trace_count"] == 1 and result["span_count"] == 2
    spans = spans_by_name(trace(laminar, result["traces"][0]["trace_id"]))
    assert spans["look_up_stock"]["parent_span_id"] == spans["check_stock"]["span_id"]
    # the back end's span carries the session and user itself, not only via the trace
    assert spans["look_up_stock"]["session_id"] == session_id
    assert spans["look_up_stock"]["user_id"] == "u-shop"


def test_headers_without_a_session_carry_only_the_trace(
    laminar: LaminaServer, back_end: str
) -> None:
    @observe()
    def front() -> str | None:
        headers = Laminar.get_trace_headers({"x-request-id": "r-1"})
        assert "baggage" not in headers and headers["x-request-id"] == "r-1"
        httpx.post(f"{back_end}/stock", json={"item": "mug"}, headers=headers)
        return Laminar.get_trace_id()

    trace_id = front()
    assert trace_id is not None
    detail = trace(laminar, trace_id)
    assert detail["session_id"] is None
    assert sorted(s["name"] for s in detail["spans"]) == ["front", "look_up_stock"]


def test_continue_trace_without_headers_starts_a_new_trace(laminar: LaminaServer) -> None:
    with Laminar.continue_trace({}):
        assert Laminar.get_trace_id() is None
        with Laminar.start_as_current_span("fresh"):
            assert Laminar.get_trace_id() is not None
    assert Laminar.get_trace_headers() == {}
