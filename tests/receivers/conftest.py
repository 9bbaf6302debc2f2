"""Fixtures for the receivers' tests (the shared ones are in tests/conftest.py).

Servers started only to try a limit decode in their own process (``--decode-workers 0``):
starting decode workers is the dearest part of a start on this 2-core machine, and it
keeps that configuration tested too. The shared ``server`` uses the default workers.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import LaminaServer, start_server
from tests.support.otlp import IN_PROCESS


@pytest.fixture(scope="session")
def small_body_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaminaServer]:
    """A server that takes at most 4096 bytes per request (after decompression)."""
    running = start_server(
        tmp_path_factory.mktemp("small-body"), "--max-body-bytes", "4096", *IN_PROCESS
    )
    yield running
    running.kill()


@pytest.fixture(scope="session")
def small_queue_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaminaServer]:
    """A server whose ingest queue holds at most 10 spans."""
    running = start_server(
        tmp_path_factory.mktemp("small-queue"), "--max-queue-spans", "10", *IN_PROCESS
    )
    yield running
    running.kill()
