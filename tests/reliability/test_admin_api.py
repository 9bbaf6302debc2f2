"""The routes the CLI calls while a server holds the data dir read bounded bodies, and
answer a wrongly typed field with a 400 that names it.

The report (against the admin endpoint these routes replaced): 400 imports of 1 MB at
once added 1.9 GiB to the server's memory, and ``create_project {"name": 123}`` was a
500. An import now reads at most 64 MiB, a JSON body at most 1 MiB.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson

from tests.conftest import LaminaServer
from tests.support import otlp

MiB = 1024 * 1024


def _send(
    server: LaminaServer, method: str, path: str, body: bytes | Iterator[bytes]
) -> httpx.Response:
    token = (server.data_dir / "admin.token").read_text().strip()
    return otlp.client().request(
        method,
        f"{server.url}{path}",
        content=body,
        headers={"Authorization": f"Bearer {token}"},
    )


def test_wrongly_typed_fields_are_a_400_that_says_which(server: LaminaServer) -> None:
    cases = [
        ("POST", "/api/v1/projects", {"name": 123}, "name must be text; got 123"),
        (
            "PATCH",
            "/api/v1/projects/default",
            {"retention_days": "7"},
            "retention_days must be a whole number or null",
        ),
        (
            "POST",
            "/api/v1/accounts",
            {"email": "a@b.c", "password": ["x"]},
            "password must be text",
        ),
        (
            "POST",
            "/api/v1/accounts",
            {"email": "a@b.c", "password": "long enough", "is_admin": "yes"},
            "is_admin must be true or false",
        ),
        ("POST", "/api/v1/keys", {"project": "default", "nmae": "x"}, "Unknown field 'nmae'"),
        ("POST", "/api/v1/keys", {"name": "x"}, "must give project"),
        ("POST", "/api/v1/projects", [1], "must be a JSON object"),
    ]
    for method, path, body, message in cases:
        answer = _send(server, method, path, orjson.dumps(body))
        assert answer.status_code == 400, (path, answer.text)
        assert message in answer.json()["error"]["message"], answer.text
    not_json = _send(server, "POST", "/api/v1/projects", b"{name: x}")
    assert not_json.status_code == 400 and "JSON object" in not_json.text
    for lines, message in (
        (b"1\n", "Line 1: not a JSON object"),
        (b'{"kind": "span"}\n', "line 1: trace_id must be 32 hex digits"),
        (b'\n{"kind": "spam"}\n', 'Line 2: "kind" must be "span"'),
    ):
        answer = _send(server, "POST", "/api/v1/import?project=default", lines)
        assert answer.status_code == 400 and message in answer.json()["error"]["message"]
    assert _send(server, "GET", "/api/v1/projects", b"").status_code == 200


def _peak_mib(server: LaminaServer) -> int:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM"))
    return int(line.split()[1]) // 1024


def test_a_body_over_the_limit_is_refused_without_holding_it(server: LaminaServer) -> None:
    Path(f"/proc/{server.process.pid}/clear_refs").write_text("5")  # resets VmHWM
    before = _peak_mib(server)
    span = orjson.dumps({"kind": "span", "input": "x" * MiB})
    big = b"\n".join([span] * 70)

    declared = _send(server, "POST", "/api/v1/import?project=default", big)  # Content-Length
    assert declared.status_code == 413, declared.text
    assert "at most 64 MiB" in declared.json()["error"]["message"]

    def chunks(body: bytes) -> Iterator[bytes]:  # no Content-Length: read until too much
        for start in range(0, len(body), MiB):
            yield body[start : start + MiB]

    streamed = _send(server, "POST", "/api/v1/import?project=default", chunks(big))
    assert streamed.status_code == 413, streamed.text
    assert _peak_mib(server) - before < 100

    name = orjson.dumps({"name": "x" * (2 * MiB)})
    for body in (name, chunks(name)):
        answer = _send(server, "POST", "/api/v1/projects", body)
        assert answer.status_code == 413 and "at most 1 MiB" in answer.text
