"""The examples of shared/seed/sessions.md, in Python, against a real server: the
sessions and traces the API returns are exactly the ones each example describes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from lamina import Laminar, observe
from tests.conftest import LaminaServer
from tests.sdk.support import session, trace, traces


def test_with_session_groups_sequential_calls_as_traces_of_one_session(
    laminar: LaminaServer, new_id: Callable[[str], str]
) -> None:
    # Multi-step workflows: "Start a session for a user's checkout process",
    # "Each step in the process is a separate trace".
    user_id = new_id("user")
    checkout = f"checkout-{user_id}"

    @observe()
    def validate_cart() -> bool:
        return True

    @observe()
    def process_payment() -> str:
        return "paid"

    @observe()
    def create_order() -> dict[str, str]:
        return {"order": "o-1"}

    with Laminar.with_session(session_id=checkout, user_id=user_id):
        validate_cart()
        process_payment()
        create_order()

    result = session(laminar, checkout)
    assert result["trace_count"] == 3
    assert result["span_count"] == 3
    assert result["user_ids"] == [user_id]
    assert [t["name"] for t in result["traces"]] == [
        "validate_cart",
        "process_payment",
        "create_order",
    ]
    assert len({t["trace_id"] for t in result["traces"]}) == 3
    assert all(t["session_id"] == checkout for t in result["traces"])
    assert result["last_output"] == "o-1"  # an object's only text, as the transcript shows


def test_observe_wrapper_with_name_and_session_id(
    laminar: LaminaServer, new_id: Callable[[str], str]
) -> None:
    # await observe({name: "myFunction", sessionId: "session123"}, async () => {...})
    session_id = new_id("session123")

    async def body() -> str:
        await asyncio.sleep(0)
        return "done"

    async def main() -> str:
        return await observe(name="myFunction", session_id=session_id).call(body)

    assert asyncio.run(main()) == "done"
    result = session(laminar, session_id)
    assert result["trace_count"] == 1
    assert [t["name"] for t in result["traces"]] == ["myFunction"]


def test_chatbot_each_turn_is_a_trace_of_the_conversation_session(
    laminar: LaminaServer, new_id: Callable[[str], str]
) -> None:
    conversation_id = new_id("conversation")
    turns = ["Hello", "What can you do?", "Thanks, bye"]

    # Each turn is a separate trace
    @observe(session_id=conversation_id)  # Setting session ID in the decorator is preferred
    def handle_turn(user_message: str) -> str:
        # Process message, call LLMs, etc.
        response = f"echo: {user_message}"
        return response

    replies = [handle_turn(message) for message in turns]

    assert replies == [f"echo: {m}" for m in turns]
    result = session(laminar, conversation_id)
    assert result["trace_count"] == len(turns)
    assert [t["name"] for t in result["traces"]] == ["handle_turn"] * len(turns)
    assert [t["input_preview"] for t in result["traces"]] == turns  # the user_message
    assert result["last_output"] == "echo: Thanks, bye"


def test_set_session_inside_a_span_puts_the_whole_trace_in_the_session(
    laminar: LaminaServer, new_id: Callable[[str], str]
) -> None:
    conversation_id = new_id("conversation")

    @observe()
    def call_llm(prompt: str) -> str:
        return prompt.upper()

    # Alternatively, with manual session management:
    @observe()
    def handle_turn_alt(user_message: str, conversation_id: str) -> str:
        Laminar.set_session(session_id=conversation_id)  # Must be within span context
        # Process message, call LLMs, etc.
        response = call_llm(user_message)
        return response

    handle_turn_alt("first", conversation_id)
    handle_turn_alt("second", conversation_id)

    result = session(laminar, conversation_id)
    assert result["trace_count"] == 2
    assert result["span_count"] == 4
    detail = trace(laminar, result["traces"][0]["trace_id"])
    assert {s["name"]: s["session_id"] for s in detail["spans"]} == {
        "handle_turn_alt": conversation_id,
        "call_llm": conversation_id,
    }


def test_with_session_wrapper_from_the_javascript_example(
    laminar: LaminaServer, new_id: Callable[[str], str]
) -> None:
    # Laminar.withSession({sessionId: "session123"}, () => { /* all spans ... */ })
    session_id = new_id("session123")

    @observe()
    def child() -> int:
        return 1

    @observe()
    def your_code() -> int:
        return child() + child()

    with Laminar.with_session(session_id=session_id):
        assert your_code() == 2

    result = session(laminar, session_id)
    assert result["trace_count"] == 1
    assert result["span_count"] == 3
    assert traces(laminar, session_id=session_id)[0]["name"] == "your_code"
