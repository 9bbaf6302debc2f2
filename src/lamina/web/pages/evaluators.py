"""The Evaluators page (#20): the project's evaluators with their state (a failing
one's last error), their recent runs (status, the score each wrote, its error,
superseded ones struck through), a switch to turn one on or off, "Try on a session",
and a form to add one; and each evaluator's own page.

The page only reads; its controls send the JSON API's requests as the signed-in user
(``web/static/evaluators.js``, with the page's CSRF token), so the page, the API and
the CLI change evaluators through one path (:mod:`lamina.evaluation.manage`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson
from starlette.responses import Response

from lamina.evaluation import checks, definition, health
from lamina.evaluation.health import Health
from lamina.evaluation.manage import find, present_run
from lamina.store.base import Store
from lamina.store.evaluators import Evaluator, Progress, RunQuery, RunStatus
from lamina.web.pages.base import Page

RECENT_RUNS = 20
EXAMPLE = {
    "name": "last-turn-error",
    "target": "session",
    "quiet_seconds": 600,
    "kind": "check",
    "check": {"type": "error_in_last_turn", "params": {}},
}


@dataclass(frozen=True, slots=True)
class ParamField:
    name: str
    help: str
    default: Any
    number: bool
    choices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CheckForm:
    type: str
    found: str
    params: list[ParamField]


def check_forms() -> list[CheckForm]:
    """The checks as the editor offers them, each with its params' fields."""
    forms = []
    for kind in checks.CHECKS:
        defaults = checks.defaults(kind)
        fields = [
            ParamField(
                name,
                help_text,
                defaults.get(name),
                number=name != "pattern" and name != "field",
                choices=("output", "input") if name == "field" else (),
            )
            for name, help_text in checks.params_help(kind).items()
        ]
        forms.append(CheckForm(kind, checks.FOUND[kind], fields))
    return forms


@dataclass(frozen=True, slots=True)
class Shown:
    evaluator: dict[str, Any]
    what: str  # the check's type or the judge's model
    runs: list[dict[str, Any]]  # newest first
    counts: dict[str, int]  # of the recent runs, by status
    spread: str  # of the recent scores (not superseded): "found in 2 of 9", "avg 0.74 of 9"
    health: Health  # its state: ok, failing (with the newest error), idle, disabled
    # why a run not done yet is waiting: its endpoint failed (it is tried again after a
    # backoff) or the daily budget is spent (it waits for the next UTC day)
    waiting: str | None = None

    @property
    def last(self) -> dict[str, Any] | None:
        return self.runs[0] if self.runs else None


def read(store: Store, project_id: str) -> list[Shown]:
    return [show(store, project_id, e) for e in store.list_evaluators(project_id)]


def show(store: Store, project_id: str, evaluator: Evaluator) -> Shown:
    """The evaluator, its recent runs and its state, as its row and its page show it."""
    presented = definition.present(evaluator)
    runs = store.list_runs(project_id, evaluator.evaluator_id, RunQuery(limit=RECENT_RUNS))
    values = [
        r.value
        for r in runs
        if r.status == RunStatus.OK and r.superseded_ns is None and r.value is not None
    ]
    if not values:
        spread = "—"
    elif presented["kind"] == "check":
        spread = f"found in {sum(v >= 0.5 for v in values)} of {len(values)}"
    else:
        spread = f"avg {sum(values) / len(values):.2f} of {len(values)}"
    check = presented.get("check") or {}
    llm = presented.get("llm") or {}
    return Shown(
        evaluator=presented,
        what=check.get("type") or llm.get("model") or "",
        runs=[present_run(run) for run in runs],
        counts=dict(Counter(str(run.status) for run in runs)),
        spread=spread,
        health=health.read(store, project_id, evaluator),
        waiting=next((r.error for r in runs if r.finished_ns is None and r.error), None),
    )


async def evaluators_page(page: Page) -> Response:
    assert page.project is not None
    shown = await page.call(read, page.store, page.project.id)
    return await page.render(
        "evaluators.html",
        nav="evaluators",
        evaluators=shown,
        example=orjson.dumps(EXAMPLE, option=orjson.OPT_INDENT_2).decode(),
        api_project=f"?project={quote(page.project.name, safe='')}",
        editing=None,
        check_forms=check_forms(),
        score_types=definition.SCORE_TYPES,
    )


async def evaluator_page(page: Page) -> Response:
    """One evaluator: its state (a failing one's last error), the progress of the runs
    in hand (a backfill's), its runs, "Try on a ...", a backfill and its editor."""
    assert page.project is not None
    project_id = page.project.id
    evaluator_id = page.request.path_params["evaluator_id"]

    def read_one() -> tuple[Shown, Progress]:
        found = find(page.store, project_id, evaluator_id)
        return show(page.store, project_id, found), page.store.run_progress(
            project_id, found.evaluator_id
        )

    shown, progress = await page.call(read_one)
    return await page.render(
        "evaluator.html",
        nav="evaluators",
        e=shown,
        progress=health.present_progress(progress),
        api_project=f"?project={quote(page.project.name, safe='')}",
        editing=shown.evaluator,
        check_forms=check_forms(),
        score_types=definition.SCORE_TYPES,
    )
