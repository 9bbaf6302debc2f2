"""Tracing never breaks the application: a server that is down, hangs or refuses
the key; a full queue; bad configuration; an application with its own
OpenTelemetry set-up."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator

import pytest
from opentelemetry import trace as trace_api
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lamina import LaminaConfigError, Laminar, observe
from tests.conftest import LaminaServer
from tests.fakes.blackhole import Blackhole, unused_port_url
from tests.sdk.support import session, spans_by_name, trace


@observe()
def add(a: int, b: int) -> int:
    return a + b


@pytest.fixture
def unreachable() -> Iterator[str]:
    yield unused_port_url()
    Laminar.shutdown(0.5)


def _timed(fn: Callable[[], object]) -> float:
    start = time.monotonic()
    fn()
    return time.monotonic() - start


def test_server_down_the_application_runs_and_flush_keeps_its_timeout(
    unreachable: str, caplog: pytest.LogCaptureFixture
) -> None:
    Laminar.initialize(project_api_key="key", base_url=unreachable)
    with caplog.at_level(logging.WARNING):
        elapsed = _timed(lambda: [add(i, 1) for i in range(200)])
        assert [add(i, 1) for i in range(3)] == [1, 2, 3]
        flush_time = _timed(lambda: Laminar.flush(timeout_seconds=1.0))
        assert Laminar.flush(timeout_seconds=0.3) is False
        shutdown_time = _timed(lambda: Laminar.shutdown(timeout_seconds=0.5))
    assert elapsed < 2.0  # nothing waited for the network
    assert 0.9 < flush_time < 2.0
    assert shutdown_time < 1.5
    messages = [r.getMessage() for r in caplog.records]
    assert sum("could not export" in m for m in messages) <= 1, messages
    (summary,) = [m for m in messages if "were not delivered" in m]
    assert "203 spans were not delivered" in summary
    # the exporter's own retry and failure logs are folded into ours
    assert not [r for r in caplog.records if r.name.startswith("opentelemetry")]


def test_a_failed_export_is_logged_once_with_its_reason(
    unreachable: str, caplog: pytest.LogCaptureFixture
) -> None:
    Laminar.initialize(project_api_key="key", base_url=unreachable, export_timeout_seconds=0.5)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            add(1, 1)
            assert Laminar.flush(timeout_seconds=5) is False
    failures = [r.getMessage() for r in caplog.records if "could not export" in r.getMessage()]
    assert len(failures) == 1
    assert unreachable in failures[0] and "application is not affected" in failures[0]
    assert not [r for r in caplog.records if r.name.startswith("opentelemetry")]


def test_a_hanging_server_never_blocks_the_caller(caplog: pytest.LogCaptureFixture) -> None:
    with Blackhole() as hole:
        Laminar.initialize(project_api_key="key", base_url=hole.url, export_timeout_seconds=5)
        try:
            with caplog.at_level(logging.WARNING):
                assert _timed(lambda: [add(i, 1) for i in range(100)]) < 2.0
                assert _timed(lambda: Laminar.flush(timeout_seconds=0.3)) < 1.0
        finally:
            assert _timed(lambda: Laminar.shutdown(timeout_seconds=0.3)) < 1.5


def test_a_full_queue_drops_new_spans_and_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    with Blackhole() as hole:
        Laminar.initialize(project_api_key="key", base_url=hole.url, max_queue_size=20)
        try:
            with caplog.at_level(logging.WARNING, logger="lamina.sdk"):
                assert [add(i, 0) for i in range(1000)] == list(range(1000))
        finally:
            with caplog.at_level(logging.WARNING, logger="lamina.sdk"):
                Laminar.shutdown(timeout_seconds=0.3)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("queue is full" in m for m in messages) == 1, messages
    (summary,) = [m for m in messages if "were not delivered" in m]
    assert "1000 spans were not delivered" in summary


def test_a_refused_key_does_not_affect_the_application(
    server: LaminaServer, caplog: pytest.LogCaptureFixture
) -> None:
    Laminar.initialize(project_api_key="lmn_not_a_key", base_url=server.url)
    try:
        with caplog.at_level(logging.WARNING):
            assert add(2, 2) == 4
            assert Laminar.flush(timeout_seconds=5) is False
    finally:
        Laminar.shutdown(0.5)
    (failure,) = [r.getMessage() for r in caplog.records if "could not export" in r.getMessage()]
    assert "401" in failure


def test_recovers_when_the_server_comes_back(
    new_server: Callable[..., LaminaServer], tmp_path: object, new_id: Callable[[str], str]
) -> None:
    first = new_server()
    url, key = first.url, first.api_key
    Laminar.initialize(project_api_key=key, base_url=url, export_timeout_seconds=5)
    try:
        first.stop()
        add(1, 1)
        assert Laminar.flush(timeout_seconds=3) is False
        second = new_server("--port", url.rsplit(":", 1)[1], data_dir=first.data_dir, api_key=key)
        session_id = new_id("back")
        with Laminar.with_session(session_id):
            add(2, 2)
        assert session(second, session_id)["trace_count"] == 1
    finally:
        Laminar.shutdown(0.5)


@pytest.mark.parametrize(
    ("kwargs", "env", "message"),
    [
        ({}, {}, "LAMINA_PROJECT_API_KEY"),
        ({"project_api_key": "  "}, {}, "no project API key"),
        ({"base_url": "localhost:5667"}, {"LAMINA_PROJECT_API_KEY": "k"}, "http://localhost:5667"),
        ({}, {"LAMINA_PROJECT_API_KEY": "k", "LAMINA_BASE_URL": "ftp://x"}, "LAMINA_BASE_URL"),
        ({"instrument_modules": {"openai", "cohere"}}, {"LAMINA_PROJECT_API_KEY": "k"}, "'cohere'"),
        ({"max_queue_size": 0}, {"LAMINA_PROJECT_API_KEY": "k"}, "max_queue_size must be positive"),
        ({}, {"LAMINA_PROJECT_API_KEY": "k", "LAMINA_MAX_PAYLOAD_CHARS": "lots"}, "not a number"),
    ],
)
def test_configuration_errors_fail_at_initialize_saying_how_to_fix_them(
    monkeypatch: pytest.MonkeyPatch, kwargs: dict[str, object], env: dict[str, str], message: str
) -> None:
    for name in [n for n in os.environ if n.startswith("LAMINA_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(LaminaConfigError, match=message.replace("(", r"\(")):
        Laminar.initialize(**kwargs)  # type: ignore[arg-type]
    assert not Laminar.is_initialized()


def test_settings_come_from_the_environment(
    server: LaminaServer, monkeypatch: pytest.MonkeyPatch, new_id: Callable[[str], str]
) -> None:
    monkeypatch.setenv("LAMINA_PROJECT_API_KEY", server.api_key)
    monkeypatch.setenv("LAMINA_BASE_URL", server.url + "/")
    Laminar.initialize()
    try:
        session_id = new_id("env")
        with Laminar.with_session(session_id):
            add(1, 2)
        assert session(server, session_id)["trace_count"] == 1
    finally:
        Laminar.shutdown()


def test_works_beside_the_applications_own_tracer_provider(
    laminar: LaminaServer, new_id: Callable[[str], str]
) -> None:
    global_before = trace_api.get_tracer_provider()
    app_exporter = InMemorySpanExporter()
    app_provider = TracerProvider()
    app_provider.add_span_processor(SimpleSpanProcessor(app_exporter))
    app_tracer = app_provider.get_tracer("app")

    assert trace_api.get_tracer_provider() is global_before  # initialize left it alone
    with app_tracer.start_as_current_span("http-request") as app_span:
        assert add(20, 22) == 42
        lamina_trace = Laminar.get_trace_id()
    app_provider.shutdown()

    (exported,) = app_exporter.get_finished_spans()
    assert exported.name == "http-request"
    assert lamina_trace == format(app_span.get_span_context().trace_id, "032x")
    stored = spans_by_name(trace(laminar, lamina_trace))
    assert list(stored) == ["add"]  # only Lamina's spans go to Lamina
    assert stored["add"]["parent_span_id"] == format(app_span.get_span_context().span_id, "016x")


_SCRIPT = """
import sys
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lamina import Laminar, observe

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)  # the application's global provider

Laminar.initialize(project_api_key=sys.argv[1], base_url=sys.argv[2], instrument_modules=[])
assert trace.get_tracer_provider() is provider

@observe(session_id=sys.argv[3])
def job():
    with trace.get_tracer("app").start_as_current_span("app-span"):
        return "done"

print(job(), [s.name for s in exporter.get_finished_spans()])
# no flush, no shutdown: the exit hook sends the span
"""


def test_the_exit_hook_delivers_spans_and_a_global_provider_is_untouched(
    server: LaminaServer, new_id: Callable[[str], str]
) -> None:
    session_id = new_id("atexit")
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_SCRIPT), server.api_key, server.url, session_id],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "done ['app-span']"
    stored = session(server, session_id)
    assert [t["name"] for t in stored["traces"]] == ["job"]
    assert stored["span_count"] == 1
