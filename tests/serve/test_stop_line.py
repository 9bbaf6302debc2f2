"""`lamina serve` says once, in one line, that it has stopped (SIGTERM or Ctrl-C)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import start_server

STOPPED = "Lamina stopped: every span it acknowledged is saved.\n"


def test_the_server_prints_one_line_when_it_stops(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    before = len(server.output)
    assert server.stop() == 0
    assert server.output[before:] == [STOPPED]
