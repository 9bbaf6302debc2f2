"""An evaluator's prompt: a text with ``{{variables}}`` filled from the transcript.

The variables (:data:`VARIABLES`) are the whole conversation, the first thing the user
said, the last answer, and the conversation's metadata as JSON. A name inside double
braces that is not one of them is an error :func:`validate_prompt` explains, so a typo
is found when the evaluator is saved, not when its first run reads nonsense. Values are
put in one pass: a transcript that contains ``{{metadata}}`` is not filled again.
"""

from __future__ import annotations

import re

import orjson

from lamina.errors import BadRequest
from lamina.judging.transcript import CHARS_PER_TOKEN, Transcript, cut_middle, render

VARIABLES = {
    "transcript": "the whole conversation, turn by turn (numbered from 1)",
    "first_input": "what the user said first",
    "last_output": "the last answer the application gave",
    "metadata": "the conversation's metadata, as JSON",
}
MAX_PROMPT_CHARS = 100_000
_VARIABLE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


def variables_in(prompt: str) -> list[str]:
    """The variable names ``prompt`` uses, in order of first use."""
    return list(dict.fromkeys(match.group(1) for match in _VARIABLE.finditer(prompt)))


def validate_prompt(prompt: object) -> str:
    """``prompt`` if it can be used, else :class:`~lamina.errors.BadRequest` saying why."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise BadRequest("The prompt must be a text that tells the judge what to look for.")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise BadRequest(
            f"The prompt is {len(prompt):,} characters long; at most {MAX_PROMPT_CHARS:,}."
        )
    known = ", ".join("{{" + name + "}}" for name in VARIABLES)
    used = variables_in(prompt)
    unknown = [name for name in used if name not in VARIABLES]
    if unknown:
        names = ", ".join("{{" + name + "}}" for name in unknown)
        what = "which is not a variable" if len(unknown) == 1 else "which are not variables"
        raise BadRequest(f"The prompt uses {names}, {what}; the variables are {known}.")
    if not used:
        raise BadRequest(
            "The prompt never shows the judge the conversation: put {{transcript}} (or "
            f"another variable, in double braces) where it should go. Variables: {known}."
        )
    return prompt


def render_prompt(prompt: str, transcript: Transcript, transcript_tokens: int) -> str:
    """``prompt`` with its variables filled; ``{{transcript}}`` within ``transcript_tokens``."""
    validate_prompt(prompt)
    field_chars = max(transcript_tokens, 1) * CHARS_PER_TOKEN // 4  # a quarter of the budget
    values = {
        "first_input": lambda: cut_middle(transcript.first_input, field_chars),
        "last_output": lambda: cut_middle(transcript.last_output, field_chars),
        "metadata": lambda: orjson.dumps(
            dict(transcript.metadata), option=orjson.OPT_SORT_KEYS, default=str
        ).decode(),
        "transcript": lambda: render(transcript, transcript_tokens),
    }
    return _VARIABLE.sub(lambda match: values[match.group(1)](), prompt)
