"""A realistic span workload, built as OTLP protobuf export requests.

Sessions of 1-50 traces; each trace a root step with input and output, an LLM
call with chat messages and token counts, and one to three tool calls. Sessions
overlap and spans arrive in time order, as from a live service. Bodies
are serialised and gzipped before any clock starts, so the benchmark measures
the server, not the client.
"""

from __future__ import annotations

import gzip
import heapq
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from lamina.demo.builder import TraceBuilder, attributes, json_text, llm_span

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
    # (session id, trace id in hex) of each trace that starts in this batch, for
    # the scores given after the ingest (bench.scores)
    traces: tuple[tuple[str, str], ...] = ()


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


# A new session starts every SESSION_GAP_S seconds on average, and a session's turns
# come 5-120 s apart: several hundred sessions are live at once, as on a busy service.
SESSION_GAP_S = 2.0
# About 100 spans a session (1-50 turns of 4 spans on average), so the workload
# covers this many spans per second of its own clock.
SPANS_PER_SECOND = 100 / SESSION_GAP_S


@dataclass
class _Session:
    session_id: str
    user: str
    turns_left: int
    history: list[dict[str, str]]


def traces(rng: random.Random, sessions: int, start_ns: int) -> Iterator[list]:  # type: ignore[type-arg]
    """Traces (lists of spans) of ``sessions`` overlapping sessions, in the order a live
    application exports them: each trace when it happens, sessions interleaved."""
    live: list[tuple[int, int, _Session]] = []  # (next turn at, tie-breaker, session)
    next_start = start_ns
    started = 0
    while live or started < sessions:
        if started < sessions and (not live or next_start <= live[0][0]):
            session = _Session(
                session_id=f"sess-{started:06d}-{rng.randbytes(3).hex()}",
                user=f"u-{rng.randint(1, max(1, sessions // 4))}",
                turns_left=rng.randint(1, 50),
                history=[{"role": "system", "content": _sentence(rng, 30)}],
            )
            heapq.heappush(live, (next_start, started, session))
            started += 1
            next_start += int(rng.expovariate(1 / SESSION_GAP_S) * 1000) * MS
            continue
        at, order, session = heapq.heappop(live)
        yield _turn(rng, session, at)
        session.turns_left -= 1
        if session.turns_left:
            heapq.heappush(live, (at + rng.randint(5_000, 120_000) * MS, order, session))


def _turn(rng: random.Random, session: _Session, at: int) -> list:  # type: ignore[type-arg]
    """One trace: a root step, one to three tool calls and an LLM call with the history."""
    builder = TraceBuilder(rng, at)
    question = _sentence(rng, rng.randint(8, 40))
    answer = _sentence(rng, rng.randint(20, 120))
    root = builder.span(
        "handle_turn",
        at,
        1500,
        {
            "session.id": session.session_id,
            "user.id": session.user,
            "input.value": json_text({"user_message": question}),
            "output.value": json_text(answer),
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
                "input.value": json_text({"query": question[:80]}),
                "output.value": json_text({"result": _sentence(rng, 20)}),
            },
            root,
        )
    session.history.append({"role": "user", "content": question})
    llm_span(
        builder,
        root,
        at + 200 * MS,
        "gpt-4o-mini",
        "openai",
        session.history[-6:],
        answer,
        rng.randint(200, 3000),
        rng.randint(20, 400),
        1200,
    )
    session.history.append({"role": "assistant", "content": answer})
    return builder.spans


def duration_ns(total_spans: int) -> int:
    """How much of the workload's clock ``total_spans`` spans cover."""
    return int(total_spans / SPANS_PER_SECOND * 1e9)


def batches(
    total_spans: int, batch_size: int = 512, seed: int = 1, start_ns: int | None = None
) -> list[Batch]:
    """About ``total_spans`` spans as gzipped requests of ``batch_size`` spans each.

    The clock starts at ``start_ns`` (by default so that the last span is an hour
    old); sessions still open when the total is reached are cut short."""
    rng = random.Random(seed)
    if start_ns is None:
        start_ns = time.time_ns() - duration_ns(total_spans) - 3600 * 1_000_000_000
    out: list[Batch] = []
    pending: list = []  # type: ignore[type-arg]
    started: list[tuple[str, str]] = []
    made = 0
    for spans in traces(rng, sessions=10**9, start_ns=start_ns):
        root = spans[0]
        session = next(kv.value.string_value for kv in root.attributes if kv.key == "session.id")
        started.append((session, root.trace_id.hex()))
        pending.extend(spans)
        made += len(spans)
        while len(pending) >= batch_size:
            out.append(_batch(pending[:batch_size], started))
            pending, started = pending[batch_size:], []
        if made >= total_spans:
            break
    if pending:
        out.append(_batch(pending, started))
    return out


def _batch(spans: list, started: list[tuple[str, str]]) -> Batch:  # type: ignore[type-arg]
    request = ExportTraceServiceRequest()
    resource = request.resource_spans.add()
    resource.resource.attributes.extend(attributes({"service.name": "bench"}))
    resource.scope_spans.add().spans.extend(spans)
    return Batch(gzip.compress(request.SerializeToString(), 1), len(spans), tuple(started))


@dataclass(frozen=True)
class Ending:
    """Whole sessions sent together once the last of them has ended."""

    batch: Batch
    ends_ns: tuple[int, ...]  # each session's end (its last span's)


# A session's turns in :func:`sessions_ending` start this far apart (a turn's root lasts
# 1.5 s), so a session's spans are over minutes before its end, not the hour of
# :func:`traces`.
TURN_GAP_MS = 2_000


def sessions_ending(
    rate: float, seconds: float, start_ns: int, seed: int = 1, batch_size: int = 400
) -> list[Ending]:
    """The workload's sessions (1-50 turns, about 100 spans each), ending ``rate`` a
    second on average (random gaps) for ``seconds`` from ``start_ns``; each session's
    spans in one request (never split: a part would look like a session that ended),
    with the sessions that end within a tenth of a second after it, up to
    ``batch_size`` spans. A request is to be sent at its last session's end."""
    rng = random.Random(seed)
    out: list[Ending] = []
    pending: list = []  # type: ignore[type-arg]
    ends: list[int] = []
    started: list[tuple[str, str]] = []
    end = start_ns
    for number in range(int(rate * seconds)):
        end += int(rng.expovariate(rate) * 1e9)
        if ends and (len(pending) >= batch_size or end - ends[0] > 100 * MS):
            out.append(Ending(_batch(pending, started), tuple(ends)))
            pending, ends, started = [], [], []
        session = _Session(
            session_id=f"ending-{number:06d}-{rng.randbytes(3).hex()}",
            user=f"u-{rng.randint(1, 1000)}",
            turns_left=rng.randint(1, 50),
            history=[{"role": "system", "content": _sentence(rng, 30)}],
        )
        turns = session.turns_left
        for turn in range(turns):  # the last turn's root ends at ``end``
            at = end - 1500 * MS - (turns - 1 - turn) * TURN_GAP_MS * MS
            spans = _turn(rng, session, at)
            started.append((session.session_id, spans[0].trace_id.hex()))
            pending.extend(spans)
        ends.append(end)
    if pending:
        out.append(Ending(_batch(pending, started), tuple(ends)))
    return out
