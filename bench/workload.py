"""A realistic span workload, built as OTLP protobuf export requests.

Sessions of 1-50 traces; each trace a root step with input and output, an LLM
call with chat messages and token counts, and one to three tool calls. Bodies
are serialised and gzipped before any clock starts, so the benchmark measures
the server, not the client.
"""

from __future__ import annotations

import gzip
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from lamina.demo import TraceBuilder, _json, _llm, attributes

MS = 1_000_000
WORDS = [
    "refund",
    "order",
    "shipping",
    "invoice",
    "account",
    "password",
    "delivery",
    "discount",
    "size",
    "colour",
    "warehouse",
    "return",
    "exchange",
    "payment",
    "card",
    "address",
    "email",
    "parcel",
    "tracking",
    "support",
]


@dataclass(frozen=True)
class Batch:
    body: bytes  # gzipped ExportTraceServiceRequest
    spans: int


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def traces(rng: random.Random, sessions: int, start_ns: int) -> Iterator[list]:  # type: ignore[type-arg]
    """Traces (lists of spans) for ``sessions`` sessions, in time order per session."""
    for number in range(sessions):
        session = f"sess-{number:06d}-{rng.randbytes(3).hex()}"
        user = f"u-{rng.randint(1, max(1, sessions // 4))}"
        at = start_ns + rng.randint(0, 3600 * 1000) * MS
        history = [{"role": "system", "content": _sentence(rng, 30)}]
        for _ in range(rng.randint(1, 50)):
            builder = TraceBuilder(rng, at)
            question = _sentence(rng, rng.randint(8, 40))
            answer = _sentence(rng, rng.randint(20, 120))
            root = builder.span(
                "handle_turn",
                at,
                1500,
                {
                    "session.id": session,
                    "user.id": user,
                    "input.value": _json({"user_message": question}),
                    "output.value": _json(answer),
                    "tag.tags": ["bench"],
                },
            )
            for tool in range(rng.randint(1, 3)):
                builder.span(
                    f"tool_{tool}",
                    at + (10 + tool * 60) * MS,
                    50,
                    {
                        "lamina.span.type": "TOOL",
                        "input.value": _json({"query": question[:80]}),
                        "output.value": _json({"result": _sentence(rng, 20)}),
                    },
                    root,
                )
            history.append({"role": "user", "content": question})
            _llm(
                builder,
                root,
                at + 200 * MS,
                "gpt-4o-mini",
                "openai",
                history[-6:],
                answer,
                rng.randint(200, 3000),
                rng.randint(20, 400),
                1200,
            )
            history.append({"role": "assistant", "content": answer})
            yield builder.spans
            at += rng.randint(5_000, 120_000) * MS


def batches(total_spans: int, batch_size: int = 512, seed: int = 1) -> list[Batch]:
    """About ``total_spans`` spans as gzipped requests of ``batch_size`` spans each."""
    rng = random.Random(seed)
    start = time.time_ns() - 24 * 3600 * 1_000_000_000
    out: list[Batch] = []
    pending: list = []  # type: ignore[type-arg]
    made = 0
    for spans in traces(rng, sessions=10**9, start_ns=start):
        pending.extend(spans)
        made += len(spans)
        while len(pending) >= batch_size:
            out.append(_batch(pending[:batch_size]))
            pending = pending[batch_size:]
        if made >= total_spans:
            break
    if pending:
        out.append(_batch(pending))
    return out


def _batch(spans: list) -> Batch:  # type: ignore[type-arg]
    request = ExportTraceServiceRequest()
    resource = request.resource_spans.add()
    resource.resource.attributes.extend(attributes({"service.name": "bench"}))
    resource.scope_spans.add().spans.extend(spans)
    return Batch(gzip.compress(request.SerializeToString(), 1), len(spans))
