"""The SQL console's limit on queries at once (lamina.query.console.AT_ONCE): while two
long queries run in a server process, a third is a 429 that says to try again, and once
they are stopped at their time limit, queries run again. A real DuckDB store."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest

from lamina.errors import BadRequest, Overloaded
from lamina.query import console
from lamina.settings import Settings
from lamina.store.duckdb.store import DuckDBStore
from tests.store.test_metrics_contract import make_data
from tests.store.writing import write

HEAVY = "SELECT count(*) FROM spans a, spans b, spans c, spans d, spans e"


def test_a_third_query_at_once_is_told_to_try_again(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "data")
    try:
        data = make_data(random.Random(5), "prj_a")
        write(store, [span for trace in data.traces for span in trace.spans])
        settings = Settings.load({"sql_timeout_seconds": 2}, environ={})
        stopped: list[str] = []

        def heavy() -> None:
            try:
                console.run(store, "prj_a", console.parse(HEAVY, settings))
            except BadRequest as exc:
                stopped.append(exc.message)

        running = [threading.Thread(target=heavy) for _ in range(console.AT_ONCE)]
        for thread in running:
            thread.start()
        quick = console.parse("SELECT count(*) FROM sessions", settings)
        refused = None
        started = time.monotonic()
        while refused is None and time.monotonic() - started < 1.5:
            try:
                console.run(store, "prj_a", quick)
            except Overloaded as exc:
                refused = exc
            else:
                time.sleep(0.02)  # the two have not both begun yet
        assert refused is not None and "try again" in refused.message
        assert refused.status == 429
        assert all(thread.is_alive() for thread in running)
        for thread in running:
            thread.join(10)
        assert len(stopped) == console.AT_ONCE
        assert all("longer than 2 s" in message for message in stopped)
        assert console.run(store, "prj_a", quick)["rows"][0][0] > 0
    finally:
        store.close()


@pytest.mark.parametrize("text", ["", "   ", None, 42])
def test_a_body_without_a_query_says_what_to_send(text: object) -> None:
    with pytest.raises(BadRequest) as caught:
        console.parse(text, Settings())
    assert '"query"' in caught.value.message
