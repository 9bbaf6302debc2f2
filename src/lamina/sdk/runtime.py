"""The SDK's running state: its own tracer provider, the export pipeline and the
instrumentations, built by `Laminar.initialize` and torn down by `shutdown`.

The provider is never made the global one: an application's own OpenTelemetry
set-up keeps working beside Lamina, and Lamina needs none.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from importlib.metadata import PackageNotFoundError, version

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.trace import Tracer

from lamina.sdk import instrumentation
from lamina.sdk.config import DEFAULT_MAX_PAYLOAD_CHARS, SdkSettings
from lamina.sdk.processor import SdkProcessor
from lamina.sdk.scores import Post, ScoreSender, http_post

log = logging.getLogger("lamina.sdk")

#: How long the exit hook waits for queued spans; much less when the server is
#: already known to be unreachable, so a script never hangs at exit.
EXIT_FLUSH_SECONDS = 5.0
EXIT_FLUSH_SECONDS_WHEN_FAILING = 0.5


def sdk_version() -> str:
    try:
        return version("lamina")
    except PackageNotFoundError:
        return "0+unknown"


class Runtime:
    """One initialised SDK: provider, tracer, export processor, instrumentors."""

    def __init__(
        self,
        settings: SdkSettings,
        exporter: SpanExporter | None = None,
        post: Post | None = None,
    ) -> None:
        self.settings = settings
        resource = Resource.create(
            {"service.name": settings.service_name, "lamina.sdk.version": sdk_version()}
        )
        self.provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        if exporter is None:
            exporter = OTLPSpanExporter(
                endpoint=settings.traces_endpoint,
                headers={"authorization": f"Bearer {settings.project_api_key}"},
                timeout=settings.export_timeout_seconds,
                compression=Compression.Gzip,
            )
        self.export = SdkProcessor(
            exporter, max_queue_size=settings.max_queue_size, endpoint=settings.traces_endpoint
        )
        self.provider.add_span_processor(self.export)
        if post is None:
            post = http_post(
                settings.base_url,
                settings.project_api_key,
                settings.export_timeout_seconds,
                f"lamina-python/{sdk_version()}",
            )
        self.scores = ScoreSender(post, where=settings.base_url)
        # A no-op tracer when OTEL_SDK_DISABLED=true: observe then records nothing.
        self.tracer: Tracer = self.provider.get_tracer("lamina", sdk_version())
        try:
            self.instrumented = instrumentation.activate(settings.instrument_modules, self.provider)
        except BaseException:
            self.export.shutdown(0)
            self.scores.shutdown(0)
            raise

    @property
    def failing(self) -> bool:
        """Whether the server was unreachable at the last attempt (spans or scores)."""
        return self.export.failing or self.scores.failing

    def flush(self, timeout_seconds: float) -> bool:
        deadline = time.monotonic() + timeout_seconds
        spans = self.export.force_flush(int(timeout_seconds * 1000))
        return self.scores.flush(max(0.0, deadline - time.monotonic())) and spans

    def shutdown(self, timeout_seconds: float) -> None:
        deadline = time.monotonic() + timeout_seconds
        instrumentation.deactivate(self.provider)
        self.export.shutdown(int(timeout_seconds * 1000))
        self.provider.shutdown()
        self.scores.shutdown(max(0.0, deadline - time.monotonic()))


class State:
    """The process's current runtime, read on every traced call (so decorators
    applied before `initialize` start tracing once it has run)."""

    def __init__(self) -> None:
        self.runtime: Runtime | None = None
        self.tracer: Tracer | None = None
        self.max_payload_chars = DEFAULT_MAX_PAYLOAD_CHARS
        self.lock = threading.Lock()
        self._exit_hook = False

    def start(self, runtime: Runtime) -> Runtime | None:
        """Make ``runtime`` current; returns the one it replaces."""
        with self.lock:
            old = self.runtime
            self.runtime = runtime
            self.max_payload_chars = runtime.settings.max_payload_chars
            self.tracer = runtime.tracer
            if not self._exit_hook:
                atexit.register(self.at_exit)
                self._exit_hook = True
        return old

    def stop(self) -> Runtime | None:
        with self.lock:
            old = self.runtime
            self.runtime = None
            self.tracer = None
        return old

    def at_exit(self) -> None:
        runtime = self.stop()
        if runtime is not None:
            wait = EXIT_FLUSH_SECONDS_WHEN_FAILING if runtime.failing else EXIT_FLUSH_SECONDS
            runtime.shutdown(wait)


STATE = State()
