"""What a judge is asked to do: which endpoint and model, the prompt, the score it gives.

An evaluator's ``llm`` settings arrive here already checked and with the API key
resolved (read from the evaluator's stored secret or its named environment
variable by the evaluation package); this package never reads the environment,
so a server's own ``OPENAI_API_KEY`` is never sent to an endpoint by accident.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

ScoreType = Literal["numeric", "boolean", "categorical"]

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MAX_RETRIES = 2
DEFAULT_TRANSCRIPT_TOKENS = 20_000


@dataclass(frozen=True, slots=True)
class ScoreSpec:
    """The score a judge gives, as the evaluator's ``llm.score`` defines it: a number
    within ``min`` and ``max``, true or false, or one of the ``categories`` (labels)."""

    name: str
    type: ScoreType = "numeric"
    min: float | None = None
    max: float | None = None
    categories: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LlmConfig:
    """One judge: an OpenAI-compatible endpoint, a model, a prompt and its score.

    ``api_key`` is the key itself, resolved by the runner (None for servers that need
    none, such as a local Ollama); it is left out of ``repr`` so it never reaches a
    log line.
    """

    base_url: str
    model: str
    api_key: str | None = field(repr=False)
    prompt: str
    score: ScoreSpec
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_retries: int = DEFAULT_MAX_RETRIES  # after the first attempt, on 429, 5xx, timeouts
    transcript_tokens: int = DEFAULT_TRANSCRIPT_TOKENS  # the {{transcript}} budget
    temperature: float | None = 0.0  # None: not sent


def llm_config(llm: Mapping[str, Any], api_key: str | None) -> LlmConfig:
    """The config of an evaluator's ``llm`` object as the API takes it (``base_url``,
    ``model``, ``prompt``, ``score``: ``name``, ``type``, ``min``, ``max``,
    ``categories``), already validated, with its key resolved."""
    score = llm["score"]
    spec = ScoreSpec(
        name=score["name"],
        type=score.get("type", "numeric"),
        min=score.get("min"),
        max=score.get("max"),
        categories=tuple(score.get("categories") or ()),
    )
    return LlmConfig(llm["base_url"], llm["model"], api_key, llm["prompt"], spec)


class JudgeError(Exception):
    """A judge call that gave no verdict; ``message`` says why, for a person to act on.

    ``retryable``: the same call may succeed later (rate limits, server errors,
    timeouts, an unreachable endpoint); ``retry_after_s`` is how long the endpoint
    asked us to wait, when it said. A judge whose answer could not be used even after
    the repair retry, or an endpoint that refuses the request (a wrong key, an unknown
    model, a prompt that cannot be filled), is not retryable: the evaluator needs
    fixing. ``raw`` is the judge's last answer, if any; ``prompt`` the filled prompt;
    the token and call counts are what the failed attempt consumed.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        retry_after_s: float | None = None,
        raw: str | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
        calls: int = 0,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after_s = retry_after_s
        self.raw = raw
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.calls = calls  # HTTP requests made (for the evaluator's daily budget)
        self.prompt: str | None = None  # the filled prompt, set by judge()
