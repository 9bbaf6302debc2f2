"""The judge through the real ``openai`` client against a fake OpenAI-compatible server on a
real port: structured output, the fallback for servers without it, one repair, retries."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from lamina.judging import JudgeError, LlmConfig, ScoreSpec, Verdict, judge, llm_config
from lamina.pricing import PriceTable
from lamina.store.duckdb.store import DuckDBStore
from tests.fakes.llm import FakeLLM, Reply, judgement
from tests.judge.conftest import Target, session_target, turn
from tests.store.writing import write

HELPFULNESS = ScoreSpec("helpfulness", "numeric", min=0, max=1)
RESOLUTION = ScoreSpec("resolution", "categorical", categories=("solved", "unsolved"))
PROMPT = "Was the assistant helpful?\n{{transcript}}"
SECRET = "sk-test-secret-0123456789"


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Target:
    """A session of three turns, read from a real store (the rows outlive it)."""
    store = DuckDBStore(tmp_path_factory.mktemp("judge") / "data")
    try:
        turns = [turn("s-j", n, f"question {n}", f"answer {n}") for n in range(1, 4)]
        write(store, [s for t in turns for s in t])
        return session_target(store, "s-j")
    finally:
        store.close()


def config(fake: FakeLLM, **changes: Any) -> LlmConfig:
    llm = LlmConfig(fake.openai_base_url, "gpt-4o-mini", SECRET, PROMPT, HELPFULNESS)
    return replace(llm, **changes)


class Waits:
    """Records the waits between retries instead of sleeping them."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


def test_a_structured_answer_becomes_a_verdict_on_the_cited_turn(
    fake: FakeLLM, target: Target
) -> None:
    fake.script(judgement(score=0.25, reasoning="Turn 2 dodged the question.", turn=2))

    verdict = judge(config(fake), target)

    (request,) = fake.chat_requests()
    assert request["model"] == "gpt-4o-mini" and request["stream"] is False
    schema = request["response_format"]["json_schema"]
    assert request["response_format"]["type"] == "json_schema" and schema["strict"] is True
    assert schema["schema"]["required"] == ["reasoning", "score", "label", "turn"]
    system, user = request["messages"]
    assert system["role"] == "system" and '"turn"' in system["content"]
    assert user == {"role": "user", "content": verdict.prompt}
    assert "## Turn 3" in verdict.prompt and "User: question 2" in verdict.prompt
    assert (verdict.score, verdict.label, verdict.turn) == (0.25, None, 2)
    assert verdict.reasoning == "Turn 2 dodged the question."
    assert verdict.trace_id == target.traces[1]["trace_id"]
    assert verdict.structured and verdict.calls == 1
    assert verdict.raw == json.loads(json.dumps(verdict.raw))  # the answer as given
    assert verdict.input_tokens > 0 and verdict.output_tokens > 0
    assert verdict.cost == PriceTable.load().cost(
        "gpt-4o-mini", None, verdict.input_tokens, verdict.output_tokens
    )
    assert verdict.latency_ms > 0
    assert fake.requests[0].headers["authorization"] == f"Bearer {SECRET}"


def test_a_categorical_judgement_gives_a_label_spelled_as_its_config(
    fake: FakeLLM, target: Target
) -> None:
    fake.script(judgement(label="Solved", turn=None))

    verdict = judge(config(fake, score=RESOLUTION), target)

    schema = fake.chat_requests()[0]["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["label"]["enum"] == ["solved", "unsolved"]
    assert (verdict.score, verdict.label, verdict.turn, verdict.trace_id) == (
        None,
        "solved",
        None,
        None,
    )


def test_a_malformed_answer_is_sent_back_once_and_the_repaired_one_is_used(
    fake: FakeLLM, target: Target
) -> None:
    fake.script(Reply(content="I think it was quite helpful, maybe 0.8?"), judgement(score=0.8))

    verdict = judge(config(fake), target)

    first, second = fake.chat_requests()
    assert second["messages"][:2] == first["messages"]
    assert second["messages"][2] == {
        "role": "assistant",
        "content": "I think it was quite helpful, maybe 0.8?",
    }
    repair = second["messages"][3]
    assert repair["role"] == "user" and "not valid JSON" in repair["content"]
    assert verdict.score == 0.8 and verdict.calls == 2


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (judgement(score=3.0), '"score" is 3; it must be a number at least 0, at most 1'),
        (judgement(score=0.5, turn=9), '"turn" must be a turn\'s number, from 1 to 3'),
        (Reply(content='{"score": 0.5}'), "the keys reasoning, label, turn are missing"),
        (Reply(content="[0.5]"), "it must be one JSON object"),
    ],
)
def test_an_answer_outside_its_config_is_repaired_with_the_reason(
    fake: FakeLLM, target: Target, bad: Reply, reason: str
) -> None:
    fake.script(bad, judgement(score=0.5, turn=1))

    verdict = judge(config(fake), target)

    assert reason in fake.chat_requests()[1]["messages"][3]["content"]
    assert (verdict.score, verdict.turn) == (0.5, 1)


def test_a_second_bad_answer_is_an_error_to_fix_not_to_retry(fake: FakeLLM, target: Target) -> None:
    fake.script(Reply(content="no"), Reply(content="still no"))

    with pytest.raises(JudgeError) as raised:
        judge(config(fake), target)

    error = raised.value
    assert not error.retryable
    assert error.message.startswith("The judge did not answer in the JSON asked for")
    assert error.raw == "still no"
    assert error.input_tokens > 0 and error.prompt is not None
    assert len(fake.chat_requests()) == 2 == error.calls


def test_a_server_without_structured_output_is_asked_in_words_from_then_on(
    fake: FakeLLM, target: Target
) -> None:
    fake.reject_response_format = True
    fenced = (
        "```json\n"
        + json.dumps({"reasoning": "Fine.", "score": 1, "label": None, "turn": 3})
        + "\n```"
    )
    fake.script(Reply(content=fenced), judgement(score=0.5))
    llm = config(fake, model="local-model")

    verdict = judge(llm, target)
    again = judge(llm, target)

    refused, asked, second = fake.chat_requests()
    assert "response_format" in refused
    assert "response_format" not in asked and "response_format" not in second
    assert "JSON object only" in asked["messages"][0]["content"]
    assert (verdict.score, verdict.turn, verdict.structured, verdict.calls) == (1.0, 3, False, 2)
    assert (again.score, again.structured, again.calls) == (0.5, False, 1)


def test_a_refused_temperature_is_dropped(fake: FakeLLM, target: Target) -> None:
    refusal = "Unsupported value: 'temperature' does not support 0 with this model."
    fake.script(Reply(status=400, error=refusal), judgement(score=0.5))

    verdict = judge(config(fake, model="reasoning-model"), target)

    refused, asked = fake.chat_requests()
    assert refused["temperature"] == 0.0 and "temperature" not in asked
    assert "response_format" in asked and verdict.score == 0.5


def test_a_429_is_retried_after_the_wait_the_server_asks_for(fake: FakeLLM, target: Target) -> None:
    fake.script(
        Reply(status=429, error="Rate limit reached.", headers={"retry-after": "1"}),
        Reply(status=503, error="Overloaded.", headers={"retry-after-ms": "250"}),
        judgement(score=0.5),
    )
    waits = Waits()

    verdict = judge(config(fake), target, sleep=waits)

    assert waits.seconds == [1.0, 0.25]
    assert verdict.score == 0.5 and verdict.calls == 3


def test_a_429_is_retried_in_real_time(fake: FakeLLM, target: Target) -> None:
    fake.script(Reply(status=429, error="Slow down.", headers={"retry-after": "0"}))
    fake.script(judgement(score=0.5))

    verdict = judge(config(fake), target)

    assert verdict.score == 0.5 and len(fake.chat_requests()) == 2


def test_a_long_retry_after_ends_the_call_with_the_wait_for_the_queue(
    fake: FakeLLM, target: Target
) -> None:
    fake.always = Reply(status=429, error="Quota exceeded.", headers={"retry-after": "120"})
    waits = Waits()

    with pytest.raises(JudgeError) as raised:
        judge(config(fake), target, sleep=waits)

    assert raised.value.retryable and raised.value.retry_after_s == 120
    assert "It asked to wait 120 s" in raised.value.message
    assert waits.seconds == [] and len(fake.chat_requests()) == 1


def test_an_endpoint_that_keeps_failing_is_a_retryable_error_after_bounded_retries(
    fake: FakeLLM, target: Target
) -> None:
    fake.always = Reply(status=500, error="The engine is down.")
    waits = Waits()

    with pytest.raises(JudgeError) as raised:
        judge(config(fake, max_retries=2), target, sleep=waits)

    error = raised.value
    assert error.retryable and error.retry_after_s is None
    assert error.message == (
        "The judge's endpoint answered 500: The engine is down. (tried 3 times)"
    )
    assert len(fake.chat_requests()) == 3 == error.calls
    assert len(waits.seconds) == 2
    assert 0.375 <= waits.seconds[0] <= 0.5 and 0.75 <= waits.seconds[1] <= 1.0


def test_a_timeout_is_retryable(fake: FakeLLM, target: Target) -> None:
    fake.script(Reply(delay_s=1.0, content="late"))

    with pytest.raises(JudgeError) as raised:
        judge(config(fake, timeout_s=0.3, max_retries=0), target)

    assert raised.value.retryable
    assert raised.value.message == "The judge's endpoint did not answer within 0.3 s."


def test_an_unreachable_endpoint_is_retryable(target: Target) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    llm = LlmConfig(f"http://127.0.0.1:{port}/v1", "m", None, PROMPT, HELPFULNESS, max_retries=0)

    with pytest.raises(JudgeError) as raised:
        judge(llm, target)

    assert raised.value.retryable
    expected = f"Could not reach the judge's endpoint at {llm.base_url}: "
    assert raised.value.message.startswith(expected)


def test_a_refused_key_is_an_error_to_fix_that_never_shows_the_key(
    fake: FakeLLM, target: Target
) -> None:
    fake.always = Reply(status=401, error="Incorrect API key provided.")
    llm = config(fake)

    with pytest.raises(JudgeError) as raised:
        judge(llm, target)

    assert not raised.value.retryable
    assert raised.value.message == (
        "The judge's endpoint refused the API key (401: Incorrect API key provided.)."
    )
    assert len(fake.chat_requests()) == 1
    assert SECRET not in repr(llm) and SECRET not in str(raised.value)


def test_an_endpoint_without_a_key_is_never_sent_the_servers_own(
    fake: FakeLLM, target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-the-servers-own")
    fake.script(judgement(score=1))

    verdict: Verdict = judge(config(fake, api_key=None), target)

    assert verdict.score == 1.0
    assert fake.requests[0].headers["authorization"] == "Bearer no-key"


def test_a_prompt_that_cannot_be_filled_is_a_run_error_and_calls_nothing(
    fake: FakeLLM, target: Target
) -> None:
    with pytest.raises(JudgeError) as raised:
        judge(config(fake, prompt="Rate {{transcript}} for {{customer}}."), target)

    assert not raised.value.retryable
    assert raised.value.message.startswith("The prompt uses {{customer}}, which is not a variable")
    assert fake.chat_requests() == []


def test_an_evaluators_llm_object_becomes_its_config(fake: FakeLLM, target: Target) -> None:
    given = {
        "base_url": fake.openai_base_url,
        "model": "gpt-4o-mini",
        "api_key_env": "OPENAI_API_KEY",
        "prompt": "Did it end well? {{last_output}}",
        "score": {"name": "resolution", "type": "categorical", "categories": ["solved", "no"]},
    }
    llm = llm_config(given, api_key=None)
    assert llm.score == ScoreSpec("resolution", "categorical", None, None, ("solved", "no"))
    fake.script(judgement(label="no", turn=3))

    verdict = judge(llm, target)

    assert (verdict.label, verdict.trace_id) == ("no", target.traces[2]["trace_id"])
    assert fake.chat_requests()[0]["messages"][1]["content"] == "Did it end well? answer 3"


def test_the_field_a_score_type_does_not_use_is_ignored(fake: FakeLLM, target: Target) -> None:
    fake.script(judgement(score=0.5, label="great"), judgement(score=0.9, label="solved"))

    numeric = judge(config(fake), target)
    categorical = judge(config(fake, score=RESOLUTION), target)

    assert (numeric.score, numeric.label) == (0.5, None)
    assert (categorical.score, categorical.label) == (None, "solved")
    first, second = (r["response_format"]["json_schema"]["schema"] for r in fake.chat_requests())
    assert first["properties"]["score"]["type"] == "number"
    assert first["properties"]["label"]["type"] == ["string", "null"]
    assert second["properties"]["score"]["type"] == ["number", "null"]


def test_a_boolean_judgement_is_1_or_0(fake: FakeLLM, target: Target) -> None:
    escalated = ScoreSpec("escalated", "boolean")
    fake.script(
        judgement(score=True),
        judgement(score=0),
        Reply(content='{"reasoning": "x", "score": "yes", "label": null, "turn": null}'),
        judgement(score=False),
    )

    answers = [judge(config(fake, score=escalated), target) for _ in range(3)]

    assert [a.score for a in answers] == [1.0, 0.0, 0.0]
    assert '"score" must be true or false' in fake.chat_requests()[3]["messages"][3]["content"]
