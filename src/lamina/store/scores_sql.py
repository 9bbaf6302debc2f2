"""SQL for scores in the lists of sessions and traces: score filters, the sort by a
score, a session's status, and the score summaries of a page's rows.

A session's scores are its own (``session_id``) and those of its traces: each score on a
trace keeps the session of its trace in ``trace_session`` (see
lamina.store.duckdb.scores), so no read joins scores to traces. A score naming a session
and a trace of another session counts for both. Built as text plus parameters; no user
value is ever formatted into the SQL.
"""

from __future__ import annotations

from typing import Any

from lamina.store.queries import ScoreCondition

# A session ends once its last span ended this long ago, unless its project says else
# (projects.session_idle_minutes; a project without a row, as in tests, has this).
DEFAULT_IDLE_MINUTES = 30
MINUTE_NS = 60_000_000_000


def owned_by_session(project_id: str) -> tuple[str, list[Any]]:
    """Every score of the project with the session it counts for (``owner``): a score
    on a session, and a score on a trace whose session is known."""
    return (
        "SELECT session_id AS owner, name, value, label FROM scores "
        "WHERE project_id = ? AND session_id IS NOT NULL "
        "UNION ALL SELECT trace_session AS owner, name, value, label FROM scores "
        "WHERE project_id = ? AND trace_session IS NOT NULL "
        "AND trace_session IS DISTINCT FROM session_id"
    ), [project_id, project_id]


def owned_by_trace(project_id: str) -> tuple[str, list[Any]]:
    """Every score on a trace (or one of its spans) of the project, with the trace."""
    return (
        "SELECT trace_id AS owner, name, value, label FROM scores "
        "WHERE project_id = ? AND trace_id IS NOT NULL"
    ), [project_id]


def score_filters(
    owned: tuple[str, list[Any]],
    key: str,
    conditions: tuple[ScoreCondition, ...],
    has_scores: tuple[str, ...],
) -> tuple[list[str], list[Any]]:
    """WHERE conditions on ``key`` (the row's id column) for ``score=`` and
    ``has_score=`` filters. A number compares the average of the name's scores (those
    without a value left out); a label ``=`` matches a row with any score of that label,
    ``!=`` a row with scores of that name and none of that label. A row without a score
    of the name never matches."""
    sql, owned_params = owned
    where: list[str] = []
    params: list[Any] = []
    for condition in conditions:
        if condition.label is not None and condition.op == "=":
            where.append(f"{key} IN (SELECT owner FROM ({sql}) WHERE name = ? AND label = ?)")
        elif condition.label is not None:
            where.append(
                f"{key} IN (SELECT owner FROM ({sql}) WHERE name = ? GROUP BY owner "
                "HAVING count(*) FILTER (WHERE label = ?) = 0)"
            )
        else:
            op = "<>" if condition.op == "!=" else condition.op
            assert op in ("=", "<>", "<", "<=", ">", ">="), op
            where.append(
                f"{key} IN (SELECT owner FROM ({sql}) WHERE name = ? GROUP BY owner "
                f"HAVING avg(value) {op} ?)"
            )
        label_or_value = condition.label if condition.label is not None else condition.value
        params += [*owned_params, condition.name, label_or_value]
    for name in has_scores:
        where.append(f"{key} IN (SELECT owner FROM ({sql}) WHERE name = ?)")
        params += [*owned_params, name]
    return where, params


def score_sort(
    owned: tuple[str, list[Any]], table: str, key: str, name: str
) -> tuple[str, list[Any]]:
    """The sort value of a row of ``table`` by score ``name``: the average of its
    scores of that name (NULL without one, or with only scores without a value)."""
    sql, params = owned
    return (
        f"(SELECT avg(value) FROM ({sql}) o WHERE o.owner = {table}.{key} AND o.name = ?)",
        [*params, name],
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


# The summaries of chosen sessions (the second and fourth parameters: a list of their
# ids; the first and third: the project): name, average and count, per session.
SESSION_SUMMARIES = """
SELECT owner, name, avg(value) AS avg, count(*) AS count FROM (
    SELECT session_id AS owner, name, value FROM scores
    WHERE project_id = ? AND list_contains(?, session_id)
    UNION ALL
    SELECT trace_session AS owner, name, value FROM scores
    WHERE project_id = ? AND list_contains(?, trace_session)
        AND trace_session IS DISTINCT FROM session_id
) GROUP BY owner, name
"""
# Those of chosen traces (parameters: the project, the list of ids).
TRACE_SUMMARIES = """
SELECT trace_id AS owner, name, avg(value) AS avg, count(*) AS count FROM scores
WHERE project_id = ? AND list_contains(?, trace_id)
GROUP BY owner, name
"""
