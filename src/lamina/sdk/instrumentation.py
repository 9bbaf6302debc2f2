"""Auto-instrumentation of LLM client libraries through their OpenTelemetry
instrumentation packages (OpenLLMetry's), given the SDK's own tracer provider.

Each supported library is instrumented when it and its instrumentation package
are installed (``pip install 'lamina[openai]'``, ``'lamina[anthropic]'``).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.trace import TracerProvider

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


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def instrument(names: frozenset[str] | None, tracer_provider: TracerProvider) -> list[Any]:
    """Instrument ``names`` (``None``: every supported library installed) with
    ``tracer_provider``. Returns the instrumentors this call turned on, for
    :func:`uninstrument`.

    A library named explicitly but not installed is a configuration error; an
    instrumentor already turned on by someone else is left alone, with a warning
    (its spans go to that other tracer provider).
    """
    explicit = names is not None
    done: list[Any] = []
    for name in sorted(names if names is not None else _TARGETS.keys()):
        target = _TARGETS[name]
        missing = [m for m in (target.library, target.instrumentation) if not _installed(m)]
        if missing:
            if explicit:
                raise LaminaConfigError(
                    f"instrument_modules names {name!r} but {' and '.join(missing)} "
                    f"{'is' if len(missing) == 1 else 'are'} not installed: "
                    f"pip install '{SUPPORTED_MODULES[name]}'"
                    + ("" if target.library not in missing else f" {target.library}")
                )
            continue
        module = importlib.import_module(target.instrumentation)
        instrumentor = getattr(module, target.instrumentor)()
        if instrumentor.is_instrumented_by_opentelemetry:
            log.warning(
                "Lamina: %s is already instrumented by another OpenTelemetry set-up; its "
                "LLM spans go there, not to Lamina.",
                name,
            )
            continue
        instrumentor.instrument(tracer_provider=tracer_provider)
        done.append(instrumentor)
    return done


def uninstrument(instrumentors: list[Any]) -> None:
    for instrumentor in instrumentors:
        try:
            instrumentor.uninstrument()
        except Exception:
            log.debug("Lamina: uninstrumenting %r failed", instrumentor, exc_info=True)
