"""Fixtures for the core tests (the shared ones are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.core import otlp


@pytest.fixture(scope="session", autouse=True)
def _shared_http_client() -> Iterator[None]:
    yield
    otlp.close_client()
