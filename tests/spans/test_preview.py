"""A preview is the words a turn of the transcript shows, on one line.

The preview made at ingest takes the steps of ``said(read_payload(text))`` (and
``replied``) without building their objects; these tests hold the two to the same
answers, for the payloads people send and for generated ones.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lamina.spans.payload import read_payload, replied, said
from lamina.spans.preview import (
    error_text,
    input_preview,
    message_line,
    one_line,
    output_preview,
)


def test_a_function_of_two_arguments_previews_as_its_message() -> None:
    text = json.dumps({"user_message": "hello from alt", "conversation_id": "c-91"})
    assert input_preview(text) == "hello from alt"
    assert input_preview(json.dumps({"amount": 500})) == '{"amount":500}'  # data stays JSON
    assert output_preview(json.dumps({"answer": "Tomorrow.", "confidence": 0.9})) == "Tomorrow."
    chat = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": "Rain."},
    ]
    assert input_preview(json.dumps(chat)) == "Weather in Oslo?"  # the last user message
    assert output_preview(json.dumps(chat)) == "Rain."  # the last message


def test_an_error_reads_as_its_type_and_message() -> None:
    events = [
        {"name": "log", "attributes": {}},
        {
            "name": "exception",
            "attributes": {"exception.type": "ValueError", "exception.message": "card declined"},
        },
    ]
    assert error_text(events, "ignored") == "ValueError: card declined"
    assert error_text(json.dumps(events), None) == "ValueError: card declined"
    assert error_text("[]", "timeout talking to the bank") == "timeout talking to the bank"
    assert error_text("not json with exception in it", "") == "Error"


_TEXT = st.text(st.sampled_from("ab Z\n\t{}[]\"'é🙂 "), max_size=12)
_KEYS = st.sampled_from(
    ["user_message", "message", "question", "answer", "text", "content", "other", "id"]
)
_ROLES = st.sampled_from(["user", "assistant", "system", "tool", "Human", "model"])
_PART = st.one_of(
    _TEXT,
    st.fixed_dictionaries({"type": st.just("text"), "text": _TEXT}),
    st.fixed_dictionaries({"type": st.just("image_url")}),
    st.fixed_dictionaries(
        {"type": st.just("tool_use"), "name": _TEXT, "input": st.dictionaries(_KEYS, _TEXT)}
    ),
)
_MESSAGE = st.fixed_dictionaries(
    {"role": _ROLES},
    optional={
        "content": st.one_of(st.none(), _TEXT, st.lists(_PART, max_size=3)),
        "tool_calls": st.lists(
            st.fixed_dictionaries(
                {"function": st.fixed_dictionaries({"name": _TEXT, "arguments": _TEXT})}
            ),
            max_size=2,
        ),
    },
)
_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), _TEXT)
_VALUE: st.SearchStrategy[Any] = st.one_of(
    _SCALAR,
    st.lists(_MESSAGE, min_size=1, max_size=4),
    st.fixed_dictionaries({"messages": st.lists(_MESSAGE, min_size=1, max_size=3)}),
    st.dictionaries(_KEYS, st.one_of(_SCALAR, st.lists(_SCALAR, max_size=2)), max_size=3),
    st.lists(_SCALAR, max_size=3),
)
_PAYLOAD = st.one_of(
    _TEXT,  # as sent, JSON or not
    _VALUE.map(json.dumps),
    _VALUE.map(lambda value: json.dumps(json.dumps(value))),  # JSON in a JSON string
)


def _transcript_line(message: Any) -> str:
    return "" if message is None else one_line(message_line(message))


@settings(max_examples=400, deadline=None)
@given(_PAYLOAD)
def test_the_preview_is_the_transcripts_words_on_one_line(text: str) -> None:
    payload = read_payload(text)
    assert input_preview(text) == _transcript_line(said(payload))
    assert output_preview(text) == _transcript_line(replied(payload))
