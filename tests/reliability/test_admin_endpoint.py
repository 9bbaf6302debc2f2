"""The admin endpoint (what the CLI calls while a server holds the data dir) reads at most
64 MiB of body, and answers a wrongly typed argument with a 400 that names it.

The report: 400 imports of 1 MB at once added 1.9 GiB to the server's memory, and
``create_project {"name": 123}`` was a 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson

from tests.conftest import LaminaServer
from tests.core import otlp

MiB = 1024 * 1024


def _post(server: LaminaServer, operation: str, body: bytes | Iterator[bytes]) -> httpx.Response:
    token = (server.data_dir / "admin.token").read_text().strip()
    return otlp.client().post(
        f"{server.url}/api/admin/{operation}",
        content=body,
        headers={"Authorization": f"Bearer {token}"},
    )


def test_wrongly_typed_arguments_are_a_400_that_says_which(server: LaminaServer) -> None:
    cases = [
        ("create_project", {"name": 123}, "name must be text; got 123"),
        ("set_retention", {"project": "default", "days": "7"}, "days must be a whole number"),
        ("create_user", {"email": "a@b.c", "password": ["x"]}, "password must be text"),
        ("import_spans", {"project": "default", "spans": [1]}, "each item an object"),
        ("list_sessions", {"project": "default", "params": {"limit": 5}}, "each value text"),
    ]
    for operation, arguments, message in cases:
        answer = _post(server, operation, orjson.dumps(arguments))
        assert answer.status_code == 400, (operation, answer.text)
        assert message in answer.json()["error"]["message"], answer.text
    assert _post(server, "list_projects", b"{}").status_code == 200


def _peak_mib(server: LaminaServer) -> int:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM"))
    return int(line.split()[1]) // 1024


def test_a_body_over_64_mib_is_refused_without_holding_it(server: LaminaServer) -> None:
    Path(f"/proc/{server.process.pid}/clear_refs").write_text("5")  # resets VmHWM
    before = _peak_mib(server)
    span = orjson.dumps({"kind": "span", "input": "x" * MiB})
    big = b'{"project": "default", "spans": [' + b",".join([span] * 70) + b"]}"

    declared = _post(server, "import_spans", big)  # with its Content-Length
    assert declared.status_code == 413, declared.text
    assert "at most 64 MiB" in declared.json()["error"]["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: read until it is too much
        for start in range(0, len(big), MiB):
            yield big[start : start + MiB]

    streamed = _post(server, "import_spans", chunks())
    assert streamed.status_code == 413, streamed.text
    assert _peak_mib(server) - before < 100
