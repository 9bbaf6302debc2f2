"""`lamina serve` runs on uvloop's event loop (docs/decisions.md, "The server runs on
uvloop"): its extension is loaded in the server process, which nothing else in the
server imports."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import LaminaServer


def test_the_server_runs_on_uvloop(server: LaminaServer) -> None:
    maps = Path(f"/proc/{server.process.pid}/maps").read_text()
    assert "/uvloop/loop." in maps
