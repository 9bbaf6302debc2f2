"""The evaluator runner gives way to a pressed ingest.

Judging can wait; senders of spans should not. While ingest is pressed (its requests
queue behind each other: lamina.ingest.load), the runner's poll, and each run or check
batch about to start, wait for it to ease, at most YIELD_SECONDS: under an ingest that
never eases, each worker still does a run or a batch that often. Judging beside an
ingest running flat out cost that ingest 60% of its rate on a 2-core machine
(docs/performance.md, session 15).
"""

from __future__ import annotations

import threading
import time

from lamina.ingest.load import IngestLoad

# The most the poll or a run waits for a pressed ingest to ease, and how often it looks.
YIELD_SECONDS = 5.0
YIELD_STEP_SECONDS = 0.05


def give_way(ingest: IngestLoad | None, closing: threading.Event) -> None:
    """Wait while ``ingest`` is pressed (None: never), at most YIELD_SECONDS, or until
    ``closing`` is set."""
    if ingest is None:
        return
    deadline = time.monotonic() + YIELD_SECONDS
    while ingest.pressed() and time.monotonic() < deadline:
        if closing.wait(YIELD_STEP_SECONDS):
            return
