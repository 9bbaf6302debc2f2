"""A client that leaves in the middle of its request body costs the log one line at debug,
never a traceback. The report: a sign-in form cut off mid-body logged two full ERROR
tracebacks (6.5 KB) at every log level.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from tests.conftest import LaminaServer
from tests.support.otlp import IN_PROCESS


def _leave_mid_body(server: LaminaServer, path: str) -> None:
    address = urlsplit(server.url)
    assert address.hostname is not None and address.port is not None
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {address.netloc}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
            "email=someone%40example.com&pass".encode()
        )


def test_a_sign_in_cut_off_mid_body_is_one_debug_line(
    new_server: Callable[..., LaminaServer],
) -> None:
    server = new_server(*IN_PROCESS, "--log-level", "debug")
    _leave_mid_body(server, "/signin")
    deadline = time.monotonic() + 10
    line = "POST /signin: the client left before sending its whole body"
    while not any(line in text for text in server.output) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.stop() == 0
    logged = "".join(server.output)
    assert logged.count(line) == 1, logged[-3000:]
    assert "Traceback" not in logged and " ERROR " not in logged, logged[-3000:]
