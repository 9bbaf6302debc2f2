"""A span as one Python object: what ``Store.write_spans`` and tests that build spans
one at a time still take (``to_columns`` makes them a batch).

Not the span representation: decoders produce, the batcher queues and stores write
:class:`lamina.spans.batch.ColumnBatch`, and spans are built from plain rows with
:func:`lamina.spans.batch.from_rows`. This class goes once ``write_spans`` and its
tests build rows instead (issue #18).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class SpanRecord:
    """A span's fields (see SPAN_SCHEMA for what each holds)."""

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
