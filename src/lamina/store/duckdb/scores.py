"""Scores, score configs and session ends in the DuckDB store (see lamina.store.scores).

Scores are journaled when given (lamina.store.duckdb.score_journal) and stored here
later, many calls a transaction, under the storer's store lock (as deletes are), so
that storing them never runs beside a fold. A score on a trace keeps the session of
its trace in ``trace_session``: filled when the score is stored if the trace is, and
by the fold (:func:`resolve_trace_sessions`) when the trace arrives or moves later.
Holding the lock makes the two meet: a score stored while its trace is being folded
would otherwise miss it on both sides. Reads (lamina.store.scores_sql) then never join
scores to traces.

Configs and session ends are small tables changed by one statement each, as the catalog
is (lamina.store.duckdb.catalog).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa

from lamina.store.base import Row
from lamina.store.duckdb.connection import Connection, one
from lamina.store.duckdb.remembered import Key
from lamina.store.queries import Cursor, Page
from lamina.store.scores import Score, ScoreQuery
from lamina.store.scores_sql import (
    DEFAULT_IDLE_MINUTES,
    MINUTE_NS,
    SESSION,
    TOTALS,
    TRACE,
    summaries,
)

SCORE_FIELDS = tuple(field.name for field in dataclasses.fields(Score))
_FIELDS = ", ".join(SCORE_FIELDS)
_SCORE_SCHEMA = pa.schema(
    [
        ("project_id", pa.string()),
        ("score_id", pa.string()),
        ("name", pa.string()),
        ("value", pa.float64()),
        ("label", pa.string()),
        ("source", pa.string()),
        ("author", pa.string()),
        ("session_id", pa.string()),
        ("trace_id", pa.string()),
        ("span_id", pa.string()),
        ("comment", pa.string()),
        ("created_ns", pa.int64()),
    ]
)
# New scores (registered as ``new_scores``) not yet stored, each once (the first given
# of an id), with the session of their trace when it is stored.
_ADD = """
CREATE OR REPLACE TEMP TABLE changed_scores AS
SELECT n.*, t.session_id AS trace_session
FROM (
    SELECT * FROM new_scores
    QUALIFY row_number() OVER (PARTITION BY project_id, score_id ORDER BY created_ns) = 1
) n
LEFT JOIN (SELECT project_id, trace_id, session_id FROM traces
    WHERE trace_id IN (SELECT trace_id FROM new_scores)) t USING (project_id, trace_id)
LEFT JOIN (SELECT project_id, score_id, true AS stored FROM scores
    WHERE score_id IN (SELECT score_id FROM new_scores)) s USING (project_id, score_id)
WHERE s.stored IS NULL
"""
# The scores on the traces a fold touched (``folded_traces``) take their traces' session.
# Whether any score names one of them (the usual answer, for new traces, is no: one
# scan of the scores' trace ids), then those whose trace's session is not the one they
# keep (a trace that came after its scores, or moved): only these change.
_ANY_ON_FOLDED = """
SELECT count(*) FROM scores WHERE trace_id IN (SELECT trace_id FROM folded_traces)
"""
_STALE = """
CREATE OR REPLACE TEMP TABLE stale_scores AS
SELECT s.rowid AS score_row, s.project_id, s.session_id, s.trace_id, s.trace_session,
    t.session_id AS new_session
FROM scores s JOIN (SELECT project_id, trace_id, session_id FROM traces
    WHERE trace_id IN (SELECT trace_id FROM folded_traces)) t USING (project_id, trace_id)
WHERE s.trace_id IN (SELECT trace_id FROM folded_traces)
    AND s.trace_session IS DISTINCT FROM t.session_id
"""
_RESOLVE = """
UPDATE scores SET trace_session = stale_scores.new_session FROM stale_scores
WHERE scores.rowid = stale_scores.score_row
"""
_STALE_CHANGED = """
CREATE OR REPLACE TEMP TABLE changed_scores AS
SELECT project_id, session_id, trace_id, trace_session FROM stale_scores
UNION ALL SELECT project_id, session_id, trace_id, new_session FROM stale_scores
"""
# The totals (scores_sql.TOTALS) of the sessions and traces that the changed scores
# (``changed_scores``: their project_id, session_id, trace_id and trace_session, before
# and after the change) count for, computed again from their scores.
_TOUCHED = """
CREATE OR REPLACE TEMP TABLE touched_owners AS
SELECT DISTINCT project_id, kind, owner FROM (
    SELECT project_id, 'session' AS kind, session_id AS owner FROM changed_scores
    WHERE session_id IS NOT NULL
    UNION ALL SELECT project_id, 'session', trace_session FROM changed_scores
    WHERE trace_session IS NOT NULL
    UNION ALL SELECT project_id, 'trace', trace_id FROM changed_scores
    WHERE trace_id IS NOT NULL
)
"""
_FORGET_TOTALS = """
DELETE FROM {table} WHERE EXISTS (
    SELECT 1 FROM touched_owners o WHERE o.kind = '{kind}'
        AND o.project_id = {table}.project_id AND o.owner = {table}.owner
)
"""
_TOTALS = """
INSERT INTO {table}
SELECT project_id, owner, name, avg(value), count(*),
    coalesce(list(DISTINCT label) FILTER (WHERE label IS NOT NULL), []::VARCHAR[])
FROM ({scores}) JOIN (SELECT project_id, owner FROM touched_owners WHERE kind = '{kind}')
    USING (project_id, owner)
GROUP BY project_id, owner, name
"""
_OWNED = {  # the scores of touched owners, with the owner they count for
    SESSION: """
    SELECT project_id, session_id AS owner, name, value, label FROM scores
    WHERE session_id IN (SELECT owner FROM touched_owners WHERE kind = 'session')
    UNION ALL SELECT project_id, trace_session, name, value, label FROM scores
    WHERE trace_session IN (SELECT owner FROM touched_owners WHERE kind = 'session')
        AND trace_session IS DISTINCT FROM session_id
    """,
    TRACE: """
    SELECT project_id, trace_id AS owner, name, value, label FROM scores
    WHERE trace_id IN (SELECT owner FROM touched_owners WHERE kind = 'trace')
    """,
}
_FAILURE = "The store could not save scores ({error}). {advice}"


# -- writes ------------------------------------------------------------------------
Added = tuple[str, Sequence[Score]]  # a call's project id and scores


def add(connection: Connection, calls: Sequence[Added]) -> None:
    """Store the calls' scores not stored yet, in one transaction (the caller holds the
    store lock)."""
    columns: dict[str, list[Any]] = {
        "project_id": [project_id for project_id, scores in calls for _ in scores]
    }
    for name in SCORE_FIELDS:
        columns[name] = [getattr(score, name) for _, scores in calls for score in scores]
    rows = pa.table(columns, schema=_SCORE_SCHEMA)
    with connection.transaction(_FAILURE) as con:
        con.register("new_scores", rows)
        try:
            con.execute(_ADD)
        finally:
            con.unregister("new_scores")
        con.execute("INSERT INTO scores BY NAME SELECT * FROM changed_scores")
        _total(con)


def _total(con: duckdb.DuckDBPyConnection) -> None:
    """Compute the totals that ``changed_scores`` touch again (see _TOUCHED)."""
    con.execute(_TOUCHED)
    for kind, table in TOTALS.items():
        con.execute(_FORGET_TOTALS.format(table=table, kind=kind))
        con.execute(_TOTALS.format(table=table, kind=kind, scores=_OWNED[kind]))
    con.execute("DROP TABLE changed_scores")


def resolve_trace_sessions(con: duckdb.DuckDBPyConnection, traces: pa.Table) -> None:
    """Inside a fold's transaction: the scores on the folded traces (``traces``, summary
    deltas) take the session their trace has now."""
    con.register("folded_traces", traces.select(["trace_id"]))
    try:
        (found,) = one(con.execute(_ANY_ON_FOLDED))
        if not found:
            return
        con.execute(_STALE)
        (stale,) = one(con.execute("SELECT count(*) FROM stale_scores"))
        if stale:
            con.execute(_RESOLVE)
            con.execute(_STALE_CHANGED)
            _total(con)
        con.execute("DROP TABLE stale_scores")
    finally:
        con.unregister("folded_traces")


def delete_score(connection: Connection, project_id: str, score_id: str) -> Score | None:
    where, params = "project_id = ? AND score_id = ?", [project_id, score_id]
    with connection.transaction(_FAILURE) as con:
        rows = _delete(con, where, params)
    return Score(*rows[0]) if rows else None


def _delete(con: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> list[Any]:
    """Delete the scores matching ``where`` and compute the totals they counted in
    again; the deleted scores' fields."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE changed_scores AS "
        f"SELECT project_id, session_id, trace_id, trace_session FROM scores WHERE {where}",
        params,
    )
    rows = con.execute(f"DELETE FROM scores WHERE {where} RETURNING {_FIELDS}", params).fetchall()
    _total(con)
    return rows


def delete_of_traces(con: duckdb.DuckDBPyConnection, project_id: str) -> None:
    """Inside a delete's transaction: the scores on the traces being deleted (``doomed``)."""
    _delete(con, "project_id = ? AND trace_id IN (SELECT trace_id FROM doomed)", [project_id])


def delete_of_session(con: duckdb.DuckDBPyConnection, project_id: str, session_id: str) -> None:
    """Inside a delete's transaction: the session's own scores and its end."""
    _delete(con, "project_id = ? AND session_id = ?", [project_id, session_id])
    con.execute(
        "DELETE FROM session_ends WHERE project_id = ? AND session_id = ?", [project_id, session_id]
    )


# -- reads -------------------------------------------------------------------------
def list_scores(connection: Connection, project_id: str, query: ScoreQuery) -> Page[Score]:
    """Newest first; a session's are its own and its traces'."""
    where = ["project_id = ?"]
    params: list[Any] = [project_id]
    if query.session_id is not None:
        where.append("(session_id = ? OR trace_session = ?)")
        params += [query.session_id, query.session_id]
    for column, value in (
        ("trace_id", query.trace_id),
        ("name", query.name),
        ("source", query.source),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if query.since_ns is not None:
        where.append("created_ns >= ?")
        params.append(query.since_ns)
    if query.until_ns is not None:
        where.append("created_ns < ?")
        params.append(query.until_ns)
    if query.cursor is not None:
        where.append("(created_ns < ? OR (created_ns = ? AND score_id < ?))")
        params += [query.cursor.value, query.cursor.value, query.cursor.key]
    rows = connection.query(
        f"SELECT {_FIELDS} FROM scores WHERE {' AND '.join(where)} "
        "ORDER BY created_ns DESC, score_id DESC LIMIT ?",
        [*params, query.limit + 1],
    )
    scores = [Score(**row) for row in rows[: query.limit]]
    cursor = None
    if len(rows) > query.limit:
        cursor = Cursor("created", scores[-1].created_ns, scores[-1].score_id).encode()
    return Page(scores, cursor)


def session_scores(connection: Connection, project_id: str, session_id: str) -> list[Row]:
    """The session's scores and its traces', newest first, as dicts."""
    rows = connection.query(
        f"SELECT {_FIELDS} FROM scores WHERE project_id = ? "
        "AND (session_id = ? OR trace_session = ?) ORDER BY created_ns DESC, score_id DESC",
        [project_id, session_id, session_id],
    )
    return rows


def trace_scores(
    connection: Connection, project_id: str, trace_ids: list[str]
) -> dict[str, list[Row]]:
    """Each trace's scores and its spans', newest first, as dicts (one statement)."""
    out: dict[str, list[Row]] = {trace_id: [] for trace_id in trace_ids}
    for row in connection.query(
        f"SELECT {_FIELDS} FROM scores WHERE project_id = ? "
        "AND list_contains(?::VARCHAR[], trace_id) "
        "ORDER BY created_ns DESC, score_id DESC",
        [project_id, trace_ids],
    ):
        out[row["trace_id"]].append(row)
    return out


def add_session_fields(connection: Connection, project_id: str, rows: list[Row]) -> None:
    """Give session rows their ``status``, ``ended_ns`` and ``score_summary``: two small
    statements for the page, whatever its filters, for the sessions whose fields were
    not read since the last write (lamina.store.duckdb.remembered)."""
    if not rows:
        return
    writes = connection.writes_done()
    keys: list[Key] = [(SESSION, project_id, row["session_id"]) for row in rows]
    idle_key: Key = ("idle", project_id)
    known = connection.remembered.known(writes, [*keys, idle_key])
    missing = [key[2] for key in keys if key not in known]
    if missing or idle_key not in known:
        found = connection.query(
            "SELECT (SELECT session_idle_minutes FROM projects WHERE id = ?) AS idle, "
            "list(session_id) AS ids, list(ended_ns) AS ends FROM session_ends "
            "WHERE project_id = ? AND list_contains(?::VARCHAR[], session_id)",
            [project_id, project_id, missing],
        )[0]
        ends = dict(zip(found["ids"] or [], found["ends"] or [], strict=True))
        summaries = _summaries(connection, SESSION, [project_id, missing]) if missing else {}
        read: dict[Key, Any] = {
            (SESSION, project_id, i): (ends.get(i), summaries.get(i, {})) for i in missing
        }
        read[idle_key] = int(found["idle"] or DEFAULT_IDLE_MINUTES)
        connection.remembered.keep(writes, connection.writes_done(), read)
        known = {**known, **read}
    idle_ns = known[idle_key] * MINUTE_NS
    now = time.time_ns()
    for row, key in zip(rows, keys, strict=True):
        ended_ns, summary = known[key]
        if ended_ns is None and row["end_ns"] + idle_ns <= now:
            ended_ns = row["end_ns"] + idle_ns
        row["status"] = "active" if ended_ns is None else "ended"
        row["ended_ns"] = ended_ns
        row["score_summary"] = {name: dict(total) for name, total in summary.items()}


def add_trace_fields(connection: Connection, project_id: str, rows: list[Row]) -> None:
    """Give trace rows their ``score_summary``: one statement for the page (for the
    traces whose summaries were not read since the last write)."""
    if not rows:
        return
    writes = connection.writes_done()
    keys: list[Key] = [(TRACE, project_id, row["trace_id"]) for row in rows]
    known = connection.remembered.known(writes, keys)
    missing = [key[2] for key in keys if key not in known]
    if missing:
        summaries = _summaries(connection, TRACE, [project_id, missing])
        read: dict[Key, Any] = {(TRACE, project_id, i): summaries.get(i, {}) for i in missing}
        connection.remembered.keep(writes, connection.writes_done(), read)
        known = {**known, **read}
    for row, key in zip(rows, keys, strict=True):
        row["score_summary"] = {name: dict(total) for name, total in known[key].items()}


def _summaries(
    connection: Connection, kind: str, params: list[Any]
) -> dict[str, dict[str, dict[str, Any]]]:
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for row in connection.query(summaries(kind), params):
        avg = None if row["avg"] is None else float(row["avg"])
        entry: dict[str, Any] = {"avg": avg, "count": int(row["count"])}
        if row["labels"]:
            entry["labels"] = sorted(row["labels"])
        out.setdefault(row["owner"], {})[row["name"]] = entry
    return out


# -- session ends --------------------------------------------------------
def end_session(connection: Connection, project_id: str, session_id: str, ended_ns: int) -> None:
    """The first end is kept."""
    connection.write(
        "INSERT OR IGNORE INTO session_ends VALUES (?, ?, ?)", [project_id, session_id, ended_ns]
    )
