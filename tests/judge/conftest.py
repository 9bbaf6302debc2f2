"""Sessions written to a real DuckDB store and read back as the runner reads them."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lamina.store.base import Row, Store
from lamina.store.duckdb.store import DuckDBStore
from tests.spans.record import SpanRecord

PROJECT = "prj_judge"
SECOND = 1_000_000_000
BASE = 1_767_225_600 * SECOND  # 2026-01-01T00:00:00Z
_ids = itertools.count(1)


@dataclass(frozen=True)
class Target:
    """What the evaluation runner hands the judge (lamina.judging.Target's shape)."""

    kind: str
    session: Row | None
    traces: list[Row] = field(default_factory=list)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = DuckDBStore(tmp_path / "data")
    yield opened
    opened.close()


def span(trace: str, name: str, start: int, **fields: Any) -> SpanRecord:
    return SpanRecord(
        project_id=PROJECT,
        trace_id=trace,
        span_id=fields.pop("span_id", None) or f"{next(_ids):016x}",
        parent_span_id=fields.pop("parent", None),
        name=name,
        span_type=fields.pop("span_type", "DEFAULT"),
        start_ns=start,
        end_ns=start + SECOND // 10,
        status=fields.pop("status", "ok"),
        **fields,
    )


def turn(
    session: str, number: int, said: str, answer: str | None, **fields: Any
) -> list[SpanRecord]:
    """One turn: a root span with the user's message and the answer, as an app records it."""
    trace = f"{next(_ids):032x}"
    start = BASE + number * 10 * SECOND
    output = json.dumps({"answer": answer}) if answer is not None else None
    return [
        span(
            trace,
            "handle_turn",
            start,
            session_id=session,
            input=json.dumps({"message": said}),
            output=output,
            **fields,
        )
    ]


def exception_events(kind: str, message: str) -> str:
    attributes = {"exception.type": kind, "exception.message": message}
    return json.dumps([{"name": "exception", "time_unix_nano": 0, "attributes": attributes}])


def session_target(store: Store, session_id: str, load: Sequence[str] | None = None) -> Target:
    """The session as the runner reads it: its row, and its traces (those in ``load``,
    else all) with their spans."""
    session = store.get_session(PROJECT, session_id)
    assert session is not None
    ids = list(load) if load is not None else [t["trace_id"] for t in session["traces"]]
    return Target("session", session, store.get_traces(PROJECT, ids))
