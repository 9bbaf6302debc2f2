"""The demo's spans: a support chatbot, a checkout workflow, a coding agent, a password
reset that failed and was asked for again, and returning customers' short chats
(lamina.demo.returning).

Built as OTLP protobuf, as an instrumented application exports them. Times are
spread over the last hours so the pages look like a working day: some sessions
ended hours ago, two are still going.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from lamina.demo.builder import MS, Raised, TraceBuilder, attributes, json_text, llm_span
from lamina.demo.conversations import CONVERSATIONS, PASSWORD
from lamina.demo.returning import RETURNING

SUPPORT_SYSTEM = "You are a friendly support agent for Acme Shop. Be brief and concrete."


@dataclass(frozen=True)
class Failure:
    """A chat turn whose tool call raised; the turn's answer says sorry."""

    turn: int
    tool: str
    error: str
    raised: Raised


# The password reset (lamina.demo.conversations): its second turn failed (the reset
# service was down), and the customer asked again a few minutes later. The demo sends
# the last PASSWORD_LATER turns only once the checks have judged the first ones
# (lamina.demo.evaluators), so the session is judged again: the older judgement
# superseded, kept as its history.
PASSWORD_FAILURE = Failure(
    turn=1,
    tool="send_reset_link",
    error="Reset service unavailable (503)",
    raised=Raised(
        "ServiceUnavailable",
        '  File "shop/accounts.py", line 41, in send_reset_link\n'
        "    token = reset_service.issue(user_id)\n",
    ),
)
PASSWORD_LATER = 2


def chatbot_session(rng: random.Random, conversation: int, start_ns: int) -> Iterator[list[Span]]:
    user, turns = CONVERSATIONS[conversation]
    return chat_session(rng, user, turns, start_ns)


def chat_session(
    rng: random.Random,
    user: str,
    turns: list[tuple[str, str]],
    start_ns: int,
    failure: Failure | None = None,
) -> Iterator[list[Span]]:
    """A support chat of ``user``'s: one trace a turn (retrieval, the LLM, the reply;
    in ``failure``'s turn, a tool call that raised)."""
    session = f"conv-{rng.randbytes(2).hex()}"
    history = [{"role": "system", "content": SUPPORT_SYSTEM}]
    at = start_ns
    for number, (question, answer) in enumerate(turns):
        builder = TraceBuilder(rng, at)
        in_tok = 180 + 40 * len(history) + rng.randint(0, 60)
        out_tok = len(answer.split()) * 2 + rng.randint(5, 25)
        llm_ms = 600 + out_tok * 12 + rng.randint(0, 400)
        total_ms = 200 + llm_ms + 120
        root = builder.span(
            "handle_turn",
            at,
            total_ms,
            {
                "session.id": session,
                "user.id": user,
                "lamina.span.type": "DEFAULT",
                "input.value": json_text({"user_message": question}),
                "output.value": json_text(answer),
                "metadata": json_text({"channel": "web", "locale": "en"}),
                "tag.tags": ["support"],
            },
        )
        builder.span(
            "retrieve_docs",
            at + 5 * MS,
            180 + rng.randint(0, 40),
            {
                "lamina.span.type": "TOOL",
                "input.value": json_text({"query": question, "k": 3}),
                "output.value": json_text(
                    [
                        {"doc": "refund-policy.md", "score": 0.82},
                        {"doc": "shipping.md", "score": 0.61},
                    ]
                ),
            },
            root,
        )
        if failure is not None and failure.turn == number:
            builder.span(
                failure.tool,
                at + 190 * MS,
                8 + rng.randint(0, 5),
                {"lamina.span.type": "TOOL", "input.value": json_text({"user_id": user})},
                root,
                error=failure.error,
                raised=failure.raised,
            )
        history.append({"role": "user", "content": question})
        llm_span(
            builder,
            root,
            at + 200 * MS,
            "gpt-4o-mini",
            "openai",
            list(history),
            answer,
            in_tok,
            out_tok,
            llm_ms,
        )
        history.append({"role": "assistant", "content": answer})
        builder.span(
            "send_reply",
            at + int((200 + llm_ms) * MS),
            90,
            {
                "input.value": json_text({"text": answer}),
                "output.value": json_text({"delivered": True}),
            },
            root,
        )
        yield builder.spans
        at += int((total_ms + rng.randint(20_000, 240_000)) * MS)


def checkout_session(
    rng: random.Random, start_ns: int, user: str, fail: bool
) -> Iterator[list[Span]]:
    session = f"checkout-{rng.randint(10, 999)}"
    steps: list[tuple[str, float, dict[str, Any], Any, str | None]] = [
        ("validateCart", 120, {"items": 3}, {"ok": True}, None),
        (
            "processPayment",
            2600,
            {"amount": 42, "currency": "EUR"},
            None if fail else {"charged": 42},
            "Card declined by issuer (code 51)" if fail else None,
        ),
    ]
    if not fail:
        steps.append(("createOrder", 180, {}, {"order": rng.randint(900, 1999)}, None))
    at = start_ns
    for name, duration_ms, given, result, error in steps:
        builder = TraceBuilder(rng, at)
        root = builder.span(
            name,
            at,
            duration_ms,
            {
                "session.id": session,
                "user.id": user,
                "input.value": json_text(given),
                "output.value": json_text(result) if result is not None else None,
                "tag.tags": ["checkout"],
            },
            error=error,
        )
        if name == "processPayment":
            llm_span(
                builder,
                root,
                at + 100 * MS,
                "gpt-4o-mini",
                "openai",
                [
                    {"role": "system", "content": "Rate the fraud risk of this payment, 0-1."},
                    {"role": "user", "content": json_text(given)},
                ],
                '{"risk": 0.04}',
                820,
                12,
                700,
            )
        yield builder.spans
        at += int((duration_ms + 20) * MS)


AGENT_STEPS = [
    ("read_file", {"path": "src/app.py"}, "def main():\n    ..."),
    ("run_tests", {"command": "pytest -q"}, "2 failed, 41 passed"),
    ("edit_file", {"path": "src/app.py", "patch": "@@ -10 +10 @@"}, "applied"),
    ("run_tests", {"command": "pytest -q"}, "43 passed"),
]


def agent_session(rng: random.Random, start_ns: int) -> Iterator[list[Span]]:
    session = f"agent-run-{rng.randint(10, 99)}"
    builder = TraceBuilder(rng, start_ns)
    task = "Fix the failing tests in the checkout service."
    at = start_ns
    steps_ms = 0.0
    children: list[tuple[str, int, float, dict[str, Any], str]] = []
    for tool, args, result in AGENT_STEPS:
        llm_ms = 1500 + rng.randint(0, 2500)
        children.append(("llm", at + int(steps_ms * MS), llm_ms, args, tool))
        steps_ms += llm_ms
        tool_ms = 300 + rng.randint(0, 4000)
        children.append(("tool", at + int(steps_ms * MS), tool_ms, args, result))
        steps_ms += tool_ms
    root = builder.span(
        "agent.run",
        at,
        steps_ms + 50,
        {
            "session.id": session,
            "user.id": "u-9",
            "lamina.span.type": "DEFAULT",
            "input.value": json_text({"task": task}),
            "output.value": json_text("Done: 1 file changed, all 43 tests pass."),
            "tag.tags": ["agent", "coding"],
        },
    )
    messages = [{"role": "user", "content": task}]
    for kind, begin, duration_ms, args, detail in children:
        if kind == "llm":
            reply = json_text({"tool": detail, "arguments": args})
            llm_span(
                builder,
                root,
                begin,
                "claude-sonnet-4-5",
                "anthropic",
                list(messages),
                reply,
                2400 + 900 * len(messages),
                120 + rng.randint(0, 200),
                duration_ms,
            )
            messages.append({"role": "assistant", "content": reply})
        else:
            builder.span(
                str(messages[-1]["content"]).split('"')[3],
                begin,
                duration_ms,
                {
                    "lamina.span.type": "TOOL",
                    "input.value": json_text(args),
                    "output.value": json_text(detail),
                },
                root,
            )
            messages.append({"role": "user", "content": f"Tool result: {detail}"})
    yield builder.spans


@dataclass
class DemoSession:
    """One demo session: what it is (``story``), its id and its traces in time order;
    the last ``later`` of them are sent once the checks have judged the others."""

    story: str
    session_id: str
    traces: list[list[Span]]
    later: int = 0

    def sent_first(self) -> list[list[Span]]:
        return self.traces[: len(self.traces) - self.later]

    def sent_later(self) -> list[list[Span]]:
        return self.traces[len(self.traces) - self.later :]

    def trace_ids(self) -> list[str]:
        return [spans[0].trace_id.hex() for spans in self.traces]


MINUTE = 60 * 1_000_000_000


def demo_sessions(seed: int = 7, now_ns: int | None = None) -> list[DemoSession]:
    """The demo's sessions: some ended hours ago, some still active (their last span a
    few minutes old, within the default idle timeout of 30 minutes)."""
    rng = random.Random(seed)
    now = now_ns or time.time_ns()
    made = [
        ("refund", chatbot_session(rng, 0, now - 180 * MINUTE)),
        ("shipping", chatbot_session(rng, 1, now - 120 * MINUTE)),
        ("discount", chatbot_session(rng, 2, now - 20 * MINUTE)),
        ("checkout", checkout_session(rng, now - 6 * MINUTE, "u-7", fail=False)),
        ("declined", checkout_session(rng, now - 70 * MINUTE, "u-1842", fail=True)),
        ("agent", agent_session(rng, now - 10 * MINUTE)),
        ("password", chat_session(rng, *PASSWORD, now - 645 * MINUTE, PASSWORD_FAILURE)),
    ]
    for n, (user, hours_ago, turns) in enumerate(RETURNING):
        start = now - int(hours_ago * 60) * MINUTE
        made.append((f"returning-{n}", chat_session(rng, user, turns, start)))
    sessions = []
    for story, session in made:
        traces = list(session)
        found = next(kv for kv in traces[0][0].attributes if kv.key == "session.id")
        later = PASSWORD_LATER if story == "password" else 0
        sessions.append(DemoSession(story, found.value.string_value, traces, later))
    return sessions


def export_request(
    traces: list[list[Span]], service: str = "acme-shop"
) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(
        attributes(
            {
                "service.name": service,
                "telemetry.sdk.name": "lamina-demo",
            }
        )
    )
    scope = resource_spans.scope_spans.add()
    scope.scope.name = "lamina.demo"
    for spans in traces:
        scope.spans.extend(spans)
    return request
