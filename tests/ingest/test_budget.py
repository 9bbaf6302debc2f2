"""The in-flight byte budget both receivers hold request bodies in."""

from __future__ import annotations

import pytest

from lamina.errors import Overloaded, PayloadTooLarge
from lamina.ingest.budget import ByteBudget


def test_a_hold_gives_back_all_it_took_however_the_request_ends() -> None:
    budget = ByteBudget(100)
    with budget.hold() as hold:
        hold.take(30)
        hold.take(20)
        assert budget.used == hold.size == 50
    assert budget.used == 0
    with pytest.raises(PayloadTooLarge), budget.hold() as hold:
        hold.take(40)
        raise PayloadTooLarge("the body went on past the limit")
    assert budget.used == 0


def test_a_hold_keeps_only_what_its_message_needs() -> None:
    """gRPC takes the body limit before it asks for the message, then keeps its size."""
    budget = ByteBudget(100)
    with budget.hold() as hold:
        hold.take(80)
        hold.keep(10)
        assert budget.used == 10
        with budget.hold() as other:
            other.take(90)  # the room given back is anyone's
            assert budget.used == 100
            with pytest.raises(Overloaded), budget.hold() as third:
                third.take(1)
        assert budget.used == 10
    assert budget.used == 0


def test_the_first_body_is_taken_whatever_its_size() -> None:
    """An empty budget never refuses: a body over the budget alone is the body limit's
    to refuse, not a 429 that would be retried for ever."""
    budget = ByteBudget(10)
    with budget.hold() as hold:
        hold.take(50)
        with pytest.raises(Overloaded), budget.hold() as other:
            other.take(1)
    assert budget.used == 0
