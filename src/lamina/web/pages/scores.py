"""How the pages show scores: a column per score name in the lists, a cell per row.

A list row's ``score_summary`` gives, per name, the average of its scores and how
many there are (``{"quality": {"avg": 0.8, "count": 3}}``), and the labels given. A
numeric average is shown with a colour from red to green over its config's
``min..max`` (0..1 without a config); a categorical name shows the labels its scores
gave when they are one, or several of one value ("abandoned/failure": both count 0),
else the average (a mix, as of success and failure). Names, labels and comments are
user text: the templates escape them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from lamina.evaluation import definition
from lamina.query import present
from lamina.store.base import Row, Store
from lamina.store.evaluators import RunQuery, RunStatus
from lamina.store.scores import BUILT_IN_CONFIGS, OUTCOME, ScoreConfig, ScoreType
from lamina.web.pages.render import plural

BUCKETS = 5  # colour steps from worst (0) to best (4)
MAX_COLUMNS = 8  # score columns in a list, the first names A to Z (and the sorted one)
HISTORY_RUNS = 50  # an evaluator's judgements of one session shown on its page


@dataclass(frozen=True, slots=True)
class Cell:
    text: str  # the average, or a label
    bucket: int | None  # colour step, None when it has no place on a scale
    chip: bool  # a categorical label, shown as a chip
    count: int


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    config: ScoreConfig | None

    @property
    def sort_key(self) -> str:
        return f"score:{self.name}"

    def td(self, row: Row) -> Markup:
        """The row's cell of this column (``<td>``): its label or average, coloured by
        its bucket, the count on hover. Written here, not by a template macro: a list's
        cells were a third of its rendering (two columns of 50 rows, the Users page)."""
        name = escape(self.name)
        c = self.cell(row)
        if c is None:
            inner = '<span class="faint">—</span>'
        else:
            bucket = "" if c.bucket is None else f" score-b{c.bucket}"
            text, scores = escape(c.text), escape(plural(c.count, "score"))
            if c.chip:
                title = f"{name}: {text} ({scores})"
                inner = f'<span class="score-chip{bucket}" title="{title}">{text}</span>'
            else:
                title = f"{name}: average of {scores}"
                inner = f'<span class="score-num{bucket}" title="{title}">{text}</span>'
        return Markup(f'<td class="num c-score" data-score="{name}">{inner}</td>')

    def cell(self, row: Row) -> Cell | None:
        entry = (row.get("score_summary") or {}).get(self.name)
        if not entry:
            return None
        avg, count = entry.get("avg"), int(entry.get("count") or 0)
        if avg is None:
            return Cell("—", None, False, count)
        config = self.config
        if config is not None and config.type == ScoreType.CATEGORICAL:
            given = entry.get("labels") or []
            values = {c.label: c.value for c in config.categories}
            if given and all(values.get(label) == avg for label in given):
                return Cell("/".join(given), _bucket(avg, *_bounds(config)), True, count)
        if config is not None and config.type == ScoreType.BOOLEAN and count == 1:
            return Cell("yes" if avg >= 0.5 else "no", _bucket(avg, 0, 1), True, count)
        return Cell(number(avg), _bucket(avg, *_bounds(config)), False, count)


def configs(store: Store, project_id: str) -> dict[str, ScoreConfig]:
    """The project's score configs by name, the built-in ones included."""
    found = {c.name: c for c in store.list_score_configs(project_id)}
    return {**BUILT_IN_CONFIGS, **found}


def annotating(store: Store, project_id: str) -> list[ScoreConfig]:
    """The configs a trace or span can be annotated with, A to Z (not ``outcome``,
    which the session page's header sets)."""
    known = configs(store, project_id)
    return sorted((c for c in known.values() if c.name != OUTCOME.name), key=lambda c: c.name)


def columns(
    rows: Iterable[Row], known: dict[str, ScoreConfig], also: Sequence[str] = ()
) -> list[Column]:
    """A column per score name in the rows (A to Z, at most MAX_COLUMNS), plus the
    names in ``also`` (the one the list is sorted or filtered by) even with no rows."""
    names: set[str] = set()
    for row in rows:
        names.update((row.get("score_summary") or {}).keys())
    chosen = sorted(names)[:MAX_COLUMNS]
    chosen += [name for name in also if name and name not in chosen]
    return [Column(name, known.get(name)) for name in chosen]


def number(value: float) -> str:
    if value == int(value) and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"


def _bounds(config: ScoreConfig | None) -> tuple[float, float]:
    if config is None:
        return 0.0, 1.0
    if config.type == ScoreType.CATEGORICAL:
        values = [c.value for c in config.categories if c.value is not None]
        return (min(values), max(values)) if values else (0.0, 1.0)
    if config.min is not None and config.max is not None:
        return config.min, config.max
    return 0.0, 1.0


def _bucket(value: float, low: float, high: float) -> int | None:
    if high <= low or not low <= value <= high:
        return None  # outside the scale: shown without a colour
    return min(BUCKETS - 1, int((value - low) / (high - low) * BUCKETS))


def superseded(store: Store, project_id: str, session_id: str) -> list[Row]:
    """The evaluator scores of the session that a newer judgement replaced (their runs
    keep them: lamina.evaluation.runner), each as a score row with ``superseded_at``;
    newest first. Only session evaluators judge a session as a whole."""
    found: list[Row] = []
    for evaluator in store.list_evaluators(project_id):
        if evaluator.target != "session":
            continue
        query = RunQuery(limit=HISTORY_RUNS, target_id=session_id, status=RunStatus.OK)
        runs = store.list_runs(project_id, evaluator.evaluator_id, query)
        llm = definition.spec_of(evaluator).get("llm") or {}
        name = (llm.get("score") or {}).get("name") or evaluator.name
        found += [
            {
                "score_id": run.score_id,
                "name": name,
                "value": run.value,
                "label": run.label,
                "comment": run.comment,
                "source": f"evaluator:{evaluator.name}",
                "author": None,
                "trace_id": run.trace_id,
                "span_id": None,
                "created_at": present.moment(run.finished_ns),
                "superseded_at": present.moment(run.superseded_ns),
            }
            for run in runs
            if run.superseded_ns is not None
        ]
    found.sort(key=lambda row: row["created_at"], reverse=True)
    return found
