"""The Experiments pages (#22): a group's runs over time (each score's average, drawn as
a chart on the server) and their table; a run's items (input, expected output, output
or error, each score, the link to its trace); and two runs side by side, item by item,
with each score's change, the items that got worse first.

The pages read as the JSON API does (lamina.evaluation.experiments); a run's page
deletes it through the API (DELETE /api/v1/experiments/{id}, after a confirm). Values are
shown as text, cut short: a chat conversation as its last message, anything else as
JSON; the trace holds them whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson
from starlette.responses import Response

from lamina.errors import BadRequest, NotFound
from lamina.evaluation import experiments
from lamina.evaluation.datasets import check_name
from lamina.query.present import moment
from lamina.store.base import Row, Store
from lamina.store.experiments import Experiment
from lamina.web.pages import charts
from lamina.web.pages.base import Page
from lamina.web.pages.render import viewer_zone

RUNS_SHOWN = 50  # on the Experiments page, of the group chosen
ITEMS_SHOWN = 100  # a run's items (or a comparison's rows) a page, from ?from=
CHARTED = 30  # runs in the chart, the newest
BRIEF_CHARS = 300


def brief(value: Any) -> str:
    """A value as a table cell shows it: text as itself, a conversation as its last
    message, anything else as JSON; cut at BRIEF_CHARS."""
    if (
        isinstance(value, list)
        and value
        and all(isinstance(m, dict) and "role" in m for m in value)
    ):
        last = value[-1]
        content = last.get("content")
        text = content if isinstance(content, str) else orjson.dumps(content).decode()
        shown = f"{last['role']}: {text}"
        if len(value) > 1:
            shown = f"({len(value) - 1} messages before) {shown}"
    elif isinstance(value, str):
        shown = value
    else:
        shown = orjson.dumps(value).decode()
    return shown if len(shown) <= BRIEF_CHARS else shown[: BRIEF_CHARS - 1] + "…"


@dataclass(frozen=True, slots=True)
class Listed:
    run: Row  # as the API presents it, with its averages
    previous: str | None  # the id of the group's run before it


def _chart(runs: list[Row], names: list[str], page: Page) -> Any:
    ordered = list(reversed(runs[:CHARTED]))  # oldest first
    series = [
        charts.Series(
            name,
            [
                charts.Point(run["created_at"], run["averages"].get(name), run["url"])
                for run in ordered
            ],
        )
        for name in names
    ]
    chart = charts.TimeChart("Score averages by run", "score", series, True, True)
    return charts.time_chart(chart, viewer_zone(page.request))


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"


def _row(row: Row, names: list[str]) -> Row:
    """A comparison's row as its cells show it: each score before → after, and its
    change (``down`` when it fell), worked out here rather than in the template (a
    comparison of thousands of items)."""
    one = row["after"] or row["before"]
    cells: list[tuple[str, str | None, str, str]] = []
    for name in names:
        delta = row["deltas"].get(name)
        if delta is None:
            cells.append((name, None, "", ""))
            continue
        before, after = row["before"]["scores"][name], row["after"]["scores"][name]
        shown = f"{_number(before)} → {_number(after)} "
        kind = "down" if delta < 0 else "up" if delta > 0 else ""
        cells.append((name, shown, f"{delta:+.3g}", kind))
    return {**row, "one": one, "input": brief(one["input"]), "cells": cells}


async def experiments_page(page: Page) -> Response:
    assert page.project is not None
    project = page.project
    chosen = page.params.get("group") or None

    def read(store: Store) -> tuple[list[str], str | None, list[Row]]:
        newest = store.list_experiments(project.id, None, experiments.MAX_RUNS)
        groups = sorted({run.group_name for run in newest})
        group = chosen or (newest[0].group_name if newest else None)
        runs = store.list_experiments(project.id, group, RUNS_SHOWN) if group else []
        shown = [
            {
                **experiments.present_experiment(run, project.name),
                "averages": experiments.averages(
                    store.list_experiment_items(project.id, run.experiment_id)
                ),
            }
            for run in runs
        ]
        return groups, group, shown

    groups, group, runs = await page.call(read, page.store)
    names = sorted({name for run in runs for name in run["averages"]})
    listed = [
        Listed(run, runs[n + 1]["experiment_id"] if n + 1 < len(runs) else None)
        for n, run in enumerate(runs)
    ]
    return await page.render(
        "experiments.html",
        nav="experiments",
        groups=groups,
        group=group,
        runs=listed,
        names=names,
        chart=_chart(runs, names, page) if runs else None,
    )


def _pages(first: int, rows: int, compare: str | None) -> Row:
    """The table's page: its first and last row (from 1), how many rows in all, and the
    links to the pages before and after it (None where there is none)."""
    kept = f"compare={quote(compare, safe='')}&" if compare else ""
    later = first + ITEMS_SHOWN
    return {
        "first": min(first + 1, rows),
        "last": min(later, rows),
        "rows": rows,
        "earlier": f"?{kept}from={max(0, first - ITEMS_SHOWN)}" if first > 0 else None,
        "later": f"?{kept}from={later}" if later < rows else None,
    }


def _run_id(page: Page, name: str) -> str:
    given = page.request.path_params.get(name) or page.params.get(name, "")
    try:
        return check_name(given)
    except BadRequest:
        raise NotFound(f'No experiment "{given[:100]}" in this project.') from None


async def experiment_page(page: Page) -> Response:
    """One run; with ``?compare=<id>``, that run beside it, item by item."""
    assert page.project is not None
    project = page.project
    experiment_id = _run_id(page, "experiment_id")
    other_id = _run_id(page, "compare") if page.params.get("compare") else None

    def read(store: Store) -> tuple[experiments.Run, list[Experiment], experiments.Run | None]:
        run = experiments.read(store, project.id, experiment_id)
        if run is None:
            raise NotFound(f'No experiment "{experiment_id}" in this project.')
        others = store.list_experiments(project.id, run.experiment.group_name, RUNS_SHOWN)
        other = None
        if other_id is not None:
            other = experiments.read(store, project.id, other_id)
            if other is None:
                raise NotFound(f'No experiment "{other_id}" in this project.')
        return run, [o for o in others if o.experiment_id != experiment_id], other

    try:
        first = max(0, int(page.params.get("from") or 0))
    except ValueError:
        raise BadRequest("from must be a whole number of items.") from None
    window = slice(first, first + ITEMS_SHOWN)
    run, others, other = await page.call(read, page.store)
    shown = run.present(project.name, window)
    names = sorted({name for item in run.items for name in orjson.loads(item.scores)})
    older = [o for o in others if o.created_ns < run.experiment.created_ns]
    comparison = None
    rows = len(run.items)
    if other is not None:
        pairs = experiments.compare(other.items, run.items)
        rows = len(pairs)
        comparison = {
            "run": other.present(project.name, slice(0)),
            "rows": [
                _row(row, names)
                for row in experiments.present_comparison(pairs[window], project.name)
            ],
            "worse": sum(1 for pair in pairs if pair.worst < 0),
        }
    return await page.render(
        "experiment.html",
        nav="experiments",
        run=shown,
        names=names,
        others=[experiments.present_experiment(o, project.name) for o in others],
        previous=older[0].experiment_id if older else None,
        comparison=comparison,
        pages=_pages(first, rows, other_id),
        brief=brief,
        when_of=moment,
        api_project=f"?project={quote(project.name, safe='')}",
    )
