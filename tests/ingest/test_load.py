"""How hard ingest is pressed (lamina.ingest.load): the evaluator runner gives way
while span requests queue behind each other, and only then."""

from __future__ import annotations

import contextlib
import time

from lamina.ingest.load import WINDOW_SECONDS, IngestLoad


def test_one_request_at_a_time_is_not_pressed_two_at_once_are() -> None:
    load = IngestLoad()
    with load.request():
        assert not load.pressed()  # a sender the server keeps up with
        with load.request():
            assert load.pressed()


def test_pressed_ends_once_requests_stopped_queuing_for_a_window() -> None:
    load = IngestLoad()
    with contextlib.ExitStack() as both:
        both.enter_context(load.request())
        both.enter_context(load.request())
        time.sleep(0.1)
    deadline = time.monotonic() + 3 * WINDOW_SECONDS + 1
    while load.pressed() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not load.pressed()


def test_requests_queued_for_a_small_share_of_the_time_do_not_press() -> None:
    load = IngestLoad()
    started = time.monotonic()
    while time.monotonic() - started < 2 * WINDOW_SECONDS:
        with load.request():  # one alone most of the time
            time.sleep(0.04)
            with load.request():  # a second beside it a fifth of it
                time.sleep(0.01)
        assert not load.pressed()
        time.sleep(0.01)
