"""The real ``openai`` and ``anthropic`` clients, instrumented by
``Laminar.initialize``, against a local endpoint speaking their wire formats:
each call is an LLM span with provider, model, messages and tokens, and the
server prices it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import anthropic
import openai
import pytest

from lamina import Laminar, observe
from tests.conftest import LaminaServer
from tests.fakes.llm import FakeLLM, count_tokens
from tests.sdk.support import session, spans_by_name, trace

# Prices from the server's table (USD per million tokens, input / output).
GPT_4O_MINI = (0.15, 0.60)
CLAUDE_3_5_HAIKU = (0.80, 4.00)

OPENAI_MODEL = "gpt-4o-mini"
ANTHROPIC_MODEL = "claude-3-5-haiku-20241022"


def _cost(tokens_in: int, tokens_out: int, price: tuple[float, float]) -> float:
    return (tokens_in * price[0] + tokens_out * price[1]) / 1e6


def _llm_span(laminar: LaminaServer, session_id: str) -> dict[str, Any]:
    (summary,) = session(laminar, session_id)["traces"]
    llm_spans = [s for s in trace(laminar, summary["trace_id"])["spans"] if s["span_type"] == "LLM"]
    (span,) = llm_spans
    return span


def _check(span: dict[str, Any], provider: str, model: str, question: str) -> None:
    reply = f"You said: {question}"
    assert span["provider"] == provider
    assert span["model"] == model
    assert span["input_tokens"] == count_tokens(question)
    assert span["output_tokens"] == count_tokens(reply)
    price = GPT_4O_MINI if provider == "openai" else CLAUDE_3_5_HAIKU
    assert span["cost"] == pytest.approx(
        _cost(span["input_tokens"], span["output_tokens"], price), rel=1e-9
    )
    assert question in span["input"]
    assert reply in span["output"]


@pytest.fixture
def openai_client(fake_llm: FakeLLM) -> openai.OpenAI:
    return openai.OpenAI(base_url=fake_llm.openai_base_url, api_key="sk-test", max_retries=0)


@pytest.fixture
def anthropic_client(fake_llm: FakeLLM) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=fake_llm.anthropic_base_url, api_key="sk-ant-test", max_retries=0
    )


def test_openai_chat_inside_an_observed_turn(
    laminar: LaminaServer, openai_client: openai.OpenAI, new_id: Callable[[str], str]
) -> None:
    conversation_id = new_id("chat")
    question = "What is the capital of France?"

    @observe(session_id=conversation_id)
    def handle_turn(user_message: str) -> str | None:
        completion = openai_client.chat.completions.create(
            model=OPENAI_MODEL, messages=[{"role": "user", "content": user_message}]
        )
        return completion.choices[0].message.content

    assert handle_turn(question) == f"You said: {question}"

    result = session(laminar, conversation_id)
    assert result["trace_count"] == 1 and result["span_count"] == 2
    spans = spans_by_name(trace(laminar, result["traces"][0]["trace_id"]))
    assert spans["openai.chat"]["parent_span_id"] == spans["handle_turn"]["span_id"]
    assert spans["openai.chat"]["session_id"] == conversation_id
    _check(spans["openai.chat"], "openai", OPENAI_MODEL, question)
    assert result["input_tokens"] == spans["openai.chat"]["input_tokens"]
    assert result["cost"] == pytest.approx(spans["openai.chat"]["cost"])


def test_openai_streaming(
    laminar: LaminaServer, openai_client: openai.OpenAI, new_id: Callable[[str], str]
) -> None:
    session_id = new_id("stream")
    question = "Tell me a short story please"
    with Laminar.with_session(session_id):  # no observe: the LLM span is the trace's root
        stream = openai_client.chat.completions.create(
            model=OPENAI_MODEL,
            messages=[{"role": "user", "content": question}],
            stream=True,
            stream_options={"include_usage": True},
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == f"You said: {question}"
    _check(_llm_span(laminar, session_id), "openai", OPENAI_MODEL, question)


def test_openai_async_client(
    laminar: LaminaServer, fake_llm: FakeLLM, new_id: Callable[[str], str]
) -> None:
    session_id = new_id("async")
    question = "Async hello"

    @observe(session_id=session_id)
    async def ask() -> str | None:
        client = openai.AsyncOpenAI(base_url=fake_llm.openai_base_url, api_key="k", max_retries=0)
        async with client:
            completion = await client.chat.completions.create(
                model=OPENAI_MODEL, messages=[{"role": "user", "content": question}]
            )
        return completion.choices[0].message.content

    assert asyncio.run(ask()) == f"You said: {question}"
    _check(_llm_span(laminar, session_id), "openai", OPENAI_MODEL, question)


def test_anthropic_messages(
    laminar: LaminaServer, anthropic_client: anthropic.Anthropic, new_id: Callable[[str], str]
) -> None:
    session_id = new_id("claude")
    question = "Hello Claude, how are you"

    @observe(session_id=session_id)
    def handle_turn(user_message: str) -> str:
        message = anthropic_client.messages.create(
            model=ANTHROPIC_MODEL,
            max_tokens=100,
            messages=[{"role": "user", "content": user_message}],
        )
        block = message.content[0]
        assert isinstance(block, anthropic.types.TextBlock)
        return block.text

    assert handle_turn(question) == f"You said: {question}"
    _check(_llm_span(laminar, session_id), "anthropic", ANTHROPIC_MODEL, question)


def test_anthropic_streaming_both_ways(
    laminar: LaminaServer, anthropic_client: anthropic.Anthropic, new_id: Callable[[str], str]
) -> None:
    helper_session, raw_session = new_id("claude-stream"), new_id("claude-raw")
    question = "Stream me something"
    messages: list[anthropic.types.MessageParam] = [{"role": "user", "content": question}]

    with (
        Laminar.with_session(helper_session),
        anthropic_client.messages.stream(
            model=ANTHROPIC_MODEL, max_tokens=100, messages=messages
        ) as stream,
    ):
        assert "".join(stream.text_stream) == f"You said: {question}"

    with Laminar.with_session(raw_session):
        events = anthropic_client.messages.create(
            model=ANTHROPIC_MODEL, max_tokens=100, messages=messages, stream=True
        )
        kinds = [event.type for event in events]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"

    for session_id in (helper_session, raw_session):
        _check(_llm_span(laminar, session_id), "anthropic", ANTHROPIC_MODEL, question)


def test_anthropic_async_client_streaming(
    laminar: LaminaServer, fake_llm: FakeLLM, new_id: Callable[[str], str]
) -> None:
    session_id = new_id("claude-async")
    question = "Async stream please"

    @observe(session_id=session_id)
    async def ask() -> str:
        client = anthropic.AsyncAnthropic(
            base_url=fake_llm.anthropic_base_url, api_key="k", max_retries=0
        )
        async with (
            client,
            client.messages.stream(
                model=ANTHROPIC_MODEL,
                max_tokens=100,
                messages=[{"role": "user", "content": question}],
            ) as stream,
        ):
            return "".join([text async for text in stream.text_stream])

    assert asyncio.run(ask()) == f"You said: {question}"
    _check(_llm_span(laminar, session_id), "anthropic", ANTHROPIC_MODEL, question)


def test_a_conversation_session_adds_up_tokens_and_cost(
    laminar: LaminaServer, openai_client: openai.OpenAI, new_id: Callable[[str], str]
) -> None:
    conversation_id = new_id("conversation")
    history: list[dict[str, str]] = []

    @observe(session_id=conversation_id)
    def handle_turn(user_message: str) -> str:
        history.append({"role": "user", "content": user_message})
        completion = openai_client.chat.completions.create(
            model=OPENAI_MODEL,
            messages=history,  # type: ignore[arg-type]
        )
        reply = completion.choices[0].message.content or ""
        history.append({"role": "assistant", "content": reply})
        return reply

    for message in ["hi", "how are you", "bye now"]:
        handle_turn(message)

    result = session(laminar, conversation_id)
    assert result["trace_count"] == 3
    llm = [
        span
        for t in result["traces"]
        for span in trace(laminar, t["trace_id"])["spans"]
        if span["span_type"] == "LLM"
    ]
    assert len(llm) == 3
    assert result["input_tokens"] == sum(s["input_tokens"] for s in llm)
    assert result["output_tokens"] == sum(s["output_tokens"] for s in llm)
    assert result["cost"] == pytest.approx(
        _cost(result["input_tokens"], result["output_tokens"], GPT_4O_MINI)
    )
    # the last call carried the whole history
    assert json.loads(llm[-1]["input"])[0]["parts"][0]["content"] == "hi"


def test_instrument_modules_limits_what_is_instrumented(
    server: LaminaServer, openai_client: openai.OpenAI, new_id: Callable[[str], str]
) -> None:
    Laminar.initialize(
        project_api_key=server.api_key, base_url=server.url, instrument_modules={"anthropic"}
    )
    try:
        session_id = new_id("only-anthropic")

        @observe(session_id=session_id)
        def turn() -> None:
            openai_client.chat.completions.create(
                model=OPENAI_MODEL, messages=[{"role": "user", "content": "hi"}]
            )

        turn()
        assert session(server, session_id)["span_count"] == 1  # no openai.chat span
    finally:
        Laminar.shutdown()
