"""The Laminar SDK's current names for the session calls (``set_trace_session_id``,
``set_trace_user_id``, ``set_trace_metadata``) work beside the seed's names: code
written for either version of Laminar runs after changing only its import."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from lamina import Laminar, observe
from tests.conftest import LaminaServer
from tests.sdk.support import session, spans_by_name, trace


@observe()
def lookup(order_id: str) -> str:
    return order_id


def test_code_written_for_the_current_laminar_sdk_runs_unchanged(
    laminar: LaminaServer, new_id: Callable[[str], str]
) -> None:
    session_id, user_id = new_id("lmnr-session"), new_id("lmnr-user")

    # As tests/compat/apps/lmnr_app.py writes it for lmnr, with `from lamina import`.
    @observe(name="second_turn")
    def second_turn(message: str) -> str:
        Laminar.set_trace_session_id(session_id)
        Laminar.set_trace_user_id(user_id)
        Laminar.set_trace_metadata({"plan": "pro", "region": "eu"})
        lookup("o-42")  # started after the calls: it carries them too
        return message.upper()

    assert second_turn("thanks") == "THANKS"

    result = session(laminar, session_id)
    assert result["trace_count"] == 1
    assert result["user_ids"] == [user_id]
    (summary,) = result["traces"]
    assert summary["name"] == "second_turn"
    assert summary["metadata"] == {"plan": "pro", "region": "eu"}
    spans = spans_by_name(trace(laminar, summary["trace_id"]))
    assert spans["lookup"]["session_id"] == session_id
    assert spans["lookup"]["user_id"] == user_id


@pytest.mark.parametrize(
    ("setter", "argument"),
    [
        (Laminar.set_trace_session_id, "s-nowhere"),
        (Laminar.set_trace_user_id, "u-nowhere"),
        (Laminar.set_trace_metadata, {"k": "v"}),
    ],
)
def test_outside_any_span_they_warn_by_the_name_called_and_do_nothing(
    laminar: LaminaServer,
    caplog: pytest.LogCaptureFixture,
    setter: Callable[[object], None],
    argument: object,
) -> None:
    with caplog.at_level(logging.WARNING, logger="lamina.sdk"):
        setter(argument)
    (record,) = caplog.records
    assert f"Laminar.{setter.__name__}() was called outside any span" in record.getMessage()
    assert "Laminar.with_session" in record.getMessage()
    with Laminar.start_as_current_span("after"):
        after = Laminar.get_trace_id()
    assert after is not None
    detail = trace(laminar, after)
    assert detail["session_id"] is None and detail["user_id"] is None
    assert detail["metadata"] == {}


def test_a_session_id_of_none_sets_nothing(
    laminar: LaminaServer, new_id: Callable[[str], str]
) -> None:
    # lmnr's signatures default these to None; so do Lamina's.
    @observe()
    def turn() -> str | None:
        Laminar.set_trace_session_id()
        Laminar.set_trace_user_id(None)
        return Laminar.get_trace_id()

    trace_id = turn()
    assert trace_id is not None
    detail = trace(laminar, trace_id)
    assert detail["session_id"] is None and detail["user_id"] is None
