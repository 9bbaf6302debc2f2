"""Fixtures for the SDK's tests: the SDK initialised against the real server
(``server`` from tests/conftest.py), and the fake OpenAI/Anthropic endpoint."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lamina import Laminar
from tests.conftest import LaminaServer
from tests.fakes.llm import FakeLLM

SDK_TESTS = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # opentelemetry-instrumentation-openai 0.62 declares a pydantic model with a
    # class-based `Config` (responses_wrappers.py), which pydantic 2 warns about
    # once, when the instrumentation is first imported by Laminar.initialize.
    # It is the instrumentation's business, not a fault of ours; ignore exactly it.
    mark = pytest.mark.filterwarnings(
        "ignore:Support for class-based `config` is deprecated"
        ":pydantic.warnings.PydanticDeprecatedSince20"
    )
    for item in items:
        if SDK_TESTS in item.path.parents:
            item.add_marker(mark)


@pytest.fixture
def laminar(server: LaminaServer) -> Iterator[LaminaServer]:
    """The SDK initialised against the shared server (every supported library
    instrumented); shut down after the test. Yields the server."""
    Laminar.initialize(project_api_key=server.api_key, base_url=server.url)
    yield server
    Laminar.shutdown()


@pytest.fixture
def new_id() -> Callable[[str], str]:
    """Unique ids, so tests sharing the server never see each other's data."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake
