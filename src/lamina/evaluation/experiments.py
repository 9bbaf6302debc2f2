"""Experiments as the JSON API and the pages take and show them (#22; the store's side
is lamina.store.experiments).

The SDK's ``lamina.evaluate`` makes a run (``POST /api/v1/experiments``: its id, name,
group and dataset) and sends its items (``POST .../items``): each the test case's index,
input and expected output, the output or the error, the trace of the executor's call,
its duration and the evaluators' scores (an object of name to number or null). The
scores are kept on the item and given to the trace as scores of source ``experiment``
(an id made from the run, the index and the name, so a retried request adds none
twice). Reading a run gives its items with their traces' costs, each score's average,
and the comparison of two runs item by item (matched by dataset item id, else index),
the items whose scores fell most first.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson

from lamina.errors import BadRequest, PayloadTooLarge
from lamina.evaluation.datasets import MAX_ITEM_BYTES, check_name
from lamina.query import scores as judged
from lamina.query.present import moment
from lamina.store.base import Row, Store
from lamina.store.experiments import Experiment, ExperimentItem, session_id
from lamina.store.queries import MAX_LIMIT, Cursor, TraceQuery
from lamina.store.scores import Score

MAX_NAME_CHARS = 200
MAX_BATCH = 1_000  # items in one request
MAX_IMPORTED = 10_000  # items in one import request (POST /api/v1/import)
MAX_SCORES = 50  # score names on one item
MAX_ERROR_CHARS = 4_000
MAX_RUNS = 500  # listed at once
SOURCE = "experiment"
DEFAULT_GROUP = "default"
_TRACE = re.compile(r"^[0-9a-fA-F]{32}$")
# Laminar's evaluate marks each trace with the evaluation's id (a UUID) in its metadata.
LAMINAR_KEY = "evaluation_id"
_LAMINAR_ID = re.compile(r"^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")
_ITEM_FIELDS = (
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


def _text(given: Any, field: str, default: str | None = None) -> str:
    if given is None and default is not None:
        return default
    if not isinstance(given, str) or not given.strip() or len(given) > MAX_NAME_CHARS:
        raise BadRequest(f"{field} must be text of 1 to {MAX_NAME_CHARS} characters.")
    return given.strip()


def new_experiment(given: Mapping[str, Any], now_ns: int) -> Experiment:
    experiment_id = check_name(given.get("experiment_id"), "experiment_id")
    dataset = given.get("dataset")
    return Experiment(
        experiment_id=experiment_id,
        name=_text(given.get("name"), "name", experiment_id),
        group_name=_text(given.get("group"), "group", DEFAULT_GROUP),
        dataset=check_name(dataset, "dataset") if dataset is not None else None,
        created_ns=now_ns,
    )


def _json(value: Any, field: str, at: str) -> str:
    text = orjson.dumps(value).decode()
    if len(text) > MAX_ITEM_BYTES:
        raise PayloadTooLarge(
            f"{at}{field} is {len(text):,} bytes of JSON; an item holds at most "
            f"{MAX_ITEM_BYTES // 1024:,} KiB."
        )
    return text


def _finite(value: Any) -> bool:
    if not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # a whole number beyond a float's range
        return False


def _scores(given: Any, at: str) -> dict[str, float | None]:
    if given is None:
        return {}
    if not isinstance(given, dict) or len(given) > MAX_SCORES:
        raise BadRequest(f"{at}scores must be an object of at most {MAX_SCORES} names.")
    made: dict[str, float | None] = {}
    for name, value in given.items():
        if not judged.NAME.match(name) or len(name) > judged.MAX_NAME:
            raise BadRequest(f"{at}the score name {name[:80]!r} is not a valid score name.")
        if isinstance(value, bool):
            value = float(value)
        if value is not None and not _finite(value):
            raise BadRequest(f"{at}the score {name!r} must be a number, true, false or null.")
        made[name] = None if value is None else float(value)
    return made


def parse_item(given: Any, at: str) -> ExperimentItem:
    if not isinstance(given, dict):
        raise BadRequest(f"{at}an item must be a JSON object.")
    unknown = sorted(set(given) - set(_ITEM_FIELDS))
    if unknown:
        raise BadRequest(
            f"{at}unknown field {unknown[0]!r}; an item has {', '.join(_ITEM_FIELDS)}."
        )
    index = given.get("index")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 2**31:
        raise BadRequest(f"{at}index must be a whole number from 0.")
    duration = given.get("duration_ms", 0)
    if isinstance(duration, bool) or not _finite(duration) or duration < 0:
        raise BadRequest(f"{at}duration_ms must be a number of milliseconds from 0.")
    trace_id = given.get("trace_id")
    if trace_id is not None and (not isinstance(trace_id, str) or not _TRACE.match(trace_id)):
        raise BadRequest(f"{at}trace_id must be 32 hex digits, as OpenTelemetry writes it.")
    error = given.get("error")
    if error is not None and not isinstance(error, str):
        raise BadRequest(f"{at}error must be text or null.")
    item_id = given.get("item_id")
    return ExperimentItem(
        item_index=index,
        item_id=check_name(item_id, "item_id") if item_id is not None else None,
        input=_json(given.get("input"), "input", at),
        expected_output=_nullable(given.get("expected_output"), "expected_output", at),
        output=_nullable(given.get("output"), "output", at),
        error=error[:MAX_ERROR_CHARS] if error else None,
        trace_id=trace_id.lower() if trace_id else None,
        duration_ms=float(duration),
        scores=orjson.dumps(_scores(given.get("scores"), at)).decode(),
    )


def _nullable(value: Any, field: str, at: str) -> str | None:
    return None if value is None else _json(value, field, at)


def parse_items(given: Any) -> list[ExperimentItem]:
    values = given.get("items") if isinstance(given, dict) else None
    if not isinstance(values, list) or set(given) != {"items"}:
        raise BadRequest('The body must be {"items": [...]}, a list of the run\'s items.')
    if len(values) > MAX_BATCH:
        raise BadRequest(f"One request adds at most {MAX_BATCH:,} items; send them in several.")
    return [parse_item(value, f"Item {n + 1}: ") for n, value in enumerate(values)]


def trace_scores(experiment: Experiment, items: Sequence[ExperimentItem]) -> list[Score]:
    """The items' scores as scores on their traces (in the experiment's session)."""
    now = time.time_ns()
    made = []
    for item in items:
        if item.trace_id is None:
            continue
        for name, value in orjson.loads(item.scores).items():
            key = f"{experiment.experiment_id}/{item.item_index}/{name}"
            made.append(
                Score(
                    score_id=uuid.uuid5(uuid.NAMESPACE_URL, key).hex,
                    name=name,
                    value=value,
                    label=None,
                    source=SOURCE,
                    author=experiment.name,
                    session_id=session_id(experiment.experiment_id),
                    trace_id=item.trace_id,
                    span_id=None,
                    comment=None,
                    created_ns=now,
                )
            )
    return made


def record(
    store: Store, project_id: str, experiment_id: str, items: Sequence[ExperimentItem]
) -> bool:
    """Store the items and their traces' scores; False when there is no such run."""
    experiment = store.get_experiment(project_id, experiment_id)
    if experiment is None or not store.put_experiment_items(project_id, experiment_id, items):
        return False
    store.add_scores(project_id, trace_scores(experiment, items))
    return True


def imported(
    groups: Iterable[tuple[dict[str, Any], list[dict[str, Any]]]], now_ns: int
) -> list[tuple[Experiment, list[ExperimentItem]]]:
    """The runs and items of an import request's lines (lamina.exchange.experiments), all
    checked before any is stored: a 400 names the run and the item (numbered from 1 in
    the request) that is wrong."""
    checked: list[tuple[Experiment, list[ExperimentItem]]] = []
    counted: dict[str, int] = {}
    total = 0
    for given, chunk in groups:
        try:
            run = new_experiment(given, now_ns)
        except BadRequest as exc:
            raise BadRequest(f"An experiment line: {exc.message}") from None
        total += len(chunk)
        if total > MAX_IMPORTED:
            raise PayloadTooLarge(
                f"One import request adds at most {MAX_IMPORTED:,} experiment items: send "
                "them in several (lamina import does)."
            )
        first = counted.get(run.experiment_id, 0)
        counted[run.experiment_id] = first + len(chunk)
        where = f'Experiment "{run.experiment_id}", item {{}}: '
        items = [parse_item(value, where.format(first + n + 1)) for n, value in enumerate(chunk)]
        checked.append((run, items))
    return checked


def store_imported(
    store: Store, project_id: str, checked: Sequence[tuple[Experiment, list[ExperimentItem]]]
) -> tuple[int, int]:
    """Make the runs (one the project has is kept as it is) and add their items, each
    replacing the one of its index, their scores given to their traces: how many runs
    and items."""
    for run, items in checked:
        store.put_experiment(project_id, run)
        if items:
            record(store, project_id, run.experiment_id, items)
    runs = {run.experiment_id for run, _ in checked}
    return len(runs), sum(len(items) for _, items in checked)


def page_link(project_name: str, experiment_id: str) -> str:
    return f"/p/{quote(project_name, safe='')}/experiments/{quote(experiment_id, safe='')}"


def averages(items: Sequence[ExperimentItem]) -> dict[str, float]:
    """Each score name's average over the items that have a number for it."""
    sums: dict[str, list[float]] = {}
    for item in items:
        for name, value in orjson.loads(item.scores).items():
            if value is not None:
                sums.setdefault(name, []).append(value)
    return {name: sum(values) / len(values) for name, values in sorted(sums.items())}


def present_experiment(experiment: Experiment, project_name: str) -> Row:
    return {
        "experiment_id": experiment.experiment_id,
        "name": experiment.name,
        "group": experiment.group_name,
        "dataset": experiment.dataset,
        "item_count": experiment.item_count,
        "created_at": moment(experiment.created_ns),
        "session_id": session_id(experiment.experiment_id),
        "url": page_link(project_name, experiment.experiment_id),
    }


def delete(store: Store, project_id: str, experiment_id: str) -> Row | None:
    """Delete the run, its items, its session and the traces its items point to (the
    executor calls' traces, with their scores; a run Laminar's SDK made has its traces
    in no session, #24): ``{"deleted": the run as it was, "traces": n, "spans": n}``, or
    None when the project has no run of that id."""
    items = store.list_experiment_items(project_id, experiment_id)
    found = store.delete_experiment(project_id, experiment_id)
    if found is None:
        return None
    gone = store.delete_session(project_id, session_id(experiment_id))
    pointed = sorted({item.trace_id for item in items if item.trace_id is not None})
    rest = store.delete_traces(project_id, pointed)  # those outside the session
    name = project.name if (project := store.find_project(project_id)) else project_id
    shown = present_experiment(found, name)
    return {"deleted": shown, "traces": gone.traces + rest.traces, "spans": gone.spans + rest.spans}


def costs(store: Store, project_id: str, experiment_id: str) -> dict[str, float | None]:
    """The cost of each trace of the run's session; for a run Laminar's SDK made (#24:
    its id a UUID with dashes, its traces in no session), of each trace whose metadata
    names it as its ``evaluation_id``, as that SDK marks them."""
    found = _trace_costs(store, project_id, session_id=session_id(experiment_id))
    if not found and _LAMINAR_ID.match(experiment_id):
        found = _trace_costs(store, project_id, metadata=((LAMINAR_KEY, experiment_id),))
    return found


def _trace_costs(store: Store, project_id: str, **where: Any) -> dict[str, float | None]:
    found: dict[str, float | None] = {}
    cursor: str | None = None
    for _ in range(1_000):
        query = TraceQuery(
            limit=MAX_LIMIT,
            cursor=Cursor.decode(cursor, "start_time") if cursor else None,
            **where,
        )
        page = store.list_traces(project_id, query)
        found.update((row["trace_id"], row.get("cost")) for row in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    return found


def present_item(item: ExperimentItem, cost: float | None, project_name: str) -> Row:
    trace_url = None
    if item.trace_id is not None:
        trace_url = f"/p/{quote(project_name, safe='')}/traces/{item.trace_id}"
    return {
        "index": item.item_index,
        "item_id": item.item_id,
        "input": orjson.loads(item.input),
        "expected_output": _loads(item.expected_output),
        "output": _loads(item.output),
        "error": item.error,
        "trace_id": item.trace_id,
        "trace_url": trace_url,
        "duration_ms": item.duration_ms,
        "cost": cost,
        "scores": orjson.loads(item.scores),
    }


def _loads(text: str | None) -> Any:
    return orjson.loads(text) if text is not None else None


@dataclass(frozen=True, slots=True)
class Run:
    """One experiment read whole: what the API answers and the pages show."""

    experiment: Experiment
    items: list[ExperimentItem]
    costs: dict[str, float | None]

    @property
    def averages(self) -> dict[str, float]:
        return averages(self.items)

    @property
    def errors(self) -> int:
        return sum(1 for item in self.items if item.error is not None)

    def present(self, project_name: str, window: slice = slice(None)) -> Row:
        """The run with its items in ``window`` (all unless given)."""
        total = [c for c in self.costs.values() if c is not None]
        return {
            **present_experiment(self.experiment, project_name),
            "averages": self.averages,
            "errors": self.errors,
            "cost": sum(total) if total else None,
            "items": [
                present_item(item, self.costs.get(item.trace_id or ""), project_name)
                for item in self.items[window]
            ],
        }


def read(store: Store, project_id: str, experiment_id: str) -> Run | None:
    experiment = store.get_experiment(project_id, experiment_id)
    if experiment is None:
        return None
    items = store.list_experiment_items(project_id, experiment_id)
    return Run(experiment, items, costs(store, project_id, experiment_id))


@dataclass(frozen=True, slots=True)
class Pair:
    """One test case in two runs, and each score's change from the first to the second."""

    key: str
    before: ExperimentItem | None
    after: ExperimentItem | None
    deltas: dict[str, float]

    @property
    def worst(self) -> float:
        return min(self.deltas.values(), default=0.0)


def _key(item: ExperimentItem) -> str:
    return f"id:{item.item_id}" if item.item_id is not None else f"index:{item.item_index}"


def compare(before: Sequence[ExperimentItem], after: Sequence[ExperimentItem]) -> list[Pair]:
    """The two runs' items side by side, matched by dataset item id (else index), the
    ones whose scores fell most first (an item's worst change), then by place."""
    old = {_key(item): item for item in before}
    new = {_key(item): item for item in after}
    order = list(dict.fromkeys([*new, *old]))
    pairs = []
    for key in order:
        one, two = old.get(key), new.get(key)
        deltas: dict[str, float] = {}
        if one is not None and two is not None:
            a, b = orjson.loads(one.scores), orjson.loads(two.scores)
            for name in sorted(set(a) & set(b)):
                if a[name] is not None and b[name] is not None:
                    deltas[name] = b[name] - a[name]
        pairs.append(Pair(key, one, two, deltas))
    place = {key: n for n, key in enumerate(order)}
    return sorted(pairs, key=lambda pair: (pair.worst, place[pair.key]))


def present_comparison(pairs: Sequence[Pair], project_name: str) -> list[Row]:
    return [
        {
            "before": present_item(p.before, None, project_name) if p.before else None,
            "after": present_item(p.after, None, project_name) if p.after else None,
            "deltas": p.deltas,
            "regressed": p.worst < 0,
        }
        for p in pairs
    ]
