"""SQL for scores in the lists of sessions and traces: score filters, the sort by a
score, a session's status, and the score summaries of a page's rows.

A session's scores are its own (``session_id``) and those of its traces; a trace's,
those with its ``trace_id`` (its spans' too). A score naming a session and a trace of
another session counts for both. Lists read the totals (``session_score_totals``,
``trace_score_totals``): for each session or trace and score name, the average (of the scores
with a value), the count and the labels, kept by every change of scores (see
lamina.store.duckdb.scores), so that a filter or sort by a score reads one small row
a session instead of grouping every score. Built as text plus parameters; no user
value is ever formatted into the SQL.
"""

from __future__ import annotations

from typing import Any

from lamina.store.queries import ScoreCondition

# A session ends once its last span ended this long ago, unless its project says else
# (projects.session_idle_minutes; a project without a row, as in tests, has this).
DEFAULT_IDLE_MINUTES = 30
MINUTE_NS = 60_000_000_000
SESSION = "session"
TRACE = "trace"
TOTALS = {SESSION: "session_score_totals", TRACE: "trace_score_totals"}


def score_filters(
    project_id: str,
    kind: str,
    key: str,
    conditions: tuple[ScoreCondition, ...],
    has_scores: tuple[str, ...],
) -> tuple[list[str], list[Any]]:
    """WHERE conditions on ``key`` (the row's id column; ``kind`` says whose) for
    ``score=`` and ``has_score=`` filters. A number compares the average of the name's
    scores (those without a value left out); a label ``=`` matches a row with any score
    of that label, ``!=`` a row with scores of that name and none of that label. A row
    without a score of the name never matches."""
    where: list[str] = []
    params: list[Any] = []
    for condition in conditions:
        if condition.label is not None:
            test = (
                "list_contains(labels, ?)"
                if condition.op == "="
                else "NOT list_contains(labels, ?)"
            )
            value: Any = condition.label
        else:
            op = "<>" if condition.op == "!=" else condition.op
            assert op in ("=", "<>", "<", "<=", ">", ">="), op
            test, value = f"avg {op} ?", condition.value
        where.append(f"{key} IN ({_totals(kind)} AND {test})")
        params += [project_id, condition.name, value]
    for name in has_scores:
        where.append(f"{key} IN ({_totals(kind)})")
        params += [project_id, name]
    return where, params


def score_sort(
    project_id: str, kind: str, table: str, key: str, name: str
) -> tuple[str, list[Any]]:
    """The sort value of a row of ``table`` by score ``name``: the average of its
    scores of that name (NULL without one, or with only scores without a value)."""
    return (
        f"(SELECT avg FROM {TOTALS[kind]} st WHERE st.project_id = ? "
        f"AND st.name = ? AND st.owner = {table}.{key})",
        [project_id, name],
    )


def score_keyset(
    descending: bool, key: str, cursor_value: Any, cursor_key: str
) -> tuple[str, list[Any]]:
    """The rows after a cursor in a sort by a score, rows without it last either way."""
    op = "<" if descending else ">"
    if cursor_value is None:
        return f"(_sort IS NULL AND {key} {op} ?)", [cursor_key]
    return f"(_sort IS NULL OR _sort {op} ? OR (_sort = ? AND {key} {op} ?))", [
        cursor_value,
        cursor_value,
        cursor_key,
    ]


def score_order(descending: bool, key: str) -> str:
    direction = "DESC" if descending else "ASC"
    return f"ORDER BY _sort {direction} NULLS LAST, {key} {direction}"


def ended(project_id: str, now_ns: int) -> tuple[str, list[Any]]:
    """A session row is ended: ended explicitly, or its last span ended at least the
    project's idle time before ``now_ns``."""
    return (
        "(end_ns <= ? - ? * coalesce((SELECT session_idle_minutes FROM projects WHERE id = ?), ?)"
        " OR session_id IN (SELECT session_id FROM session_ends WHERE project_id = ?))"
    ), [now_ns, MINUTE_NS, project_id, DEFAULT_IDLE_MINUTES, project_id]


def _totals(kind: str) -> str:
    return f"SELECT owner FROM {TOTALS[kind]} WHERE project_id = ? AND name = ?"


def summaries(kind: str) -> str:
    """The summaries of chosen sessions or traces (parameters: the project, the list of
    their ids)."""
    return (
        f"SELECT owner, name, avg, count, labels FROM {TOTALS[kind]} "
        "WHERE project_id = ? AND list_contains(?::VARCHAR[], owner)"
    )
