"""Evaluators and their runs in the ClickHouse store (see lamina.store.evaluators).

Any number of servers share the store, so each may queue and claim runs. Evaluators
and runs are versioned rows (ReplacingMergeTree, read FINAL): a run's every change of
state is a new row with a higher ``row_version`` (the writing server's tick); a queued
run is inserted at row_version 0, so queueing it again never undoes a later state.

A claim is decided by ``evaluator_claims``: a server claiming a run inserts a row for
the run's next attempt, then reads the claims back; the earliest claim of an attempt
wins (its version is the negated tick, and the table keeps the highest), as two
servers creating one project agree (lamina.store.clickhouse.catalog). The loser leaves
the run alone. A claim holds a lease too: a winner killed before it marked the run
running blocks that attempt only until the lease runs out (``_next_attempts``). Clocks
far apart could let both think they won in a few milliseconds' window: the run's score
then has one id either way (lamina.store.evaluators), so the score is not written twice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from lamina.errors import Conflict
from lamina.store.clickhouse.connection import Connection
from lamina.store.evaluators import Evaluator, Progress, Quiet, Run, RunQuery, RunStatus
from lamina.store.experiments import SESSION_PREFIX

_EVALUATOR_FIELDS = tuple(field.name for field in dataclasses.fields(Evaluator))
_RUN_FIELDS = tuple(field.name for field in dataclasses.fields(Run))
# A run's ``version`` (of its target) is the column target_version here.
_RUN_COLUMNS = ", ".join("target_version AS version" if n == "version" else n for n in _RUN_FIELDS)
_RUN_SCHEMA = pa.schema(
    [
        ("project_id", pa.string()),
        ("run_id", pa.string()),
        ("evaluator_id", pa.string()),
        ("target", pa.string()),
        ("target_id", pa.string()),
        ("target_version", pa.string()),
        ("status", pa.string()),
        ("queued_ns", pa.int64()),
        ("attempts", pa.int32()),
        ("not_before_ns", pa.int64()),
        ("lease_owner", pa.string()),
        ("lease_until_ns", pa.int64()),
        ("finished_ns", pa.int64()),
        ("score_id", pa.string()),
        ("value", pa.float64()),
        ("label", pa.string()),
        ("comment", pa.string()),
        ("trace_id", pa.string()),
        ("latency_ms", pa.float64()),
        ("input_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("cost", pa.float64()),
        ("error", pa.string()),
        ("superseded_ns", pa.int64()),
        ("failed_ns", pa.int64()),
        ("row_version", pa.int64()),
    ]
)
# an experiment's session and its traces are judged by the experiment, not online
_EXPERIMENT_SESSIONS = (
    f"SELECT concat('{SESSION_PREFIX}', experiment_id) FROM experiments FINAL "
    "WHERE project_id = {project:String}"
)
_QUIET = {
    "session": f"""
        SELECT session_id AS target_id,
            concat(toString(span_count), ':', toString(end_ns)) AS version, end_ns
        FROM sessions FINAL
        WHERE project_id = {{project:String}} AND end_ns BETWEEN {{since:Int64}} AND {{until:Int64}}
            AND session_id NOT IN ({_EXPERIMENT_SESSIONS})
    """,
    "trace": f"""
        SELECT trace_id AS target_id,
            concat(toString(sum(span_n)), ':', toString(max(last_ns))) AS version,
            max(last_ns) AS end_ns
        FROM traces WHERE project_id = {{project:String}}
            AND trace_id NOT IN (SELECT trace_id FROM session_traces
                WHERE project_id = {{project:String}} AND session_id IN ({_EXPERIMENT_SESSIONS}))
        GROUP BY trace_id
        HAVING end_ns BETWEEN {{since:Int64}} AND {{until:Int64}}
    """,
}


def put_evaluator(db: Connection, project_id: str, evaluator: Evaluator) -> Evaluator:
    taken = [
        e
        for e in list_evaluators(db, project_id)
        if e.name == evaluator.name and e.evaluator_id != evaluator.evaluator_id
    ]
    if taken:
        raise Conflict(f'This project has an evaluator named "{evaluator.name}" already.')
    _put(db, project_id, evaluator, deleted=False)
    return evaluator


def _put(db: Connection, project_id: str, evaluator: Evaluator, deleted: bool) -> None:
    db.execute(
        "INSERT INTO evaluators VALUES ({project:String}, {evaluator_id:String}, {name:String}, "
        "{target:String}, {enabled:Bool}, {definition:String}, {secret:Nullable(String)}, "
        "{created_ns:Int64}, {updated_ns:Int64}, {deleted:UInt8}, {version:Int64})",
        {
            "project": project_id,
            **dataclasses.asdict(evaluator),
            "deleted": int(deleted),
            "version": db.tick(),
        },
    )


def list_evaluators(db: Connection, project_id: str) -> list[Evaluator]:
    rows = db.query(
        f"SELECT {', '.join(_EVALUATOR_FIELDS)} FROM evaluators FINAL "
        "WHERE project_id = {project:String} AND deleted = 0 ORDER BY name",
        {"project": project_id},
    )
    return [Evaluator(**row) for row in rows]


def delete_evaluator(db: Connection, project_id: str, evaluator_id: str) -> Evaluator | None:
    found = [e for e in list_evaluators(db, project_id) if e.evaluator_id == evaluator_id]
    if not found:
        return None
    _put(db, project_id, found[0], deleted=True)
    db.execute(
        "DELETE FROM evaluator_runs WHERE project_id = {project:String} "
        "AND evaluator_id = {evaluator:String}",
        {"project": project_id, "evaluator": evaluator_id},
    )
    return found[0]


def quiet_targets(
    db: Connection,
    project_id: str,
    target: str,
    windows: Mapping[str, tuple[int, int]],
    limit: int,
) -> dict[str, list[Quiet]]:
    found: dict[str, list[Quiet]] = {evaluator_id: [] for evaluator_id in windows}
    if not windows:
        return found
    since = min(first for first, _ in windows.values())
    # the targets read once for every evaluator's window, each run-less one of an
    # evaluator kept (the first ``limit``); a run of a version was queued after it
    # ended, so the runs queued before the earliest window are not read
    rows = db.query(
        f"""
        SELECT asked.1 AS evaluator_id, target_id, version, end_ns
        FROM ({_QUIET[target]}) ARRAY JOIN {{asked:Array(Tuple(String, Int64, Int64))}} AS asked
        WHERE end_ns BETWEEN asked.2 AND asked.3
            AND (evaluator_id, target_id, version) NOT IN (
                SELECT evaluator_id, target_id, target_version FROM evaluator_runs
                WHERE project_id = {{project:String}} AND queued_ns >= {{since:Int64}}
                    AND evaluator_id IN {{ids:Array(String)}}
            )
        ORDER BY evaluator_id, end_ns, target_id LIMIT {{limit:UInt32}} BY evaluator_id
        """,
        {
            "project": project_id,
            "asked": [(key, first, last) for key, (first, last) in windows.items()],
            "ids": list(windows),
            "since": since,
            "until": max(last for _, last in windows.values()),
            "limit": limit,
        },
    )
    for row in rows:
        evaluator_id = row.pop("evaluator_id")
        found[evaluator_id].append(Quiet(**row))
    return found


def queue_runs(db: Connection, project_id: str, runs: Sequence[Run]) -> int:
    ids = list(dict.fromkeys(run.run_id for run in runs))
    if not ids:
        return 0
    known = {
        row["run_id"]
        for row in db.query(
            "SELECT DISTINCT run_id FROM evaluator_runs "
            "WHERE project_id = {project:String} AND run_id IN {ids:Array(String)}",
            {"project": project_id, "ids": ids},
        )
    }
    new: dict[str, Run] = {}
    for run in runs:
        if run.run_id not in known:
            new.setdefault(run.run_id, dataclasses.replace(run, project_id=project_id))
    _insert(db, list(new.values()), 0)
    return len(new)


def _insert(db: Connection, runs: Sequence[Run], row_version: int) -> None:
    if not runs:
        return
    columns: dict[str, list[Any]] = {name: [] for name in _RUN_SCHEMA.names}
    for run in runs:
        for name, value in zip(_RUN_FIELDS, dataclasses.astuple(run), strict=True):
            column = "target_version" if name == "version" else name
            columns[column].append(str(value) if isinstance(value, RunStatus) else value)
        columns["row_version"].append(row_version)
    db.insert("evaluator_runs", pa.table(columns, schema=_RUN_SCHEMA), "evaluator runs")


def claim_runs(
    db: Connection,
    owner: str,
    now_ns: int,
    lease_ns: int,
    limit: int,
    of: Sequence[str] | None = None,
    not_of: Sequence[str] = (),
) -> list[Run]:
    rows = db.query(
        f"SELECT {_RUN_COLUMNS} FROM evaluator_runs FINAL "
        "WHERE ((status = 'queued' AND not_before_ns <= {now:Int64}) "
        "OR (status = 'running' AND lease_until_ns < {now:Int64})) "
        "AND ({all:Bool} OR has({of:Array(String)}, evaluator_id)) "
        "AND NOT has({not_of:Array(String)}, evaluator_id) "
        "ORDER BY queued_ns, target_id LIMIT {limit:UInt32}",
        {
            "now": now_ns,
            "limit": limit,
            "all": of is None,
            "of": list(of or ()),
            "not_of": list(not_of),
        },
    )
    candidates = [_run(row) for row in rows]
    if not candidates:
        return []
    attempts = _next_attempts(db, candidates, now_ns)
    candidates = [run for run in candidates if run.run_id in attempts]
    if not candidates:
        return []
    tick = db.tick()
    db.execute(
        "INSERT INTO evaluator_claims (run_id, attempt, owner, claimed_ns, version, "
        "lease_until_ns) SELECT run_id, attempt, {owner:String}, {tick:Int64}, -{tick:Int64}, "
        "{until:Int64} FROM (SELECT arrayJoin({claims:Array(Tuple(String, Int32))}) AS c, "
        "c.1 AS run_id, c.2 AS attempt)",
        {
            "owner": owner,
            "tick": tick,
            "until": now_ns + lease_ns,
            "claims": [(r.run_id, attempts[r.run_id]) for r in candidates],
        },
    )
    won = {
        (row["run_id"], row["attempt"])
        for row in db.query(
            "SELECT run_id, attempt FROM evaluator_claims FINAL "
            "WHERE run_id IN {ids:Array(String)} AND owner = {owner:String}",
            {"ids": [r.run_id for r in candidates], "owner": owner},
        )
    }
    claimed = [
        dataclasses.replace(
            run,
            status=RunStatus.RUNNING,
            attempts=attempts[run.run_id],
            lease_owner=owner,
            lease_until_ns=now_ns + lease_ns,
        )
        for run in candidates
        if (run.run_id, attempts[run.run_id]) in won
    ]
    _insert(db, claimed, db.tick())
    return claimed


def _next_attempts(db: Connection, runs: list[Run], now_ns: int) -> dict[str, int]:
    """The attempt each run would be claimed as, by run id; a run left out is held.

    Usually the run's next attempt. A server killed after it won a claim and before it
    marked the run running left that attempt's claim behind, the run still at the
    attempt before: until the claim's lease runs out the run is held (its claimant may
    only be slow), then the attempt after the claimed one is free, as for a running
    run whose lease ran out.
    """
    latest = {
        row["run_id"]: (row["last_attempt"], row["last_until"])
        for row in db.query(
            "SELECT run_id, max(attempt) AS last_attempt, "
            "argMax(lease_until_ns, attempt) AS last_until "
            "FROM evaluator_claims FINAL WHERE run_id IN {ids:Array(String)} GROUP BY run_id",
            {"ids": [run.run_id for run in runs]},
        )
    }
    attempts: dict[str, int] = {}
    for run in runs:
        claimed, until = latest.get(run.run_id, (0, 0))
        if claimed <= run.attempts:
            attempts[run.run_id] = run.attempts + 1
        elif until < now_ns:
            attempts[run.run_id] = claimed + 1
    return attempts


def save_run(db: Connection, run: Run) -> None:
    save_runs(db, [run])


def save_runs(db: Connection, runs: Sequence[Run]) -> None:
    """The runs' new versions, of those still there (a run whose evaluator or project
    was deleted meanwhile stays gone)."""
    if not runs:
        return
    there = {
        (row["project_id"], row["run_id"])
        for row in db.query(
            "SELECT project_id, run_id FROM evaluator_runs FINAL "
            "WHERE (project_id, run_id) IN {keys:Array(Tuple(String, String))}",
            {"keys": [(run.project_id, run.run_id) for run in runs]},
        )
    }
    _insert(db, [run for run in runs if (run.project_id, run.run_id) in there], db.tick())


def list_runs(db: Connection, project_id: str, evaluator_id: str, query: RunQuery) -> list[Run]:
    where = "project_id = {project:String} AND evaluator_id = {evaluator:String}"
    params: dict[str, Any] = {"project": project_id, "evaluator": evaluator_id}
    if query.before_ns is not None:
        where += " AND queued_ns < {before:Int64}"
        params["before"] = query.before_ns
    if query.target_id is not None:
        where += " AND target_id = {target:String}"
        params["target"] = query.target_id
    if query.target_ids:
        where += " AND target_id IN {targets:Array(String)}"
        params["targets"] = list(query.target_ids)
    if query.status is not None:
        where += " AND status = {status:String}"
        params["status"] = str(query.status)
    rows = db.query(
        f"SELECT {_RUN_COLUMNS} FROM evaluator_runs FINAL WHERE {where} "
        "ORDER BY queued_ns DESC, run_id DESC LIMIT {limit:UInt32}",
        {**params, "limit": query.limit},
    )
    return [_run(row) for row in rows]


def judged_again(
    db: Connection, project_id: str, evaluator_ids: Sequence[str], target_ids: Sequence[str]
) -> list[Run]:
    of = (
        "project_id = {project:String} AND status = 'ok' AND superseded_ns IS NULL "
        "AND evaluator_id IN {evaluators:Array(String)} AND target_id IN {targets:Array(String)}"
    )
    rows = db.query(
        f"SELECT {_RUN_COLUMNS} FROM evaluator_runs FINAL WHERE {of} "
        "AND (evaluator_id, target_id) IN ("
        f"SELECT evaluator_id, target_id FROM evaluator_runs FINAL WHERE {of} "
        "GROUP BY evaluator_id, target_id HAVING count() > 1)",
        {"project": project_id, "evaluators": list(evaluator_ids), "targets": list(target_ids)},
    )
    return [_run(row) for row in rows]


def run_progress(db: Connection, project_id: str, evaluator_id: str) -> Progress:
    key = "project_id = {project:String} AND evaluator_id = {evaluator:String}"
    params: dict[str, Any] = {"project": project_id, "evaluator": evaluator_id}
    (oldest,) = db.query(
        f"SELECT min(queued_ns) AS since, count() AS n FROM evaluator_runs FINAL WHERE {key} "
        "AND status IN ('queued', 'running')",
        params,
    )
    if not oldest["n"]:
        return Progress(None, {})
    rows = db.query(
        f"SELECT status, count() AS n FROM evaluator_runs FINAL WHERE {key} "
        "AND queued_ns >= {since:Int64} GROUP BY status",
        {**params, "since": oldest["since"]},
    )
    return Progress(oldest["since"], {RunStatus(row["status"]): row["n"] for row in rows})


def _run(row: dict[str, Any]) -> Run:
    row["status"] = RunStatus(row["status"])
    return Run(**row)


def delete_runs_before(db: Connection, project_id: str, before_ns: int) -> None:
    """Retention: the project's runs queued before ``before_ns`` (a target's current
    version was queued after its last span ended, so it stays while the target does)."""
    db.execute(
        "DELETE FROM evaluator_runs WHERE project_id = {project:String} "
        "AND queued_ns < {before:Int64}",
        {"project": project_id, "before": before_ns},
    )
