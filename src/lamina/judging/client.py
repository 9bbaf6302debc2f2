"""One chat completion through the ``openai`` client library, retried when it may succeed.

The client's own retries are off (``max_retries=0``): this loop retries instead, so that
a ``Retry-After`` longer than :data:`MAX_WAIT_S` is not slept through while holding one
of the server's few judge slots (the client would wait up to a minute, then ignore the
header) but ends the call with a retryable :class:`JudgeError` carrying the wait, which
the evaluation queue honours; and so that a retry is counted. Retried: 408, 409, 429,
5xx, timeouts and connection failures, at most ``llm.max_retries`` times, after the
server's ``Retry-After`` or a backoff of 0.5 s doubling to 8 s with jitter.

A request the server refuses for an optional parameter we sent (``response_format``,
which many compatible servers do not know; ``temperature``, which reasoning models
refuse) is sent again without it: :class:`Rejected` says which.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lamina.judging.config import JudgeError, LlmConfig

if TYPE_CHECKING:  # imported when a judge first runs: it takes 0.7 s, on every server start
    import httpx2
    import openai
    from openai.types.chat import ChatCompletionMessageParam

MAX_WAIT_S = 30.0  # the longest Retry-After slept through; longer ends the call
BACKOFF_S = 0.5
MAX_BACKOFF_S = 8.0
_RETRIED_STATUSES = frozenset({408, 409, 429})
_MESSAGE_CHARS = 300
# the optional parameters, and words of a refusal that name each
OPTIONAL_PARAMETERS = {
    "response_format": ("response_format", "json_schema", "structured output"),
    "temperature": ("temperature",),
}

NO_KEY = "no-key"

# A client for a judge call, closed (or kept for the next) when the call is done.
ClientFactory = Callable[[LlmConfig], AbstractContextManager["openai.OpenAI"]]


def new_client(llm: LlmConfig, http_client: httpx2.Client | None = None) -> openai.OpenAI:
    """A client for ``llm``'s endpoint with its own retries off (this module retries),
    over ``http_client`` (None: the client's own).

    An endpoint without a key (a local Ollama, vLLM) is sent the placeholder
    :data:`NO_KEY`, as their documentation suggests: the client would otherwise read
    ``OPENAI_API_KEY`` from the server's environment and send it to that endpoint."""
    import openai

    return openai.OpenAI(
        base_url=llm.base_url,
        api_key=llm.api_key or NO_KEY,
        timeout=llm.timeout_s,
        max_retries=0,
        http_client=http_client,
    )


@dataclass(frozen=True, slots=True)
class Completion:
    text: str | None
    refusal: str | None
    finish_reason: str | None
    input_tokens: int
    output_tokens: int
    calls: int  # HTTP requests made, retries included


class Rejected(Exception):
    """The server refused the request because of an optional parameter we sent."""

    def __init__(self, parameter: str, calls: int) -> None:
        super().__init__(parameter)
        self.parameter = parameter
        self.calls = calls


def complete(
    client: openai.OpenAI,
    llm: LlmConfig,
    messages: Sequence[ChatCompletionMessageParam],
    optional: dict[str, Any],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Completion:
    """One chat completion of ``messages``, with ``optional`` parameters (see
    :data:`OPTIONAL_PARAMETERS`); retried as the module says."""
    import openai

    for attempt in range(llm.max_retries + 1):
        calls = attempt + 1
        try:
            response = client.chat.completions.create(
                model=llm.model, messages=list(messages), stream=False, **optional
            )
        except openai.APIStatusError as exc:
            status, said = exc.status_code, _server_message(exc)
            if status in (400, 422):
                named = _named_parameter(said, optional)
                if named is not None:
                    raise Rejected(named, calls) from None
            if status not in _RETRIED_STATUSES and status < 500:
                message = _refused(llm, status, said)
                raise JudgeError(message, retryable=False, calls=calls) from None
            wait = _retry_after(exc.response.headers)
            reason = f"The judge's endpoint answered {status}: {said}"
        except openai.APITimeoutError:
            wait, reason = None, f"The judge's endpoint did not answer within {llm.timeout_s:g} s."
        except openai.APIConnectionError as exc:
            wait = None
            reason = f"Could not reach the judge's endpoint at {llm.base_url}: {_cause(exc)}"
        except openai.APIError as exc:  # an answer the client could not read
            raise JudgeError(
                f"The judge's endpoint gave an answer that is not a chat completion: {exc}",
                retryable=True,
                calls=calls,
            ) from None
        else:
            return _completion(response, calls)
        if wait is not None and wait > MAX_WAIT_S:
            raise JudgeError(
                f"{reason} It asked to wait {wait:g} s before trying again.",
                retryable=True,
                retry_after_s=wait,
                calls=calls,
            )
        if attempt < llm.max_retries:
            sleep(wait if wait is not None else _backoff(attempt))
    tries = f" (tried {llm.max_retries + 1} times)" if llm.max_retries else ""
    raise JudgeError(reason + tries, retryable=True, retry_after_s=wait, calls=llm.max_retries + 1)


def _completion(response: Any, calls: int) -> Completion:
    choice = response.choices[0] if response.choices else None
    message = choice.message if choice is not None else None
    usage = response.usage
    return Completion(
        text=message.content if message is not None else None,
        refusal=getattr(message, "refusal", None) if message is not None else None,
        finish_reason=choice.finish_reason if choice is not None else None,
        input_tokens=(usage.prompt_tokens or 0) if usage is not None else 0,
        output_tokens=(usage.completion_tokens or 0) if usage is not None else 0,
        calls=calls,
    )


def _named_parameter(said: str, optional: dict[str, Any]) -> str | None:
    """Which optional parameter we sent a refusal names, if any."""
    said = said.lower()
    for parameter in optional:
        if any(word in said for word in OPTIONAL_PARAMETERS.get(parameter, (parameter,))):
            return parameter
    return None


def _refused(llm: LlmConfig, status: int, said: str) -> str:
    what = {
        401: "refused the API key",
        403: "does not allow this key to use the model",
        404: f"has no model {llm.model!r} (or {llm.base_url} is not its API's address)",
    }.get(status, "refused the request")
    return f"The judge's endpoint {what} ({status}: {said})."


def _server_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        said = inner.get("message") if isinstance(inner, dict) else inner
        if said:
            return str(said)[:_MESSAGE_CHARS]
    return (exc.response.text or exc.message)[:_MESSAGE_CHARS]


def _cause(exc: Exception) -> str:
    cause = exc.__cause__ or exc.__context__
    return str(cause or exc)[:_MESSAGE_CHARS] or type(exc).__name__


def _retry_after(headers: Any) -> float | None:
    """The server's requested wait in seconds (``retry-after-ms``, ``retry-after`` as
    seconds or as an HTTP date), or None."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(float(millis) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(moment.timestamp() - time.time(), 0.0)


def _backoff(attempt: int) -> float:
    return min(MAX_BACKOFF_S, BACKOFF_S * 2.0**attempt) * random.uniform(0.75, 1.0)
