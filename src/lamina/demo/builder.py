"""Spans built as an instrumented application exports them (OTLP protobuf): a trace's
spans laid out in time, LLM calls with their GenAI attributes, recorded exceptions. The
demo's stories (lamina.demo.spans, experiments) and the benchmark's workload use them."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import orjson
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

MS = 1_000_000


def any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, list | tuple):
        return AnyValue(array_value=ArrayValue(values=[any_value(v) for v in value]))
    if isinstance(value, str):
        return AnyValue(string_value=value)
    return AnyValue(string_value=orjson.dumps(value).decode())


def attributes(values: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=any_value(v)) for k, v in values.items() if v is not None]


@dataclass(frozen=True)
class Raised:
    """An exception a span records: its type and the frame of the traceback it was
    raised in."""

    type: str
    frame: str


PAYMENT_DECLINED = Raised(
    "PaymentDeclined",
    '  File "shop/payments.py", line 88, in process_payment\n'
    "    charge = gateway.charge(card, amount)\n",
)


@dataclass
class TraceBuilder:
    """Spans of one trace, laid out in time as a real run would be."""

    rng: random.Random
    start_ns: int
    trace_id: bytes = b""
    spans: list[Span] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.trace_id = self.rng.randbytes(16)

    def span(
        self,
        name: str,
        start_ns: int,
        duration_ms: float,
        attrs: dict[str, Any],
        parent: Span | None = None,
        error: str | None = None,
        raised: Raised = PAYMENT_DECLINED,
    ) -> Span:
        span = Span(
            trace_id=self.trace_id,
            span_id=self.rng.randbytes(8),
            parent_span_id=parent.span_id if parent is not None else b"",
            name=name,
            kind=Span.SPAN_KIND_INTERNAL,
            start_time_unix_nano=start_ns,
            end_time_unix_nano=start_ns + int(duration_ms * MS),
            attributes=attributes(attrs),
            status=Status(
                code=Status.STATUS_CODE_ERROR if error else Status.STATUS_CODE_OK,
                message=error or "",
            ),
        )
        if error:
            event = span.events.add()
            event.name = "exception"
            event.time_unix_nano = span.end_time_unix_nano
            event.attributes.extend(
                attributes(
                    {
                        "exception.type": raised.type,
                        "exception.message": error,
                        "exception.stacktrace": (
                            f"Traceback (most recent call last):\n{raised.frame}"
                            f"{raised.type}: {error}"
                        ),
                    }
                )
            )
        self.spans.append(span)
        return span


def json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def llm_span(
    builder: TraceBuilder,
    parent: Span,
    start: int,
    model: str,
    provider: str,
    messages: list[dict[str, str]],
    reply: str,
    in_tok: int,
    out_tok: int,
    duration_ms: float,
) -> Span:
    attrs: dict[str, Any] = {
        "gen_ai.system": provider,
        "gen_ai.request.model": model,
        "gen_ai.response.model": model,
        "gen_ai.usage.input_tokens": in_tok,
        "gen_ai.usage.output_tokens": out_tok,
        "llm.request.type": "chat",
    }
    for index, message in enumerate(messages):
        attrs[f"gen_ai.prompt.{index}.role"] = message["role"]
        attrs[f"gen_ai.prompt.{index}.content"] = message["content"]
    attrs["gen_ai.completion.0.role"] = "assistant"
    attrs["gen_ai.completion.0.content"] = reply
    name = "openai.chat" if provider == "openai" else "anthropic.messages"
    return builder.span(name, start, duration_ms, attrs, parent)


__all__ = [
    "MS",
    "PAYMENT_DECLINED",
    "Raised",
    "TraceBuilder",
    "any_value",
    "attributes",
    "json_text",
    "llm_span",
]
