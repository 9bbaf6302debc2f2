"""An answer's head and body leave the server in one write (lamina.serve.connections
.OneWrite): uvicorn writes them apart, and the client is woken twice for one answer.
Counted with the server process's write system calls (``syscw`` in /proc/<pid>/io;
uvloop writes a socket with write(2)) over requests on one keep-alive connection."""

from __future__ import annotations

import http.client
from pathlib import Path
from urllib.parse import urlsplit

from tests.conftest import LaminaServer, start_server

REQUESTS = 200


def _writes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("syscw:"):
            return int(line.split()[1])
    raise AssertionError("no syscw in /proc/<pid>/io")


def test_each_answer_is_one_write(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")  # its own: nothing else writes meanwhile
    try:
        _count_writes(server)
    finally:
        server.stop()


def _count_writes(server: LaminaServer) -> None:
    address = urlsplit(server.url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
    try:
        connection.request("GET", "/healthz")
        connection.getresponse().read()
        before = _writes(server.process.pid)
        for _ in range(REQUESTS):
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            assert response.status == 200 and b'"status"' in response.read()
        writes = _writes(server.process.pid) - before
    finally:
        connection.close()
    # the server's other threads write a little meanwhile (a store's log, say)
    assert REQUESTS <= writes < REQUESTS * 1.3, writes
