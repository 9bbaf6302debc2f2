"""The span attribute names the SDK writes, and the span types.

They are the open names from ARCHITECTURE.md, so any OpenTelemetry backend can
read Lamina's data; only the span type has a Lamina name.
"""

from __future__ import annotations

from typing import Final, Literal

SESSION_ID: Final = "session.id"
USER_ID: Final = "user.id"
METADATA: Final = "metadata"  # a JSON object, as text
TAGS: Final = "tag.tags"  # an array of strings
SPAN_TYPE: Final = "lamina.span.type"
INPUT: Final = "input.value"  # JSON text
OUTPUT: Final = "output.value"  # JSON text

SpanType = Literal["DEFAULT", "LLM", "TOOL", "EXECUTOR", "EVALUATOR", "EVALUATION", "PIPELINE"]
SPAN_TYPES: Final[frozenset[str]] = frozenset(
    {"DEFAULT", "LLM", "TOOL", "EXECUTOR", "EVALUATOR", "EVALUATION", "PIPELINE"}
)


def check_span_type(span_type: str) -> str:
    """The span type in its canonical upper case; ValueError for an unknown one."""
    canonical = span_type.upper()
    if canonical not in SPAN_TYPES:
        known = ", ".join(sorted(SPAN_TYPES))
        raise ValueError(f"unknown span_type {span_type!r}: use one of {known}")
    return canonical
