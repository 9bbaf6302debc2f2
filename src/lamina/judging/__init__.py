"""LLM judges: a session or trace, read as a transcript, judged by a model.

Pure: no store, no web. The evaluation package reads the rows, calls these and
stores what they give::

    verdict = judge(llm, target)   # target: kind, session and traces, the store's rows
    # or JudgeError: .message for a person, .retryable, .retry_after_s, .raw

- :mod:`~lamina.judging.transcript`: a session's turns as the session page reads them,
  rendered within a token budget (cut from the middle, with a marker).
- :mod:`~lamina.judging.prompt`: ``{{transcript}}``, ``{{first_input}}``,
  ``{{last_output}}``, ``{{metadata}}``; :func:`validate_prompt` for the API.
- :mod:`~lamina.judging.answer`: the JSON the judge answers, and its strict reading.
- :mod:`~lamina.judging.client`: one chat completion through ``openai``, retried.
- :mod:`~lamina.judging.verdict`: :func:`judge`, the call the runner makes.
"""

from lamina.judging.config import JudgeError, LlmConfig, ScoreSpec, llm_config
from lamina.judging.prompt import VARIABLES, render_prompt, validate_prompt
from lamina.judging.transcript import Target, Transcript, Turn, transcript_of
from lamina.judging.verdict import Verdict, judge

__all__ = [
    "VARIABLES",
    "JudgeError",
    "LlmConfig",
    "ScoreSpec",
    "Target",
    "Transcript",
    "Turn",
    "Verdict",
    "judge",
    "llm_config",
    "render_prompt",
    "transcript_of",
    "validate_prompt",
]
