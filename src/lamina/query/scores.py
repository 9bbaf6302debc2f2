"""Scores and score configs as the JSON API, the pages and the CLI take and give them.

Parsing turns an untrusted JSON object into a :class:`~lamina.store.scores.Score`
checked against the project's config of its name (numeric within its bounds, boolean
0/1 or true/false, categorical a label of its categories, which gives the value); a
name without a config is numeric, and ``outcome`` is built in. A bad field is a
BadRequest naming it (and, in a batch, which score). Presenting gives the JSON form.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from lamina.errors import BadRequest
from lamina.query.present import moment, score
from lamina.store.base import Row, Store
from lamina.store.scores import (
    BUILT_IN_CONFIGS,
    OUTCOME,
    Category,
    Score,
    ScoreConfig,
    ScoreType,
)

MAX_BATCH = 1000  # scores in one request
MAX_NAME = 200
MAX_ID = 256
MAX_COMMENT = 10_000
MAX_CATEGORIES = 100
MAX_DESCRIPTION = 2000
# A name: letters, digits and _ . - : / and spaces, not starting or ending with a space.
NAME = re.compile(r"^[\w.:/-]([\w .:/-]*[\w.:/-])?$")
SOURCES = ("sdk", "api")  # and evaluator:<name>; a browser's scores are "ui"
_HEX = re.compile(r"^[0-9a-fA-F]+$")
EVALUATOR = re.compile(r"^evaluator:[\w.:/-]{1,100}$")
SCORE_FIELDS = (
    "score_id",
    "name",
    "value",
    "label",
    "session_id",
    "trace_id",
    "span_id",
    "comment",
    "source",
)
CONFIG_FIELDS = ("name", "type", "min", "max", "categories", "description")


@dataclass(frozen=True, slots=True)
class Giver:
    """Who gives the scores of a request: the author recorded, and whether the
    request may name its source (an API key or the admin token) or is a browser's
    (always ``ui``); only the admin token imports scores given in the browser."""

    author: str | None
    browser: bool = False
    admin: bool = False


def new_score_id() -> str:
    return uuid.uuid4().hex


def end_session(
    store: Store, project_id: str, session_id: str, outcome: str | None, giver: Giver
) -> Row:
    """End the session now (ending it again keeps the first time) and, with an
    ``outcome``, give it an outcome score."""
    now_ns = time.time_ns()
    made = None
    if outcome is not None:
        item = {"name": OUTCOME.name, "label": outcome, "session_id": session_id}
        made = to_score(item, BUILT_IN_CONFIGS, giver, now_ns, new_score_id)
    store.end_session(project_id, session_id, now_ns)
    if made is not None:
        store.add_scores(project_id, [made])
    return {
        "session_id": session_id,
        "ended_at": moment(now_ns),
        "outcome": None if made is None else score(made),
    }


def configs(store: Store, project_id: str) -> dict[str, ScoreConfig]:
    """The project's configs by name, the built-in ones included."""
    return _with_built_in(store.list_score_configs(project_id))


def cached_configs(store: Store, project_id: str) -> dict[str, ScoreConfig] | None:
    """:func:`configs` when the store holds them in memory (no I/O: fit for the event
    loop), else None."""
    found = store.cached_score_configs(project_id)
    return None if found is None else _with_built_in(found)


def _with_built_in(found: Sequence[ScoreConfig]) -> dict[str, ScoreConfig]:
    return {**{config.name: config for config in found}, **BUILT_IN_CONFIGS}


def check_imported(
    scores: Sequence[Score], known: Mapping[str, ScoreConfig], giver: Giver
) -> list[Score]:
    """An export's scores as an import stores them: their ids, sources, authors and
    times kept (importing a file twice adds each once), each whose name has a config in
    the project checked against it as a given score is (a categorical score takes its
    label's value from the config); one without is kept as exported (an export does
    not carry its configs). Only the admin token (``lamina import``) imports a score
    given in the browser (source ``ui``): a key that could would pass its own scores
    off as a person's judgement."""
    out: list[Score] = []
    for item in scores:
        at = f"score {item.score_id[:80]!r}: "
        if item.source == "ui" and not giver.admin:
            raise BadRequest(
                f"{at}its source is ui (given by a person in the web pages), which only "
                "the admin token may import (`lamina import` uses it); a project API key "
                "cannot. Import it with the admin token, or leave it out."
            )
        # "experiment": an experiment run's scores on its traces (lamina.evaluation.experiments)
        if item.source not in ("ui", "experiment", *SOURCES) and not EVALUATOR.match(item.source):
            raise BadRequest(
                f"{at}source must be sdk, api, ui, experiment or evaluator:<name>; got "
                f"{item.source[:80]!r}."
            )
        name = _name(item.name, f"{at}name")
        config = known.get(name)
        if config is None:
            out.append(item)
            continue
        value = None if config.type is ScoreType.CATEGORICAL else item.value
        checked, label = judge(config, name, value, item.label, at)
        out.append(replace(item, value=checked, label=label))
    return out


def to_scores(
    body: Any, known: Mapping[str, ScoreConfig], giver: Giver, now_ns: int, new_id: Any
) -> tuple[list[Score], bool]:
    """The body's scores (``{"scores": [...]}`` or one score) and whether it was a
    batch. ``new_id()`` makes the id of a score the client gave none."""
    if not isinstance(body, dict):
        raise BadRequest('The body must be a JSON object: one score, or {"scores": [...]}.')
    if "scores" in body:
        if set(body) != {"scores"}:
            raise BadRequest('A batch is {"scores": [...]} and nothing else.')
        items = body["scores"]
        if not isinstance(items, list) or not items:
            raise BadRequest("scores must be a list of 1 or more scores.")
        if len(items) > MAX_BATCH:
            raise BadRequest(f"At most {MAX_BATCH} scores in one request; got {len(items)}.")
        made = [
            to_score(item, known, giver, now_ns, new_id, f"scores[{n}]")
            for n, item in enumerate(items)
        ]
        return made, True
    return [to_score(body, known, giver, now_ns, new_id, "")], False


def to_score(
    item: Any,
    known: Mapping[str, ScoreConfig],
    giver: Giver,
    now_ns: int,
    new_id: Any,
    where: str = "",
) -> Score:
    at = f"{where}: " if where else ""
    if not isinstance(item, dict):
        raise BadRequest(f"{at}a score must be a JSON object.")
    unknown = sorted(item.keys() - set(SCORE_FIELDS))
    if unknown:
        raise BadRequest(
            f"{at}unknown field {unknown[0][:80]!r}; a score takes {', '.join(SCORE_FIELDS)}."
        )
    name = _name(item.get("name"), f"{at}name")
    session_id = _id(item, "session_id", at)
    trace_id = _id(item, "trace_id", at)
    span_id = _id(item, "span_id", at)
    if trace_id is not None:
        trace_id = _hex(trace_id, 32, f"{at}trace_id")
    if span_id is not None:
        span_id = _hex(span_id, 16, f"{at}span_id")
    if session_id is None and trace_id is None:
        raise BadRequest(f"{at}a score needs a session_id or a trace_id (and a span_id).")
    if span_id is not None and trace_id is None:
        raise BadRequest(f"{at}a span_id needs the trace_id of its trace.")
    comment = item.get("comment")
    if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT):
        raise BadRequest(f"{at}comment must be text of at most {MAX_COMMENT} characters.")
    value, label = judge(known.get(name), name, item.get("value"), item.get("label"), at)
    score_id = _id(item, "score_id", at) or new_id()
    return Score(
        score_id=score_id,
        name=name,
        value=value,
        label=label,
        source=_source(item.get("source"), giver, at),
        author=giver.author,
        session_id=session_id,
        trace_id=trace_id,
        span_id=span_id,
        comment=comment or None,
        created_ns=now_ns,
    )


def judge(
    config: ScoreConfig | None, name: str, value: Any, label: Any, at: str = ""
) -> tuple[float | None, str | None]:
    """The value and label a score of ``name`` stores, checked against its config."""
    if config is None or config.type is ScoreType.NUMERIC:
        if label is not None:
            raise BadRequest(f"{at}{name} is numeric: give a value, not a label.")
        number = _number(value, f"{at}value")
        if config is not None and config.min is not None and number < config.min:
            raise BadRequest(f"{at}{name} must be at least {config.min:g}; got {number:g}.")
        if config is not None and config.max is not None and number > config.max:
            raise BadRequest(f"{at}{name} must be at most {config.max:g}; got {number:g}.")
        return number, None
    if config.type is ScoreType.BOOLEAN:
        given = label if value is None else value
        if given in (True, 1, "true"):
            return 1.0, None
        if given in (False, 0, "false"):
            return 0.0, None
        raise BadRequest(f"{at}{name} is a boolean score: its value is true or false (1 or 0).")
    labels = [category.label for category in config.categories]
    if label is None and isinstance(value, str):
        label, value = value, None
    if value is not None or not isinstance(label, str):
        raise BadRequest(f"{at}{name} takes a label, one of: {', '.join(labels)}.")
    for category in config.categories:
        if category.label == label:
            return category.value, label
    raise BadRequest(f"{at}{name} has no label {label[:80]!r}; one of: {', '.join(labels)}.")


def to_config(body: Any) -> ScoreConfig:
    """A config from the JSON body of ``POST /api/v1/score-configs``."""
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object.")
    unknown = sorted(body.keys() - set(CONFIG_FIELDS))
    if unknown:
        raise BadRequest(
            f"Unknown field {unknown[0][:80]!r}: a config takes {', '.join(CONFIG_FIELDS)}."
        )
    name = _name(body.get("name"), "name")
    if name in BUILT_IN_CONFIGS:
        raise BadRequest(f"{name} is built in: it cannot be replaced.")
    kinds = [kind.value for kind in ScoreType]
    if body.get("type") not in kinds:
        raise BadRequest(f"type must be one of {', '.join(kinds)}.")
    kind = ScoreType(body["type"])
    least = None if body.get("min") is None else _number(body["min"], "min")
    most = None if body.get("max") is None else _number(body["max"], "max")
    if least is not None and most is not None and least > most:
        raise BadRequest(f"min ({least:g}) must not be more than max ({most:g}).")
    if kind is not ScoreType.NUMERIC and (least is not None or most is not None):
        raise BadRequest("min and max belong to numeric configs only.")
    categories = _categories(body.get("categories"), kind)
    description = body.get("description")
    if description is not None and (
        not isinstance(description, str) or len(description) > MAX_DESCRIPTION
    ):
        raise BadRequest(f"description must be text of at most {MAX_DESCRIPTION} characters.")
    return ScoreConfig(name, kind, least, most, categories, description or None)


def _categories(given: Any, kind: ScoreType) -> tuple[Category, ...]:
    if kind is not ScoreType.CATEGORICAL:
        if given:
            raise BadRequest("categories belong to categorical configs only.")
        return ()
    if not isinstance(given, list) or not given or len(given) > MAX_CATEGORIES:
        raise BadRequest(
            f"A categorical config needs categories: a list of 1 to {MAX_CATEGORIES} "
            '{"label", "value"} objects.'
        )
    out: list[Category] = []
    for n, item in enumerate(given):
        if not isinstance(item, dict) or set(item) - {"label", "value"}:
            raise BadRequest(f'categories[{n}] must be {{"label": text, "value": number}}.')
        label = _name(item.get("label"), f"categories[{n}].label")
        value = item.get("value")
        number = None if value is None else _number(value, f"categories[{n}].value")
        if any(category.label == label for category in out):
            raise BadRequest(f"categories[{n}]: the label {label!r} is there twice.")
        out.append(Category(label, number))
    return tuple(out)


def config(item: ScoreConfig) -> Row:
    return {
        "name": item.name,
        "type": item.type.value,
        "min": item.min,
        "max": item.max,
        "categories": [{"label": c.label, "value": c.value} for c in item.categories],
        "description": item.description,
        "built_in": item.name in BUILT_IN_CONFIGS,
    }


def _name(given: Any, field: str) -> str:
    if not isinstance(given, str) or not 1 <= len(given) <= MAX_NAME or not NAME.match(given):
        raise BadRequest(
            f"{field} must be 1 to {MAX_NAME} characters: letters, digits, spaces and _ . : / -."
        )
    return given


def _id(item: Mapping[str, Any], field: str, at: str) -> str | None:
    given = item.get(field)
    if given is None:
        return None
    if not isinstance(given, str) or not 1 <= len(given) <= MAX_ID:
        raise BadRequest(f"{at}{field} must be text of 1 to {MAX_ID} characters.")
    return given


def _hex(given: str, digits: int, field: str) -> str:
    """A trace or span id as OpenTelemetry writes it: ``digits`` hex digits."""
    if len(given) != digits or not _HEX.match(given):
        raise BadRequest(
            f"{field} must be {digits} hex digits, as OpenTelemetry writes it; got {given[:80]!r}."
        )
    return given.lower()


def _number(given: Any, field: str) -> float:
    if isinstance(given, bool) or not isinstance(given, int | float):
        raise BadRequest(f"{field} must be a number; got {str(given)[:80]!r}.")
    number = float(given)
    if not math.isfinite(number) or abs(number) > 1e15:
        raise BadRequest(f"{field} must be a finite number within ±1e15.")
    return number


def _source(given: Any, giver: Giver, at: str) -> str:
    if giver.browser:
        if given not in (None, "ui"):
            raise BadRequest(f"{at}scores given in the browser have the source ui.")
        return "ui"
    if given is None:
        return "api"
    if isinstance(given, str) and (given in SOURCES or EVALUATOR.match(given)):
        return given
    raise BadRequest(f"{at}source must be sdk, api or evaluator:<name>; got {str(given)[:80]!r}.")
