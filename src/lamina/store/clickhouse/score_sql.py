"""SQL for scores on the ClickHouse store: summaries, list conditions, the sort by a
score, and each session's status.

Scores are stored as they were given (``scores``, read ``FINAL``); what a session or
trace has is worked out when read. A score counts for the session it names and for the
session of the trace it names (the trace's summary's session), once for each; for a
trace, every score naming it (its spans' too). A None value is counted, never averaged
(``avg`` skips NULLs).

A score on a trace keeps its trace's session (``trace_session``), so reads take a
score's session from its own row: grouping every scored trace's session from ``traces``
cost most of a list filtered or sorted by a score. It is found when the score is added;
a write of spans that stores its trace later or moves it to another session gives the
score a new version of its row with the new one (:data:`RESOLVE`). A score added on one
server while another writes its trace is resolved by whichever runs second: the score's
insert runs :data:`RESOLVE` for the traces it did not find, after inserting.
"""

from __future__ import annotations

from typing import Any

from lamina.store.clickhouse.schema import SCORE_ROW, ranked
from lamina.store.queries import ScoreCondition

SCORE_FIELDS = (
    "score_id, name, value, label, source, author, session_id, trace_id, span_id, comment, "
    "created_ns"
)
_SCORES = "SELECT {fields} FROM scores FINAL WHERE project_id = {{project:String}}{narrow}"


def owned(on_sessions: str = "", on_traces: str = "") -> str:
    """(owner, name, value, label): each score once for the session it names
    (``on_sessions`` narrows those) and once for the session of its trace, when that
    is another (``on_traces`` narrows those)."""
    named = _SCORES.format(
        fields="session_id AS owner, name, value, label",
        narrow=f" AND session_id IS NOT NULL{on_sessions}",
    )
    of_traces = _SCORES.format(
        fields="trace_session AS owner, name, value, label",
        narrow=" AND trace_session IS NOT NULL "
        f"AND (session_id IS NULL OR session_id != trace_session){on_traces}",
    )
    return f"{named} UNION ALL {of_traces}"


# The session of each trace of some (``{ids}``), for the scores added on them.
TRACE_SESSIONS = (
    f"SELECT trace_id, {ranked('session_r')} AS session FROM traces "
    "WHERE project_id = {project:String} AND trace_id IN {ids:Array(String)} GROUP BY trace_id"
)
# After a write of spans (its traces: ``{keys}``, (project_id, trace_id) pairs): each
# score on them whose row keeps another session than its trace's now (a trace stored
# after its scores, or moved by an earlier span) gets a new version of its row with it.
RESOLVE = (
    f"INSERT INTO scores ({SCORE_ROW}, version, trace_session) "
    f"SELECT {', '.join('s.' + c for c in SCORE_ROW.split(', '))}, s.version + 1, t._session "
    f"FROM (SELECT {SCORE_ROW}, version, trace_session FROM scores FINAL "
    "WHERE (project_id, assumeNotNull(trace_id)) IN {keys:Array(Tuple(String, String))} "
    "AND trace_id IS NOT NULL) AS s "
    f"INNER JOIN (SELECT project_id, trace_id, {ranked('session_r')} AS _session FROM traces "
    "WHERE (project_id, trace_id) IN {keys:Array(Tuple(String, String))} "
    "GROUP BY project_id, trace_id) AS t "
    "ON t.project_id = s.project_id AND t.trace_id = s.trace_id "
    "WHERE t._session IS NOT NULL "
    "AND (s.trace_session IS NULL OR s.trace_session != t._session)"
)


# Per (session or trace, name): the average, the count and the labels given.
_NAMED = (
    "SELECT {key}, name, avg(value) AS avg, count() AS n, groupUniqArray(label) AS labels "
    "FROM ({rows}) GROUP BY {key}, name"
)


def session_names(on_sessions: str = "", on_traces: str = "") -> str:
    scored = owned(on_sessions, on_traces)
    rows = f"SELECT owner AS session_id, name, value, label FROM ({scored})"
    return _NAMED.format(key="session_id", rows=rows)


def trace_names(narrow: str = "") -> str:
    rows = _SCORES.format(
        fields="trace_id, name, value, label", narrow=f" AND trace_id IS NOT NULL{narrow}"
    )
    return _NAMED.format(key="trace_id", rows=rows)


# The summaries of some sessions or traces ({ids}), one row per name.
SESSION_SUMMARIES = (
    "SELECT session_id AS id, name, avg, n, labels FROM ("
    + session_names(
        " AND session_id IN {ids:Array(String)}", " AND trace_session IN {ids:Array(String)}"
    )
    + ")"
)
TRACE_SUMMARIES = (
    "SELECT trace_id AS id, name, avg, n, labels FROM ("
    + trace_names(" AND trace_id IN {ids:Array(String)}")
    + ")"
)


def scores(narrow: str = "") -> str:
    """The project's scores (``narrow``: more conditions on them)."""
    return _SCORES.format(fields=SCORE_FIELDS, narrow=narrow)


def session_scores(narrow: str = "") -> str:
    """A session's (``{session}``) own scores and its traces', newest first."""
    narrow += " AND (session_id = {session:String} OR trace_session = {session:String})"
    return f"{scores(narrow)} ORDER BY created_ns DESC, score_id DESC"


TRACE_SCORES = (
    _SCORES.format(fields=SCORE_FIELDS, narrow=" AND trace_id IN {ids:Array(String)}")
    + " ORDER BY created_ns DESC, score_id DESC"
)


def named(key: str, param: str) -> str:
    """Per session (``key`` session_id) or trace (trace_id): its scores of the name
    in ``{param}`` (only those read), as :data:`_NAMED`."""
    narrow = f" AND name = {{{param}:String}}"
    return session_names(narrow, narrow) if key == "session_id" else trace_names(narrow)


def conditions(
    key: str,
    scores: tuple[ScoreCondition, ...],
    has_scores: tuple[str, ...],
    params: dict[str, Any],
) -> list[str]:
    """``key IN (...)`` conditions for a list's score filters (``key``: session_id or
    trace_id)."""
    where = []
    for n, condition in enumerate(scores):
        params[f"sn{n}"] = condition.name
        if condition.label is not None:
            params[f"sl{n}"] = condition.label
            held = f"has(labels, {{sl{n}:String}})"
            test = held if condition.op == "=" else f"NOT {held}"
        else:
            params[f"sv{n}"] = condition.value
            test = f"avg {condition.op} {{sv{n}:Float64}}"  # op is one of SCORE_OPS
        where.append(f"{key} IN (SELECT {key} FROM ({named(key, f'sn{n}')}) WHERE {test})")
    for n, name in enumerate(has_scores):
        params[f"hn{n}"] = name
        where.append(f"{key} IN (SELECT {key} FROM ({named(key, f'hn{n}')}))")
    return where


def sort_join(key: str, name: str, params: dict[str, Any]) -> str:
    """A LEFT JOIN giving each row of ``_rows`` its average of ``name`` as ``_score``
    (NULL without)."""
    params["score_sort"] = name
    return (
        f" LEFT JOIN (SELECT {key} AS _scored, avg AS _score "
        f"FROM ({named(key, 'score_sort')})) AS _sc ON _sc._scored = _rows.{key}"
    )


def with_status(sessions: str) -> str:
    """``sessions`` (a query of session rows) with ``ended_ns`` and ``status``: ended
    when ended explicitly (then, the first end), or once its last span ended the
    project's idle time (``{idle_ns}``) ago or more (then, that much after it);
    ``{idle_cutoff}`` is now less the idle time."""
    return (
        "SELECT _s.*, if(_e._at != 0, _e._at, "
        "if(_s.end_ns <= {idle_cutoff:Int64}, _s.end_ns + {idle_ns:Int64}, NULL)) AS ended_ns, "
        "if(ended_ns IS NULL, 'active', 'ended') AS status "
        f"FROM ({sessions}) AS _s LEFT JOIN (SELECT session_id AS _ended, ended_ns AS _at "
        "FROM session_ends FINAL WHERE project_id = {project:String}) AS _e "
        "ON _e._ended = _s.session_id"
    )
