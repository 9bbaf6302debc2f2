"""Lamina: self-hostable observability for LLM applications.

The public surface is the Python SDK::

    from lamina import Laminar, evaluate, observe

It is imported on first use, so the server and the CLI (which live in this
package too) do not pay for loading the OpenTelemetry SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lamina.sdk import (
        EvaluationResult,
        ExperimentError,
        LaminaConfigError,
        Laminar,
        Observe,
        SpanType,
        evaluate,
        judge,
        observe,
    )

__all__ = [
    "EvaluationResult",
    "ExperimentError",
    "LaminaConfigError",
    "Laminar",
    "Observe",
    "SpanType",
    "evaluate",
    "judge",
    "observe",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        import lamina.sdk

        return getattr(lamina.sdk, name)
    raise AttributeError(f"module 'lamina' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
