"""Evaluators and their runs in the DuckDB store (see lamina.store.evaluators).

One process opens a DuckDB store, so its runner's one thread is the only one that
queues and claims runs: a claim is one UPDATE ... RETURNING, a queue an INSERT with an
anti-join, both under this module's lock (an API backfill queues too). A run still
``running`` when the server stopped has a lease that runs out, and is claimed again
then; the server's start claims them at once (no other process can hold them).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import duckdb
import pyarrow as pa

from lamina.errors import Conflict
from lamina.store.duckdb.connection import Connection, one
from lamina.store.evaluators import Evaluator, Progress, Quiet, Run, RunQuery, RunStatus
from lamina.store.experiments import SESSION_PREFIX

_EVALUATOR_FIELDS = tuple(field.name for field in dataclasses.fields(Evaluator))
_RUN_FIELDS = tuple(field.name for field in dataclasses.fields(Run))
_EVALUATOR = ", ".join(_EVALUATOR_FIELDS)
_RUN = ", ".join(_RUN_FIELDS)
_lock = threading.Lock()
# Runs are written as an Arrow table: a multi-row INSERT of parameters cost DuckDB
# 10-13 ms of CPU for 32 runs and 470 for 1,000 (binding them); the table 4-9.
_ARROW = {"int": pa.int64(), "float": pa.float64()}  # by a Run field's type; else text
_RUN_SCHEMA = pa.schema(
    [
        (f.name, pa.int32() if f.name == "attempts" else _ARROW.get(f.type.split()[0], pa.string()))
        for f in dataclasses.fields(Run)
    ]
)

# A target's version: its span count and its last span's end (spans added change both
# or at least the count).
# an experiment's session and its traces are judged by the experiment, not online
_NOT_AN_EXPERIMENT = (
    f"coalesce(session_id, '') NOT IN (SELECT '{SESSION_PREFIX}' || experiment_id "
    "FROM experiments WHERE project_id = s.project_id)"
)
_QUIET = {
    "session": f"""
        SELECT session_id AS target_id, span_count || ':' || end_ns AS version, end_ns
        FROM sessions s WHERE project_id = ? AND end_ns BETWEEN ? AND ?
            AND {_NOT_AN_EXPERIMENT}
    """,
    "trace": f"""
        SELECT trace_id AS target_id, span_count || ':' || end_ns AS version, end_ns
        FROM traces s WHERE project_id = ? AND end_ns BETWEEN ? AND ?
            AND {_NOT_AN_EXPERIMENT}
    """,
}


def put_evaluator(connection: Connection, project_id: str, evaluator: Evaluator) -> Evaluator:
    with _lock:
        taken = connection.query(
            "SELECT evaluator_id FROM evaluators WHERE project_id = ? AND name = ? "
            "AND evaluator_id <> ?",
            [project_id, evaluator.name, evaluator.evaluator_id],
        )
        if taken:
            raise Conflict(f'This project has an evaluator named "{evaluator.name}" already.')
        with connection.transaction("Could not save the evaluator ({error}). {advice}") as con:
            con.execute(
                "DELETE FROM evaluators WHERE project_id = ? AND evaluator_id = ?",
                [project_id, evaluator.evaluator_id],
            )
            con.execute(
                f"INSERT INTO evaluators (project_id, {_EVALUATOR}) "
                f"VALUES (?, {', '.join('?' * len(_EVALUATOR_FIELDS))})",
                [project_id, *dataclasses.astuple(evaluator)],
            )
    return evaluator


def list_evaluators(connection: Connection, project_id: str) -> list[Evaluator]:
    rows = connection.query(
        f"SELECT {_EVALUATOR} FROM evaluators WHERE project_id = ? ORDER BY name", [project_id]
    )
    return [Evaluator(**row) for row in rows]


def delete_evaluator(
    connection: Connection, project_id: str, evaluator_id: str
) -> Evaluator | None:
    found = [e for e in list_evaluators(connection, project_id) if e.evaluator_id == evaluator_id]
    if not found:
        return None
    with _lock, connection.transaction("Could not delete the evaluator ({error}).") as con:
        for table in ("evaluators", "evaluator_runs"):
            con.execute(
                f"DELETE FROM {table} WHERE project_id = ? AND evaluator_id = ?",
                [project_id, evaluator_id],
            )
    return found[0]


def quiet_targets(
    connection: Connection,
    project_id: str,
    target: str,
    windows: Mapping[str, tuple[int, int]],
    limit: int,
) -> dict[str, list[Quiet]]:
    found: dict[str, list[Quiet]] = {evaluator_id: [] for evaluator_id in windows}
    if not windows:
        return found
    ids = list(windows)
    since = [windows[evaluator_id][0] for evaluator_id in ids]
    until = [windows[evaluator_id][1] for evaluator_id in ids]
    # the targets read once for every evaluator's window, each run-less one of an
    # evaluator kept (the first ``limit``); a run of a version was queued after it
    # ended, so the runs queued before the earliest window are not read
    rows = connection.query(
        f"""
        WITH asked AS (
            SELECT unnest(?::VARCHAR[]) AS evaluator_id, unnest(?::BIGINT[]) AS since_ns,
                unnest(?::BIGINT[]) AS until_ns
        )
        SELECT a.evaluator_id, q.target_id, q.version, q.end_ns
        FROM ({_QUIET[target]}) q
        JOIN asked a ON q.end_ns BETWEEN a.since_ns AND a.until_ns
        WHERE NOT EXISTS (
            SELECT 1 FROM evaluator_runs r WHERE r.project_id = ? AND r.queued_ns >= ?
                AND r.evaluator_id = a.evaluator_id AND r.target_id = q.target_id
                AND r.version = q.version
        )
        QUALIFY row_number() OVER (
            PARTITION BY a.evaluator_id ORDER BY q.end_ns, q.target_id
        ) <= ?
        ORDER BY a.evaluator_id, q.end_ns, q.target_id
        """,
        [ids, since, until, project_id, min(since), max(until), project_id, min(since), limit],
    )
    for row in rows:
        evaluator_id = row.pop("evaluator_id")
        found[evaluator_id].append(Quiet(**row))
    return found


def queue_runs(connection: Connection, project_id: str, runs: Sequence[Run]) -> int:
    # one statement: the runs whose id the project has not (the first of one id)
    new: dict[str, Run] = {}
    for run in runs:
        new.setdefault(run.run_id, dataclasses.replace(run, project_id=project_id))
    with _lock, connection.transaction("Could not queue evaluator runs ({error}).") as con:
        return _insert(
            con,
            new.values(),
            "WHERE NOT EXISTS (SELECT 1 FROM evaluator_runs r "
            "WHERE r.project_id = ? AND r.run_id = g.run_id)",
            [project_id],
        )


def claim_runs(
    connection: Connection,
    owner: str,
    now_ns: int,
    lease_ns: int,
    limit: int,
    of: Sequence[str] | None = None,
    not_of: Sequence[str] = (),
) -> list[Run]:
    claimable = (
        "((status = 'queued' AND not_before_ns <= ?) OR (status = 'running' "
        "AND lease_until_ns < ?)) AND (? OR list_contains(?::VARCHAR[], evaluator_id)) "
        "AND NOT list_contains(?::VARCHAR[], evaluator_id)"
    )
    which = [now_ns, now_ns, of is None, list(of or ()), list(not_of)]
    # nothing to claim, as when idle: no write at all
    if not connection.query(f"SELECT 1 FROM evaluator_runs WHERE {claimable} LIMIT 1", which):
        return []
    with _lock, connection.transaction("Could not claim evaluator runs ({error}).") as con:
        rows = con.execute(
            f"""
                UPDATE evaluator_runs
                SET status = 'running', lease_owner = ?, lease_until_ns = ?,
                    attempts = attempts + 1
                WHERE rowid IN (
                    SELECT rowid FROM evaluator_runs WHERE {claimable}
                    ORDER BY queued_ns, target_id LIMIT ?
                )
                RETURNING {_RUN}
                """,
            [owner, now_ns + lease_ns, *which, limit],
        ).fetchall()
    return [_run(row) for row in rows]


def release_leases(connection: Connection) -> None:
    """Make every running run claimable now: at the start of the one process that opens
    the store, no other can hold one."""
    with _lock:
        connection.write("UPDATE evaluator_runs SET lease_until_ns = 0 WHERE status = 'running'")


def save_run(connection: Connection, run: Run) -> None:
    assignments = ", ".join(f"{name} = ?" for name in _RUN_FIELDS)
    with _lock:
        connection.write(
            f"UPDATE evaluator_runs SET {assignments} WHERE project_id = ? AND run_id = ?",
            [*_row(run), run.project_id, run.run_id],
        )


def save_runs(connection: Connection, runs: Sequence[Run]) -> None:
    if not runs:
        return
    # one scan a project to take the old rows out, then the new ones in, in one
    # statement (an UPDATE a run would scan the table once each: there is no key index,
    # see the migration; executemany ran an INSERT a row: a batch of 32 took 50-70 ms
    # of CPU, 17 ms so); a run no longer there (its evaluator or project deleted
    # meanwhile) stays gone
    by_project: dict[str, list[str]] = {}
    for run in runs:
        by_project.setdefault(run.project_id, []).append(run.run_id)
    with _lock, connection.transaction("Could not save evaluator runs ({error}).") as con:
        kept: set[tuple[str, str]] = set()
        for project_id, run_ids in by_project.items():
            there = con.execute(
                "DELETE FROM evaluator_runs WHERE project_id = ? "
                "AND run_id IN (SELECT unnest(?::VARCHAR[])) RETURNING run_id",
                [project_id, run_ids],
            ).fetchall()
            kept |= {(project_id, run_id) for (run_id,) in there}
        _insert(con, [run for run in runs if (run.project_id, run.run_id) in kept])


def _insert(
    con: duckdb.DuckDBPyConnection, runs: Iterable[Run], where: str = "", params: Sequence[Any] = ()
) -> int:
    """Insert the runs (those ``where`` keeps, as ``g``), from an Arrow table; how many."""
    columns: dict[str, list[Any]] = {name: [] for name in _RUN_FIELDS}
    for run in runs:
        for name, value in zip(_RUN_FIELDS, _row(run), strict=True):
            columns[name].append(value)
    con.register("runs_given", pa.table(columns, schema=_RUN_SCHEMA))
    try:
        sql = f"INSERT INTO evaluator_runs ({_RUN}) SELECT {_RUN} FROM runs_given g {where}"
        row = one(con.execute(sql, list(params)))
    finally:
        con.unregister("runs_given")
    return int(row[0]) if row else 0


def list_runs(
    connection: Connection, project_id: str, evaluator_id: str, query: RunQuery
) -> list[Run]:
    where = ["project_id = ?", "evaluator_id = ?"]
    params: list[Any] = [project_id, evaluator_id]
    if query.before_ns is not None:
        where.append("queued_ns < ?")
        params.append(query.before_ns)
    if query.target_id is not None:
        where.append("target_id = ?")
        params.append(query.target_id)
    if query.target_ids:
        where.append("list_contains(?, target_id)")
        params.append(list(query.target_ids))
    if query.status is not None:
        where.append("status = ?")
        params.append(str(query.status))
    cursor = connection.cursor().execute(
        f"SELECT {_RUN} FROM evaluator_runs WHERE {' AND '.join(where)} "
        "ORDER BY queued_ns DESC, run_id DESC LIMIT ?",
        [*params, query.limit],
    )
    return [_run(row) for row in cursor.fetchall()]


def judged_again(
    connection: Connection,
    project_id: str,
    evaluator_ids: Sequence[str],
    target_ids: Sequence[str],
) -> list[Run]:
    # which targets first, then their runs: for a batch of 43 sessions' 129 runs among
    # 26,400, the first is 2.2 ms (a list_runs an evaluator took 4 each) and nearly
    # always finds nothing (a first judgement); reading the runs in it, 8
    where = (
        "project_id = ? AND status = 'ok' AND superseded_ns IS NULL "
        "AND list_contains(?::VARCHAR[], evaluator_id) "
        "AND target_id IN (SELECT unnest(?::VARCHAR[]))"
    )
    params = [project_id, list(evaluator_ids), list(target_ids)]
    again = connection.query(
        f"SELECT evaluator_id, target_id FROM evaluator_runs WHERE {where} "
        "GROUP BY evaluator_id, target_id HAVING count(*) > 1",
        params,
    )
    if not again:
        return []
    pairs = {(row["evaluator_id"], row["target_id"]) for row in again}
    cursor = connection.cursor().execute(f"SELECT {_RUN} FROM evaluator_runs WHERE {where}", params)
    runs = [_run(row) for row in cursor.fetchall()]
    return [run for run in runs if (run.evaluator_id, run.target_id) in pairs]


def run_progress(connection: Connection, project_id: str, evaluator_id: str) -> Progress:
    key = [project_id, evaluator_id]
    oldest = connection.query(
        "SELECT min(queued_ns) AS since FROM evaluator_runs WHERE project_id = ? "
        "AND evaluator_id = ? AND status IN ('queued', 'running')",
        key,
    )
    since = oldest[0]["since"] if oldest else None
    if since is None:
        return Progress(None, {})
    rows = connection.query(
        "SELECT status, count(*) AS n FROM evaluator_runs WHERE project_id = ? "
        "AND evaluator_id = ? AND queued_ns >= ? GROUP BY status",
        [*key, since],
    )
    return Progress(since, {RunStatus(row["status"]): row["n"] for row in rows})


def _row(run: Run) -> list[Any]:
    values = [getattr(run, name) for name in _RUN_FIELDS]  # astuple deep-copies each
    return [str(v) if isinstance(v, RunStatus) else v for v in values]


def _run(row: Sequence[Any]) -> Run:
    values = dict(zip(_RUN_FIELDS, row, strict=True))
    values["status"] = RunStatus(values["status"])
    return Run(**values)


def delete_runs_before(connection: Connection, project_id: str, before_ns: int) -> None:
    """Retention: the project's runs queued before ``before_ns`` (a target's current
    version was queued after its last span ended, so it stays while the target does)."""
    with _lock:
        connection.write(
            "DELETE FROM evaluator_runs WHERE project_id = ? AND queued_ns < ?",
            [project_id, before_ns],
        )
