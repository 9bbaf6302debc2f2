"""The Lamina Python SDK: ``Laminar``, ``observe``, ``evaluate`` and ``judge``; see docs/sdk.md."""

from lamina.sdk.attributes import SpanType
from lamina.sdk.config import LaminaConfigError
from lamina.sdk.evaluate import EvaluationResult, evaluate
from lamina.sdk.experiment_api import ExperimentError
from lamina.sdk.judges import judge
from lamina.sdk.laminar import Laminar
from lamina.sdk.observe import Observe, observe

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
