"""Auto-instrumentation of LLM client libraries through their OpenTelemetry
instrumentation packages (OpenLLMetry's), installed as extras
(``pip install 'lamina[openai]'``, ``'lamina[anthropic]'``).

A library is instrumented once per process, never uninstrumented: these
instrumentors do not reliably undo their patches, and patching again after an
incomplete undo traces every call twice. Instead each instrumentor is given a
*routing* tracer provider of its own, whose tracers hand each span to the
provider of the current ``Laminar.initialize`` when that library is enabled
there, and to a no-op tracer otherwise (before initialize, after shutdown, or
when ``instrument_modules`` leaves the library out).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace as trace_api
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.util.types import Attributes

from lamina.sdk.config import SUPPORTED_MODULES, LaminaConfigError

log = logging.getLogger("lamina.sdk")


@dataclass(frozen=True)
class _Target:
    library: str  # the module the application imports
    instrumentation: str  # the module of its instrumentor
    instrumentor: str  # the class name


_TARGETS: dict[str, _Target] = {
    "openai": _Target("openai", "opentelemetry.instrumentation.openai", "OpenAIInstrumentor"),
    "anthropic": _Target(
        "anthropic", "opentelemetry.instrumentation.anthropic", "AnthropicInstrumentor"
    ),
}
assert _TARGETS.keys() == SUPPORTED_MODULES.keys()

#: The libraries instrumented through us, once and for good.
_INSTRUMENTED: set[str] = set()
#: Where each library's spans go now.
_ROUTES: dict[str, TracerProvider] = {}
_NOOP = trace_api.NoOpTracer()


class _RoutingTracer(trace_api.Tracer):
    """A tracer whose spans go to the provider currently routed for its library."""

    def __init__(self, library: str, args: tuple[Any, ...]) -> None:
        self._library = library
        self._args = args
        self._cache: tuple[TracerProvider, trace_api.Tracer] | None = None

    def _tracer(self) -> trace_api.Tracer:
        provider = _ROUTES.get(self._library)
        if provider is None:
            return _NOOP
        cache = self._cache
        if cache is not None and cache[0] is provider:
            return cache[1]
        tracer = provider.get_tracer(*self._args)
        self._cache = (provider, tracer)
        return tracer

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: trace_api.SpanKind = trace_api.SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[trace_api.Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace_api.Span:
        return self._tracer().start_span(
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
        )

    def start_as_current_span(  # type: ignore[override]
        self,
        name: str,
        context: Context | None = None,
        kind: trace_api.SpanKind = trace_api.SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[trace_api.Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> AbstractContextManager[trace_api.Span]:
        manager: AbstractContextManager[trace_api.Span] = self._tracer().start_as_current_span(
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
            end_on_exit,
        )
        return manager


class _RoutingTracerProvider(trace_api.TracerProvider):
    def __init__(self, library: str) -> None:
        self._library = library

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes = None,
    ) -> trace_api.Tracer:
        args = (instrumenting_module_name, instrumenting_library_version, schema_url, attributes)
        return _RoutingTracer(self._library, args)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _instrument_once(name: str, explicit: bool) -> bool:
    """Instrument library ``name`` if not done yet; whether it is instrumented by us."""
    if name in _INSTRUMENTED:
        return True
    target = _TARGETS[name]
    missing = [m for m in (target.library, target.instrumentation) if not _installed(m)]
    if missing:
        if explicit:
            raise LaminaConfigError(
                f"instrument_modules names {name!r} but {' and '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} not installed: "
                f"pip install {SUPPORTED_MODULES[name]}"
                + (f" {target.library}" if target.library in missing else "")
            )
        return False
    try:
        module = importlib.import_module(target.instrumentation)
        instrumentor = getattr(module, target.instrumentor)()
        if instrumentor.is_instrumented_by_opentelemetry:
            log.warning(
                "Lamina: %s is already instrumented by another OpenTelemetry set-up; its "
                "LLM spans go there, not to Lamina.",
                name,
            )
            return False
        instrumentor.instrument(tracer_provider=_RoutingTracerProvider(name))
    except Exception:  # a broken third-party instrumentation must not stop the application
        log.warning(
            "Lamina: instrumenting %s failed; its calls are not traced.", name, exc_info=True
        )
        return False
    _INSTRUMENTED.add(name)
    return True


def activate(names: frozenset[str] | None, provider: TracerProvider) -> frozenset[str]:
    """Send the spans of libraries ``names`` (``None``: every supported library
    installed) to ``provider``, instrumenting them first if needed; the others'
    spans go nowhere. Returns the libraries routed to ``provider``.

    A library named explicitly but not installed is a configuration error.
    """
    explicit = names is not None
    wanted = sorted(names if names is not None else _TARGETS.keys())
    enabled = frozenset(name for name in wanted if _instrument_once(name, explicit))
    _ROUTES.clear()
    _ROUTES.update({name: provider for name in enabled})
    return enabled


def deactivate(provider: TracerProvider) -> None:
    """Stop sending spans to ``provider`` (if it is still the routed one)."""
    for name, routed in list(_ROUTES.items()):
        if routed is provider:
            del _ROUTES[name]


def routed() -> Iterator[str]:
    return iter(sorted(_ROUTES))
