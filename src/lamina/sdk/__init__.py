"""The Lamina Python SDK: ``Laminar`` and ``observe``; see docs/sdk.md."""

from lamina.sdk.attributes import SpanType
from lamina.sdk.config import LaminaConfigError
from lamina.sdk.laminar import Laminar
from lamina.sdk.observe import Observe, observe

__all__ = ["LaminaConfigError", "Laminar", "Observe", "SpanType", "observe"]
