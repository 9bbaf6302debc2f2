"""Fixtures for the reliability tests: the data lifecycle, authorisation, faults,
overload and hostile input. The servers are the real ones of tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.core import otlp


@pytest.fixture(scope="session", autouse=True)
def _shared_http_client() -> Iterator[None]:
    yield
    otlp.close_client()
