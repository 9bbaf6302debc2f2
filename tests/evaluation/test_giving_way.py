"""The evaluator runner gives way to a pressed ingest (lamina.evaluation.giving_way):
while span requests queue behind each other, no run starts; once they ease, the
queued sessions are checked. In process: a real DuckDB store and the real runner."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

from lamina.evaluation import manage
from lamina.evaluation.runner import Runner
from lamina.evaluation.secrets import KeyBox
from lamina.ingest.load import IngestLoad
from lamina.operations import ensure_default_project
from lamina.settings import Settings
from lamina.store.duckdb.store import DuckDBStore
from lamina.store.evaluators import RunQuery, RunStatus
from tests.store.test_contract import BASE, MS, rec, trace_id
from tests.store.writing import write

SESSIONS = 4
PRESSED_S = 0.6  # how long the test keeps ingest pressed


def test_no_run_starts_while_ingest_is_pressed_and_all_are_done_once_it_eases(
    tmp_path: Path,
) -> None:
    store = DuckDBStore(tmp_path)
    runner: Runner | None = None
    try:
        # a project the runner's looks list (they read the evaluators of those)
        project, _ = ensure_default_project(store)
        for n in range(SESSIONS):
            spans = [rec(trace_id(), project=project.id, start=BASE + n * MS, session_id=f"s-{n}")]
            write(store, spans)
        definition = {"name": "errors", "kind": "check", "check": {"type": "error_in_last_turn"}}
        check = manage.save(store, KeyBox(tmp_path), project.id, definition)
        assert manage.backfill(store, project.id, check, 0, time.time_ns()) == SESSIONS
        load = IngestLoad()
        room = threading.Event()
        runner = Runner(store, Settings(data_dir=tmp_path, evaluator_poll_ms=50), room.set, load)
        with contextlib.ExitStack() as senders:  # two requests in flight: pressed
            senders.enter_context(load.request())
            senders.enter_context(load.request())
            polling = threading.Thread(target=runner.poll)
            polling.start()
            time.sleep(PRESSED_S)
            eased_ns = time.time_ns()
        polling.join(10)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            runs = store.list_runs(project.id, check.evaluator_id, RunQuery(limit=50))
            if all(run.status == RunStatus.OK for run in runs):
                break
            runner.poll()
            room.wait(0.1)
            room.clear()
        assert sorted(run.target_id for run in runs) == [f"s-{n}" for n in range(SESSIONS)]
        assert all(run.status == RunStatus.OK for run in runs), [(r.status, r.error) for r in runs]
        # none began before ingest eased
        assert min(run.finished_ns or 0 for run in runs) >= eased_ns
    finally:
        if runner is not None:
            runner.close()
        store.close()
