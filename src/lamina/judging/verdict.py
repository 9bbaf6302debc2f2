"""A judge's verdict on a transcript: the one call the evaluation runner makes.

:func:`judge` fills the evaluator's prompt, asks the model through the ``openai``
client (one system message saying what to answer, one user message: the prompt), and
reads the answer strictly. Structured output (a JSON schema) is asked for first; an
endpoint that refuses it is remembered for this process and asked in words from then
on. An answer that cannot be used is sent back once with the reason; a second bad
answer ends the call with a :class:`JudgeError` that is not retryable (the prompt or
the model needs changing, not a later try).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from lamina.errors import BadRequest
from lamina.judging.answer import (
    Answer,
    BadAnswer,
    instructions,
    parse_answer,
    repair_request,
    response_format,
)
from lamina.judging.client import ClientFactory, Completion, Rejected, complete, new_client
from lamina.judging.config import JudgeError, LlmConfig
from lamina.judging.prompt import render_prompt
from lamina.judging.transcript import Target, transcript_of
from lamina.pricing import PriceTable

if TYPE_CHECKING:
    import openai
    from openai.types.chat import ChatCompletionMessageParam

_REMEMBERED_ENDPOINTS = 1_000
# (base_url, model) -> the optional parameters it refused, for this process
_refused: dict[tuple[str, str], set[str]] = {}


@dataclass(frozen=True, slots=True)
class Verdict:
    """A judgement: ``score`` (numeric; boolean 1 or 0) or ``label`` (categorical),
    ``turn`` the turn it rests on, numbered from 1 as the transcript shows them (the
    position in the session's ``traces``), and ``trace_id`` that turn's trace: the one
    to write on the score. Then what the calls cost (tokens, USD when the model's price
    is known, wall time with retries) and what was said: the filled ``prompt`` and the
    judge's ``raw`` answer."""

    score: float | None
    label: str | None
    reasoning: str
    turn: int | None
    trace_id: str | None
    input_tokens: int
    output_tokens: int
    cost: float | None
    latency_ms: float
    raw: str
    prompt: str
    structured: bool  # the answer was asked for as a JSON schema
    calls: int  # HTTP requests made: retries, a refused schema and a repair included


def judge(
    llm: LlmConfig,
    target: Target,
    *,
    client_factory: ClientFactory = new_client,
    prices: PriceTable | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Verdict:
    """Ask ``llm`` to judge ``target``; a :class:`Verdict`, or :class:`JudgeError`.

    ``client_factory(llm)`` gives the ``openai.OpenAI`` of the call, in a context that
    closes it after the call (a new one, by default) or keeps it for the next.
    ``prices`` (default: the built-in table) prices the tokens. A prompt that cannot be
    filled is a JudgeError too, not retryable (``validate_prompt`` finds it when the
    evaluator is saved)."""
    transcript = transcript_of(target)
    try:
        prompt = render_prompt(llm.prompt, transcript, llm.transcript_tokens)
    except BadRequest as exc:  # saved before validate_prompt knew better: a run's error
        raise JudgeError(exc.message, retryable=False) from None
    call = _Call(llm, len(transcript.turns), sleep)
    started = time.monotonic()
    try:
        with client_factory(llm) as client:
            answer, raw = call.run(client, prompt)
    except JudgeError as exc:
        exc.input_tokens += call.input_tokens
        exc.output_tokens += call.output_tokens
        exc.calls += call.calls
        exc.prompt = prompt
        raise
    return Verdict(
        score=answer.score,
        label=answer.label,
        reasoning=answer.reasoning,
        turn=answer.turn,
        trace_id=transcript.trace_id(answer.turn),
        input_tokens=call.input_tokens,
        output_tokens=call.output_tokens,
        cost=(prices or _builtin_prices()).cost(
            llm.model, None, call.input_tokens, call.output_tokens
        ),
        latency_ms=round((time.monotonic() - started) * 1000, 3),
        raw=raw,
        prompt=prompt,
        structured="response_format" in call.optional,
        calls=call.calls,
    )


class _Call:
    """One verdict's requests: the tokens and requests they used, and the optional
    parameters still sent."""

    def __init__(self, llm: LlmConfig, turns: int, sleep: Callable[[float], None]) -> None:
        self.llm, self.turns, self.sleep = llm, turns, sleep
        self.endpoint = (llm.base_url, llm.model)
        refused = _refused.get(self.endpoint, set())
        self.optional: dict[str, Any] = {}
        if "response_format" not in refused:
            self.optional["response_format"] = response_format(llm.score, turns)
        if llm.temperature is not None and "temperature" not in refused:
            self.optional["temperature"] = llm.temperature
        self.input_tokens = self.output_tokens = self.calls = 0

    def run(self, client: openai.OpenAI, prompt: str) -> tuple[Answer, str]:
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": instructions(self.llm.score, self.turns)},
            {"role": "user", "content": prompt},
        ]
        raw = self.ask(client, messages)
        try:
            return parse_answer(raw, self.llm.score, self.turns), raw
        except BadAnswer as bad:
            messages.append({"role": "assistant", "content": raw})
            messages.append({"role": "user", "content": repair_request(bad.reason)})
        raw = self.ask(client, messages)
        try:
            return parse_answer(raw, self.llm.score, self.turns), raw
        except BadAnswer as bad:
            raise JudgeError(
                f"The judge did not answer in the JSON asked for, even when asked again: "
                f"{bad.reason}",
                retryable=False,
                raw=raw,
            ) from None

    def ask(self, client: openai.OpenAI, messages: list[ChatCompletionMessageParam]) -> str:
        """The text of one completion; an optional parameter the server refuses is dropped
        (and remembered for the endpoint) and the request sent again."""
        while True:
            try:
                completion = complete(client, self.llm, messages, self.optional, sleep=self.sleep)
            except Rejected as rejected:
                self.calls += rejected.calls
                self.optional.pop(rejected.parameter)
                _remember_refusal(self.endpoint, rejected.parameter)
                continue
            self._count(completion)
            if completion.text is None and completion.refusal:
                raise JudgeError(
                    f"The model refused to judge: {completion.refusal[:300]}",
                    retryable=False,
                    raw=completion.refusal,
                )
            return completion.text or ""

    def _count(self, completion: Completion) -> None:
        self.calls += completion.calls
        self.input_tokens += completion.input_tokens
        self.output_tokens += completion.output_tokens


def _remember_refusal(endpoint: tuple[str, str], parameter: str) -> None:
    if len(_refused) >= _REMEMBERED_ENDPOINTS and endpoint not in _refused:
        _refused.clear()
    _refused.setdefault(endpoint, set()).add(parameter)


@cache
def _builtin_prices() -> PriceTable:
    return PriceTable.load()
