"""The SDK's settings: one object, built from `Laminar.initialize`'s arguments and
the environment, checked once so that a mistake fails at start-up with a message
saying how to fix it.

| setting | argument | environment | default |
|---|---|---|---|
| project API key | ``project_api_key`` | ``LAMINA_PROJECT_API_KEY`` | required |
| server base URL | ``base_url`` | ``LAMINA_BASE_URL`` | ``http://127.0.0.1:5667`` |
| instrumented libraries | ``instrument_modules`` | | every supported one installed |
| payload size limit | ``max_payload_chars`` | ``LAMINA_MAX_PAYLOAD_CHARS`` | 65536 |
| span queue bound | ``max_queue_size`` | ``LAMINA_MAX_QUEUE_SIZE`` | 8192 |
| export timeout | ``export_timeout_seconds`` | ``LAMINA_EXPORT_TIMEOUT_SECONDS`` | 10 |
| service name | ``service_name`` | ``OTEL_SERVICE_NAME`` | ``lamina-app`` |
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

_N = TypeVar("_N", int, float)

DEFAULT_BASE_URL = "http://127.0.0.1:5667"
DEFAULT_MAX_PAYLOAD_CHARS = 65_536
DEFAULT_MAX_QUEUE_SIZE = 8_192
DEFAULT_EXPORT_TIMEOUT_SECONDS = 10.0
DEFAULT_SERVICE_NAME = "lamina-app"

#: The libraries the SDK can instrument, each with the package of its instrumentation
#: (what the extras `lamina[openai]` and `lamina[anthropic]` install).
SUPPORTED_MODULES: Mapping[str, str] = {
    "openai": "opentelemetry-instrumentation-openai",
    "anthropic": "opentelemetry-instrumentation-anthropic",
}


class LaminaConfigError(ValueError):
    """`Laminar.initialize` was given (or found in the environment) a setting it cannot use.

    The message says which setting and how to fix it.
    """


@dataclass(frozen=True, slots=True)
class SdkSettings:
    """Everything the SDK is configured with. Build it with :meth:`resolve`."""

    project_api_key: str
    base_url: str = DEFAULT_BASE_URL
    #: Names from :data:`SUPPORTED_MODULES`; ``None`` means every supported library installed.
    instrument_modules: frozenset[str] | None = None
    max_payload_chars: int = DEFAULT_MAX_PAYLOAD_CHARS
    max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE
    export_timeout_seconds: float = DEFAULT_EXPORT_TIMEOUT_SECONDS
    service_name: str = DEFAULT_SERVICE_NAME

    @property
    def traces_endpoint(self) -> str:
        return f"{self.base_url}/v1/traces"

    @classmethod
    def resolve(
        cls,
        *,
        project_api_key: str | None = None,
        base_url: str | None = None,
        instrument_modules: Iterable[str] | None = None,
        max_payload_chars: int | None = None,
        max_queue_size: int | None = None,
        export_timeout_seconds: float | None = None,
        service_name: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> SdkSettings:
        """Arguments first, then the environment, then the defaults; checked."""
        env = os.environ if environ is None else environ
        key = project_api_key if project_api_key is not None else env.get("LAMINA_PROJECT_API_KEY")
        if not key or not key.strip():
            raise LaminaConfigError(
                "no project API key: pass project_api_key=... to Laminar.initialize or set "
                "LAMINA_PROJECT_API_KEY (`lamina serve` prints the default project's key the "
                "first time it starts on an empty data directory)"
            )
        return cls(
            project_api_key=key.strip(),
            base_url=_check_base_url(base_url or env.get("LAMINA_BASE_URL") or DEFAULT_BASE_URL),
            instrument_modules=_check_modules(instrument_modules),
            max_payload_chars=_positive(
                "max_payload_chars",
                "LAMINA_MAX_PAYLOAD_CHARS",
                max_payload_chars,
                env,
                DEFAULT_MAX_PAYLOAD_CHARS,
                int,
            ),
            max_queue_size=_positive(
                "max_queue_size",
                "LAMINA_MAX_QUEUE_SIZE",
                max_queue_size,
                env,
                DEFAULT_MAX_QUEUE_SIZE,
                int,
            ),
            export_timeout_seconds=_positive(
                "export_timeout_seconds",
                "LAMINA_EXPORT_TIMEOUT_SECONDS",
                export_timeout_seconds,
                env,
                DEFAULT_EXPORT_TIMEOUT_SECONDS,
                float,
            ),
            service_name=service_name or env.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME,
        )


def _check_base_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        hint = f" (did you mean 'http://{url}'?)" if "://" not in url else ""
        raise LaminaConfigError(
            f"base_url {url!r} is not an http:// or https:// URL{hint}: pass base_url= to "
            f"Laminar.initialize or set LAMINA_BASE_URL, e.g. {DEFAULT_BASE_URL}"
        )
    if parts.query or parts.fragment:
        raise LaminaConfigError(f"base_url {url!r} must not have a query or fragment")
    base = url.rstrip("/")
    # A URL copied from an OTLP exporter's settings: the SDK adds /v1/traces itself.
    return base.removesuffix("/v1/traces")


def _check_modules(modules: Iterable[str] | None) -> frozenset[str] | None:
    if modules is None:
        return None
    if isinstance(modules, str):
        modules = [modules]
    names = frozenset(m.strip().lower() for m in modules)
    unknown = sorted(names - SUPPORTED_MODULES.keys())
    if unknown:
        raise LaminaConfigError(
            f"instrument_modules: unknown {', '.join(map(repr, unknown))}; "
            f"supported: {', '.join(sorted(SUPPORTED_MODULES))}"
        )
    return names


def _positive(
    name: str,
    env_name: str,
    given: _N | None,
    env: Mapping[str, str],
    default: _N,
    kind: type[_N],
) -> _N:
    value: _N
    if given is not None:
        value = given
    elif raw := env.get(env_name, "").strip():
        try:
            value = kind(raw)
        except ValueError:
            raise LaminaConfigError(f"{env_name}={raw!r} is not a number") from None
    else:
        value = default
    if value <= 0:
        raise LaminaConfigError(f"{name} must be positive, got {value!r}")
    return value
