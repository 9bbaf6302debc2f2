"""The one internal span representation.

Both OTLP receivers decode into :class:`SpanRecord`, the ingest batcher queues
them, and every store writes them. Nothing else describes a span.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class SpanRecord:
    """A span after decoding and normalising, ready to store; treat it as immutable
    (not frozen only because a frozen dataclass takes four times as long to build,
    and decoding builds one per span).

    Times are integer nanoseconds since the Unix epoch. ``input`` and
    ``output`` hold the payload as text (usually JSON); ``attributes``,
    ``events`` and ``resource`` hold everything the span carried, as JSON text,
    so nothing the client sent is dropped.
    """

    project_id: str
    trace_id: str  # 32 lowercase hex digits
    span_id: str  # 16 lowercase hex digits
    parent_span_id: str | None
    name: str
    span_type: str  # DEFAULT, LLM, TOOL, ...
    start_ns: int
    end_ns: int
    status: str  # "ok", "error" or "unset"
    status_message: str = ""
    session_id: str | None = None
    user_id: str | None = None
    input: str | None = None
    output: str | None = None
    model: str | None = None
    provider: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None
    tags: tuple[str, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)
    attributes: str = "{}"
    events: str = "[]"
    resource: str = "{}"
    service_name: str | None = None

    @property
    def duration_ns(self) -> int:
        return max(0, self.end_ns - self.start_ns)

    @property
    def is_root(self) -> bool:
        return self.parent_span_id is None

    def summary(self) -> dict[str, Any]:
        """A short description for logs and error messages."""
        return {"trace_id": self.trace_id, "span_id": self.span_id, "name": self.name}
