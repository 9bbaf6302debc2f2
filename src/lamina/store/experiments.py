"""Experiments: runs of an application over a list of test cases, and their results (#22).

An experiment is one run (``lamina.evaluate`` in the SDK): an id, a name, a group (runs
of one group are compared over time), the dataset it ran over (or none: a list given in
code) and when it was made. Its items are one a test case: its place in the run
(``item_index``, from 0), the dataset item's id, the input and expected output, the
output the application gave or the error it raised, the trace of that call (in the
experiment's own session, :func:`session_id`), how long the call took and the
evaluators' scores (a JSON object of name to number). The scores are also kept as
scores on the trace (source ``experiment``), so the trace page shows them. An item a
Laminar SDK sent (#24) keeps the id it gave the datapoint, which it updates it by.

Putting an item whose index the run has already replaces it (a retried request).
Deleting a project deletes its experiments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

SESSION_PREFIX = "experiment-"


def session_id(experiment_id: str) -> str:
    """The session an experiment's traces belong to."""
    return SESSION_PREFIX + experiment_id


@dataclass(frozen=True, slots=True)
class Experiment:
    experiment_id: str
    name: str
    group_name: str
    dataset: str | None
    created_ns: int
    item_count: int = 0  # as read; what is given to put_experiment is not used


@dataclass(frozen=True, slots=True)
class ExperimentItem:
    item_index: int  # from 0, the test case's place in the run
    item_id: str | None  # the dataset item's id, when it came from a dataset
    input: str  # JSON text
    expected_output: str | None  # JSON text
    output: str | None  # JSON text; None when the executor raised
    error: str | None  # what the executor or an evaluator raised
    trace_id: str | None
    duration_ms: float
    scores: str  # JSON text of an object: evaluator's score name -> number
    # The id Laminar's SDK gave the datapoint (#24; a UUID), which its update_datapoint
    # names it by; None for the items of Lamina's own runs.
    datapoint_id: str | None = None


# The items' columns in both stores' tables, after project_id and experiment_id.
ITEM_TYPES = {
    "item_index": pa.int32(),
    "item_id": pa.string(),
    "input": pa.string(),
    "expected_output": pa.string(),
    "output": pa.string(),
    "error": pa.string(),
    "trace_id": pa.string(),
    "duration_ms": pa.float64(),
    "scores": pa.string(),
    "datapoint_id": pa.string(),
}


def item_columns(
    project_id: str, experiment_id: str, items: Sequence[ExperimentItem]
) -> dict[str, pa.Array]:
    """The items as Arrow columns, in their tables' order (a store's bulk insert)."""
    columns = {
        "project_id": pa.array([project_id] * len(items), pa.string()),
        "experiment_id": pa.array([experiment_id] * len(items), pa.string()),
    }
    for field, kind in ITEM_TYPES.items():
        columns[field] = pa.array([getattr(item, field) for item in items], kind)
    return columns
