"""Experiments in an export (#22; see :mod:`lamina.exchange.export`): after the datasets,
a JSONL export has an ``experiment`` line per run (``{experiment_id, name, group,
dataset, created_ns, created_at}``) and an ``experiment_item`` line per item
(``{experiment_id, index, item_id, input, expected_output, output, error, trace_id,
duration_ms, scores}``, the values as JSON). A session's export has none, and the
Parquet export none. ``lamina import`` makes the runs again through the experiments API
(each item replacing the one of its index, so importing a file twice adds each once;
the run's time is the import's); ``POST /api/v1/import`` passes them over.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from lamina.errors import InvalidCursor
from lamina.exchange.grouped import Kinds, group_lines, read_grouped
from lamina.query.present import moment
from lamina.store.base import Store
from lamina.store.experiments import ExperimentItem

LINES = ("experiment", "experiment_item")
CHUNK = 500  # items sent a request by an import
ALL_RUNS = 1_000_000
ITEM_FIELDS = (
    "index",
    "item_id",
    "input",
    "expected_output",
    "output",
    "error",
    "trace_id",
    "duration_ms",
    "scores",
)


def _loads(text: str | None) -> Any:
    return orjson.loads(text) if text is not None else None


def _ids(store: Store, project_id: str) -> list[str]:
    """The project's runs, oldest first."""
    runs = store.list_experiments(project_id, None, ALL_RUNS)
    return [run.experiment_id for run in reversed(runs)]


def experiments_page(store: Store, project_id: str, session_id: str | None) -> dict[str, Any]:
    """Every run of the project, oldest first, one page."""
    if session_id is not None:
        return {"items": [], "next_cursor": None}
    items = []
    for run in reversed(store.list_experiments(project_id, None, ALL_RUNS)):
        created = moment(run.created_ns)
        items.append(
            {
                "kind": "experiment",
                "experiment_id": run.experiment_id,
                "name": run.name,
                "group": run.group_name,
                "dataset": run.dataset,
                "created_ns": run.created_ns,
                "created_at": created.isoformat().replace("+00:00", "Z") if created else None,
            }
        )
    return {"items": items, "next_cursor": None}


def items_page(
    store: Store, project_id: str, after: str | None, limit: int, session_id: str | None
) -> dict[str, Any]:
    """A page of one run's items (runs oldest first, items by index); the cursor names
    the run and how many of its items were read."""
    if session_id is not None:
        return {"items": [], "next_cursor": None}
    ids = _ids(store, project_id)
    run_id, offset = _decode(after) if after else (ids[0] if ids else None, 0)
    if run_id is None or run_id not in ids:  # none
        return {"items": [], "next_cursor": None}
    found = store.list_experiment_items(project_id, run_id)
    page = found[offset : offset + limit]
    items = [item_line(run_id, item) for item in page]
    if offset + limit < len(found):
        return {"items": items, "next_cursor": _encode(run_id, offset + limit)}
    later = ids[ids.index(run_id) + 1 :]
    return {"items": items, "next_cursor": _encode(later[0], 0) if later else None}


def item_line(experiment_id: str, item: ExperimentItem) -> dict[str, Any]:
    return {
        "kind": "experiment_item",
        "experiment_id": experiment_id,
        "index": item.item_index,
        "item_id": item.item_id,
        "input": orjson.loads(item.input),
        "expected_output": _loads(item.expected_output),
        "output": _loads(item.output),
        "error": item.error,
        "trace_id": item.trace_id,
        "duration_ms": item.duration_ms,
        "scores": orjson.loads(item.scores),
    }


def _encode(run_id: str, offset: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([run_id, offset])).decode().rstrip("=")


def _decode(after: str) -> tuple[str, int]:
    try:
        run_id, offset = orjson.loads(base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)))
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidCursor("The cursor is not one this server issued.") from exc
    if not isinstance(run_id, str) or not isinstance(offset, int) or offset < 0:
        raise InvalidCursor("The cursor is not one this server issued.")
    return run_id, offset


def read_experiments(path: Path) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """The runs of a JSONL export, each with a chunk of its items (as the experiments
    API takes them); a run of many items comes in several chunks. None from a Parquet
    export or directory."""
    return read_grouped(path, _KINDS)


def experiments_of_lines(
    body: bytes,
) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """The runs of ``POST /api/v1/import``'s lines, as :func:`read_experiments` reads a
    file's."""
    return group_lines(body.splitlines(), _KINDS)


_KINDS = Kinds(
    *LINES,
    owner_key="experiment_id",
    item_key="experiment_id",
    owner_fields=("experiment_id", "name", "group", "dataset"),
    item_fields=ITEM_FIELDS,
    chunk=CHUNK,
)
