"""An evaluator's prompt: its variables filled once, an unknown one refused with a reason."""

from __future__ import annotations

import pytest

from lamina.errors import BadRequest
from lamina.judging import VARIABLES, render_prompt, transcript_of, validate_prompt
from lamina.judging.transcript import Transcript, Turn
from tests.judge.conftest import Target

TRANSCRIPT = Transcript(
    (
        Turn(1, "a" * 32, None, "Hi, {{metadata}} please", "Hello."),
        Turn(2, "b" * 32, None, "Bye.", "Goodbye!"),
    ),
    "s-1",
    {"plan": "pro", "channel": "web"},
)


def test_each_variable_is_filled_spaces_inside_the_braces_allowed() -> None:
    prompt = "First: {{first_input}}\nLast: {{ last_output }}\nMeta: {{metadata}}\n{{transcript}}"

    text = render_prompt(prompt, TRANSCRIPT, 1_000)

    assert text == (
        "First: Hi, {{metadata}} please\n"  # a value is never filled again
        "Last: Goodbye!\n"
        'Meta: {"channel":"web","plan":"pro"}\n'
        "## Turn 1\nUser: Hi, {{metadata}} please\nAssistant: Hello.\n\n"
        "## Turn 2\nUser: Bye.\nAssistant: Goodbye!"
    )


def test_an_unknown_variable_is_refused_naming_it_and_the_known_ones() -> None:
    with pytest.raises(BadRequest) as raised:
        validate_prompt("Judge {{transcript}} for {{ user_name }} and {{tone}}.")
    message = raised.value.message
    assert "{{user_name}}, {{tone}}, which are not variables" in message
    for name in VARIABLES:
        assert "{{" + name + "}}" in message


def test_a_prompt_without_a_variable_is_refused_saying_where_the_conversation_goes() -> None:
    with pytest.raises(BadRequest, match=r"put \{\{transcript\}\}"):
        validate_prompt("Was the assistant helpful? {transcript}")


@pytest.mark.parametrize("prompt", ["", "   ", None, 42])
def test_an_empty_prompt_is_refused(prompt: object) -> None:
    with pytest.raises(BadRequest, match="The prompt must be a text"):
        validate_prompt(prompt)


def test_a_valid_prompt_is_returned_as_given() -> None:
    assert validate_prompt("Rate {{transcript}}") == "Rate {{transcript}}"


def test_first_input_and_last_output_are_cut_to_a_quarter_of_the_budget() -> None:
    long = Transcript((Turn(1, "a" * 32, None, "q" * 10_000, "r" * 10_000),))
    text = render_prompt("{{first_input}}|{{last_output}}", long, 500)
    first, last = text.split("|")
    assert len(first) <= 500 and len(last) <= 500
    assert "characters left out" in first and "characters left out" in last


def test_metadata_given_as_json_text_is_read() -> None:
    trace = {"trace_id": "c" * 32, "metadata": '{"channel": "web"}', "input_preview": "Hi"}
    transcript = transcript_of(Target("trace", None, [trace]))
    assert render_prompt("{{metadata}} {{first_input}}", transcript, 100) == '{"channel":"web"} Hi'
