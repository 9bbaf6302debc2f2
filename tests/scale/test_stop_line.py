"""A `--workers N` server says once, in one line, that it has stopped: its supervisor
says it for all its workers."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import start_server
from tests.serve.test_stop_line import STOPPED


def test_a_workers_server_prints_one_line_when_it_stops(tmp_path: Path, store_url: str) -> None:
    server = start_server(tmp_path / "data", "--workers", "2", "--store", store_url)
    before = len(server.output)
    code = server.stop()
    assert code == 0, "".join(server.output)
    assert server.output[before:] == [STOPPED]
