"""Evaluators and their runs, as a store keeps them (see lamina.evaluation for what
they mean and how they run).

An evaluator is a project's named definition: its ``definition`` is the JSON object
the API took (its target, filter, sample rate, quiet period, check or LLM settings),
kept as text the store never reads; ``secret`` is its LLM API key, already encrypted
by the caller (None: none given). A store only lists, replaces and deletes them.

A run is both the work queue's entry and its record: one row for one version of one
target (a session or a trace) for one evaluator, made ``queued`` when the target went
quiet at that version, ``running`` while a server holds its lease, then ``ok``,
``error`` or ``skipped`` (filtered or sampled out). ``run_id`` is made from the
evaluator, target and version, so queueing one again is a no-op, and its score's id is
made from it too, so a run done twice writes one score. A run whose score a newer
version's replaced is marked ``superseded_ns``. ``failed_ns`` is when its last attempt
failed (queued again after a backoff, or ended in ``error``): an evaluator whose newest
failure is newer than its newest ``ok`` run is failing (lamina.evaluation.health).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from lamina.store.queries import DEFAULT_LIMIT


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    OK = "ok"
    ERROR = "error"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Evaluator:
    evaluator_id: str
    name: str
    target: str  # "session" | "trace": which quiet targets the store finds for it
    enabled: bool
    definition: str  # JSON text (lamina.evaluation.definition), without the API key
    secret: str | None  # the LLM API key, encrypted by the caller
    created_ns: int
    updated_ns: int


@dataclass(frozen=True, slots=True)
class Quiet:
    """A target that went quiet at ``version`` and has no run of that version yet."""

    target_id: str
    version: str
    end_ns: int


@dataclass(frozen=True, slots=True)
class Run:
    project_id: str
    run_id: str
    evaluator_id: str
    target: str  # "session" | "trace"
    target_id: str
    version: str
    status: RunStatus
    queued_ns: int
    attempts: int = 0
    not_before_ns: int = 0  # a retried run waits until then
    lease_owner: str | None = None
    lease_until_ns: int = 0
    finished_ns: int | None = None
    score_id: str | None = None
    value: float | None = None
    label: str | None = None
    comment: str | None = None
    trace_id: str | None = None  # the turn the result cites
    latency_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None
    error: str | None = None
    superseded_ns: int | None = None
    failed_ns: int | None = None  # when its last attempt failed (retried, or its error)


@dataclass(frozen=True, slots=True)
class Progress:
    """An evaluator's work in hand: its runs queued since the oldest one not done yet
    (``since_ns``; None when every run is done), counted by status. A backfill's runs
    are queued at one time, so while it runs they are among these."""

    since_ns: int | None
    counts: dict[RunStatus, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def count(self, *statuses: RunStatus) -> int:
        return sum(self.counts.get(status, 0) for status in statuses)


@dataclass(frozen=True, slots=True)
class RunQuery:
    limit: int = DEFAULT_LIMIT
    before_ns: int | None = None  # newest queued first; the page after this queued_ns
    target_id: str | None = None
    target_ids: tuple[str, ...] = ()  # any of these targets (none: any target)
    status: RunStatus | None = None


def run_id(evaluator_id: str, target_id: str, version: str) -> str:
    digest = hashlib.sha256(f"{evaluator_id}\0{target_id}\0{version}".encode()).hexdigest()
    return f"run_{digest[:24]}"
