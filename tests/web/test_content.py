"""Payloads as the pages and previews read them: the common chat shapes, JSON, text."""

from __future__ import annotations

import json

from lamina.spans.payload import as_messages, read_payload, replied, said


def test_openai_messages_with_tool_calls() -> None:
    payload = read_payload(
        json.dumps(
            [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Weather in Oslo?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "4 °C, rain"},
            ]
        )
    )
    assert payload.kind == "chat"
    system, user, assistant, tool = payload.messages
    assert (system.role_class, user.text) == ("system", "Weather in Oslo?")
    assert assistant.text is None
    assert assistant.tool_calls[0].name == "weather"
    assert assistant.tool_calls[0].arguments == {"city": "Oslo"}
    assert (tool.role_class, tool.name, tool.text) == ("tool", "call_1", "4 °C, rain")
    said_message = said(payload)
    assert said_message is not None and said_message.text == "Weather in Oslo?"


def test_anthropic_blocks_and_opentelemetry_parts() -> None:
    anthropic = as_messages(
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "t1", "name": "search", "input": {"q": "refunds"}},
            ],
        }
    )
    assert anthropic is not None
    assert anthropic[0].text == "Let me look."
    assert anthropic[0].tool_calls[0].arguments == {"q": "refunds"}

    otel = as_messages([{"role": "user", "parts": [{"type": "text", "content": "hi"}]}])
    assert otel is not None and otel[0].text == "hi"

    response = as_messages({"choices": [{"message": {"role": "assistant", "content": "ok"}}]})
    assert response is not None and response[0].text == "ok"
    assert as_messages({"messages": [{"role": "user", "content": "x"}]}) is not None
    assert as_messages([{"no": "role"}]) is None
    assert as_messages({"role": "admin"}) is None  # a role alone is not a message


def test_json_text_and_turn_words() -> None:
    assert read_payload(None).kind == "none"
    assert read_payload("plain <b>text</b>").text == "plain <b>text</b>"
    assert read_payload('"a JSON string"').text == "a JSON string"
    double = read_payload(json.dumps(json.dumps({"a": 1})))
    assert double.kind == "json" and double.value == {"a": 1}
    assert read_payload("{not json").kind == "text"

    question = said(read_payload('{"user_message": "Where is my order?", "lang": "en"}'))
    assert question is not None and (question.role, question.text) == ("user", "Where is my order?")
    data = said(read_payload('{"items": 3}'))
    assert data is not None and (data.role, data.data) == ("input", {"items": 3})
    answer = replied(read_payload('{"answer": "Tomorrow.", "confidence": 0.9}'))
    assert answer is not None and (answer.role, answer.text) == ("assistant", "Tomorrow.")
    last = replied(read_payload('[{"role": "assistant", "content": "Done."}]'))
    assert last is not None and last.text == "Done."
