"""A span built one field at a time, for tests that make spans one by one.

Not a span representation of Lamina's: decoders produce, the batcher queues and
stores write :class:`lamina.spans.batch.ColumnBatch`. ``dataclasses.asdict(record)``
is a span row for :func:`lamina.spans.batch.from_rows` (see tests/store/writing.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
