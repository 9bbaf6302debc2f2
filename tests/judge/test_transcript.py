"""A session read as the judge reads it: turns as the session page shows them, cut from
the middle to a budget with a marker saying what was left out."""

from __future__ import annotations

import json
import re

from lamina.judging import transcript_of
from lamina.judging.transcript import (
    CHARS_PER_TOKEN,
    MIN_BUDGET_TOKENS,
    ToolUse,
    Transcript,
    Turn,
    render,
)
from lamina.store.base import Store
from tests.judge.conftest import (
    BASE,
    PROJECT,
    SECOND,
    Target,
    exception_events,
    session_target,
    span,
    turn,
)
from tests.store.writing import write


def test_each_turn_shows_what_was_said_the_tools_the_answer_and_the_error(store: Store) -> None:
    first = turn("s-1", 1, "Where is my order 42?", "It ships tomorrow.", metadata={"plan": "pro"})
    root = first[0]
    tool = span(
        root.trace_id,
        "lookup_order",
        root.start_ns + 1,
        parent=root.span_id,
        span_type="TOOL",
        session_id="s-1",
        input=json.dumps({"order": 42}),
        output=json.dumps({"status": "packed"}),
    )
    failed = turn(
        "s-1",
        2,
        "Refund it then.",
        None,
        status="error",
        events=exception_events("PaymentError", "card declined"),
    )
    # A turn whose root recorded nothing: its words come from its LLM call's chat.
    llm_trace = "f" * 32
    chat = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Thanks!"}]
    answer = {"choices": [{"message": {"role": "assistant", "content": "You are welcome."}}]}
    llm_only = [
        span(llm_trace, "turn", BASE + 30 * SECOND, session_id="s-1", span_id="a" * 16),
        span(
            llm_trace,
            "chat gpt-4o-mini",
            BASE + 30 * SECOND + 1,
            parent="a" * 16,
            span_type="LLM",
            session_id="s-1",
            input=json.dumps(chat),
            output=json.dumps(answer),
        ),
    ]
    write(store, [*first, tool, *failed, *llm_only])

    transcript = transcript_of(session_target(store, "s-1"))

    assert [t.number for t in transcript.turns] == [1, 2, 3]
    assert transcript.session_id == "s-1"
    assert dict(transcript.metadata) == {"plan": "pro"}
    assert transcript.first_input == "Where is my order 42?"
    assert transcript.last_output == "You are welcome."
    assert transcript.trace_id(2) == failed[0].trace_id
    assert transcript.trace_id(4) is None
    text = render(transcript, 10_000)
    assert text == (
        "## Turn 1 (2026-01-01 00:00:10 UTC)\n"
        "User: Where is my order 42?\n"
        'Tool call: lookup_order({"order":42}) returned: {"status":"packed"}\n'
        "Assistant: It ships tomorrow.\n\n"
        "## Turn 2 (2026-01-01 00:00:20 UTC)\n"
        "User: Refund it then.\n"
        "Assistant: (no answer)\n"
        "Error: PaymentError: card declined\n\n"
        "## Turn 3 (2026-01-01 00:00:30 UTC)\n"
        "User: Thanks!\n"
        "Assistant: You are welcome."
    )


def test_a_turn_whose_trace_was_not_loaded_is_read_from_its_previews(store: Store) -> None:
    turns = [turn("s-2", n, f"question {n}", f"answer {n}") for n in range(1, 4)]
    write(store, [s for t in turns for s in t])
    loaded = [turns[0][0].trace_id, turns[2][0].trace_id]  # the middle one is not

    transcript = transcript_of(session_target(store, "s-2", load=loaded))

    assert [(t.said, t.reply) for t in transcript.turns] == [
        ("question 1", "answer 1"),
        ("question 2", "answer 2"),
        ("question 3", "answer 3"),
    ]
    assert transcript.turns[1].trace_id == turns[1][0].trace_id


def test_a_trace_is_a_transcript_of_one_turn(store: Store) -> None:
    only = turn("s-3", 1, "Hello?", "Hi!")
    write(store, only)
    trace = store.get_traces(PROJECT, [only[0].trace_id])

    transcript = transcript_of(Target("trace", None, trace))

    assert [(t.number, t.said, t.reply) for t in transcript.turns] == [(1, "Hello?", "Hi!")]
    assert transcript.trace_id(1) == only[0].trace_id


def test_a_long_session_is_cut_from_the_middle_with_a_marker(store: Store) -> None:
    turns = [turn("s-4", n, f"question {n} " + "x" * 900, f"answer {n}") for n in range(1, 41)]
    write(store, [s for t in turns for s in t])
    transcript = transcript_of(session_target(store, "s-4"))
    whole = render(transcript, 1_000_000)
    blocks = whole.split("\n\n")
    assert len(blocks) == 40

    text = render(transcript, 2_000)

    assert len(text) <= 2_000 * CHARS_PER_TOKEN
    kept = [int(n) for n in re.findall(r"^## Turn (\d+)", text, re.MULTILINE)]
    marker = r"\[… (\d+) turns left out here \(turns (\d+) to (\d+), ([\d,]+) characters\)"
    found = re.search(marker, text)
    assert found is not None, text
    count, low, high, chars = (int(g.replace(",", "")) for g in found.groups())
    assert kept[0] == 1 and kept[-1] == 40  # the beginning and the end stay
    assert kept == [*range(1, low), *range(high + 1, 41)]  # the middle went, in one piece
    assert count == high - low + 1 == 40 - len(kept)
    assert chars == sum(len(b) for b in blocks[low - 1 : high])
    assert text.index(found.group()) < text.index(f"## Turn {high + 1} ")


def test_a_long_answer_is_cut_from_its_middle(store: Store) -> None:
    answer = "START " + "y" * 50_000 + " END"
    write(store, turn("s-5", 1, "Tell me everything.", answer))
    transcript = transcript_of(session_target(store, "s-5"))

    text = render(transcript, 1_000)

    assert len(text) <= 1_000 * CHARS_PER_TOKEN
    assert "Assistant: START " in text and text.endswith(" END")
    found = re.search(r"\[… ([\d,]+) characters left out …\]", text)
    assert found is not None
    assert int(found.group(1).replace(",", "")) == len(answer) - (
        len(text.split("Assistant: ", 1)[1]) - len(found.group()) - 2
    )


def test_a_session_with_no_turns_says_so() -> None:
    transcript = transcript_of(Target("session", {"session_id": "s", "traces": []}, []))
    assert render(transcript, 100) == "(The conversation has no turns.)"


def test_whatever_the_budget_the_text_fits_it_and_keeps_both_ends() -> None:
    tools = tuple(ToolUse(f"tool{k}", "a" * 3_000, "r" * 9_000, None) for k in range(30))
    turns = tuple(
        Turn(n, f"{n:032x}", None, f"said {n} " + "s" * (n * 700), "reply " + "z" * 20_000, tools)
        for n in range(1, 13)
    )
    transcript = Transcript(turns)
    for budget in (1, 100, 150, 400, 1_000, 5_000, 50_000):
        text = render(transcript, budget)
        assert len(text) <= max(budget, MIN_BUDGET_TOKENS) * CHARS_PER_TOKEN, budget
        assert text.startswith("## Turn 1\nUser: said 1 "), budget
        assert "## Turn 12\n" in text, budget
