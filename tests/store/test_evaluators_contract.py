"""The Store contract for evaluators and their runs (lamina.store.evaluators), on every
store in tests/store/backends.py's STORES, through the Store protocol only: evaluators
per project (a name once), quiet targets at their versions (again once spans are
added), runs queued once, claimed once (leases), saved, listed newest first, and on
ClickHouse two stores on one database (two servers) never both claim a run."""

from __future__ import annotations

import dataclasses
import itertools
import threading

import pytest

from lamina.errors import Conflict
from lamina.store.base import Row, Store
from lamina.store.evaluators import Evaluator, Progress, Quiet, Run, RunQuery, RunStatus, run_id
from tests.store.backends import Backend
from tests.store.test_contract import BASE, MS, agent_trace, rec, trace_id
from tests.store.writing import write

SECOND = 1_000_000_000
_ids = itertools.count(1)


def evaluator(name: str = "errors", target: str = "session", **fields: object) -> Evaluator:
    n = next(_ids)
    values: dict[str, object] = {
        "evaluator_id": f"evl_{n:016d}",
        "name": name,
        "target": target,
        "enabled": True,
        "definition": '{"kind": "check"}',
        "secret": None,
        "created_ns": BASE,
        "updated_ns": BASE,
    }
    return Evaluator(**{**values, **fields})  # type: ignore[arg-type]


def queued(project: str, found: Evaluator, target_id: str, version: str, at: int) -> Run:
    return Run(
        project_id=project,
        run_id=run_id(found.evaluator_id, target_id, version),
        evaluator_id=found.evaluator_id,
        target=found.target,
        target_id=target_id,
        version=version,
        status=RunStatus.QUEUED,
        queued_ns=at,
    )


def test_evaluators_per_project_one_name_each(store: Store) -> None:
    first = store.put_evaluator("prj_a", evaluator("errors", secret="fernet:sealed"))
    store.put_evaluator("prj_a", evaluator("cost"))
    store.put_evaluator("prj_b", evaluator("errors"))  # another project: its own names
    assert [e.name for e in store.list_evaluators("prj_a")] == ["cost", "errors"]
    assert store.list_evaluators("prj_a")[1] == first
    with pytest.raises(Conflict):
        store.put_evaluator("prj_a", evaluator("errors"))
    changed = dataclasses.replace(first, enabled=False, name="errors-2", updated_ns=BASE + 1)
    store.put_evaluator("prj_a", changed)  # replaced by its id
    assert {e.name: e.enabled for e in store.list_evaluators("prj_a")} == {
        "cost": True,
        "errors-2": False,
    }
    assert store.delete_evaluator("prj_b", first.evaluator_id) is None  # not B's
    assert store.delete_evaluator("prj_a", first.evaluator_id) == changed
    assert [e.name for e in store.list_evaluators("prj_a")] == ["cost"]
    assert [e.name for e in store.list_evaluators("prj_b")] == ["errors"]


def quiet(
    store: Store, project: str, found: Evaluator, kind: str, since: int, until: int, limit: int
) -> list[Quiet]:
    """Store.quiet_targets for one evaluator."""
    windows = {found.evaluator_id: (since, until)}
    return store.quiet_targets(project, kind, windows, limit)[found.evaluator_id]


def test_quiet_targets_at_their_versions_and_again_after_new_spans(store: Store) -> None:
    judge = store.put_evaluator("prj_a", evaluator())
    write(store, agent_trace("s-1", BASE))
    write(store, agent_trace("s-2", BASE + 60 * SECOND))
    write(store, agent_trace("s-other", BASE, project="prj_b"))
    found = quiet(store, "prj_a", judge, "session", 0, BASE + 30 * SECOND, 10)
    assert [q.target_id for q in found] == ["s-1"]  # s-2 ended after until
    everything = quiet(store, "prj_a", judge, "session", 0, BASE * 2, 10)
    assert [q.target_id for q in everything] == ["s-1", "s-2"]
    assert (
        store.queue_runs(
            "prj_a", [queued("prj_a", judge, q.target_id, q.version, 1) for q in everything]
        )
        == 2
    )
    assert store.queue_runs("prj_a", [queued("prj_a", judge, "s-1", everything[0].version, 2)]) == 0
    assert quiet(store, "prj_a", judge, "session", 0, BASE * 2, 10) == []
    write(store, agent_trace("s-1", BASE + 120 * SECOND))  # a new turn: a new version
    again = quiet(store, "prj_a", judge, "session", 0, BASE * 2, 10)
    assert [q.target_id for q in again] == ["s-1"] and again[0].version != everything[0].version
    # traces: each trace is a target
    tracer = store.put_evaluator("prj_a", evaluator("per-trace", target="trace"))
    tid = trace_id()
    write(store, [rec(tid, "root", start=BASE)])
    traces = quiet(store, "prj_a", tracer, "trace", 0, BASE * 2, 100)
    assert tid in {q.target_id for q in traces}
    write(store, [rec(tid, "late", start=BASE + 5 * MS)])
    later = {
        q.target_id: q.version for q in quiet(store, "prj_a", tracer, "trace", 0, BASE * 2, 100)
    }
    assert later[tid] != {q.target_id: q.version for q in traces}[tid]


def test_runs_are_claimed_once_saved_and_listed(store: Store) -> None:
    judge = store.put_evaluator("prj_a", evaluator())
    runs = [queued("prj_a", judge, f"s-{n}", "1:1", 1000 + n) for n in range(5)]
    assert store.queue_runs("prj_a", runs) == 5
    now = 10 * SECOND
    first = store.claim_runs("server-1", now, 60 * SECOND, 3)
    assert [r.target_id for r in first] == ["s-0", "s-1", "s-2"]
    assert all(r.status == RunStatus.RUNNING and r.attempts == 1 for r in first)
    rest = store.claim_runs("server-2", now, 60 * SECOND, 10)
    assert [r.target_id for r in rest] == ["s-3", "s-4"]
    assert store.claim_runs("server-2", now, 60 * SECOND, 10) == []  # all held
    done = dataclasses.replace(
        first[0], status=RunStatus.OK, value=1.0, score_id="evs_1", finished_ns=now, error=None
    )
    store.save_run(done)
    # a lease that ran out (its server stopped) is claimed again, counted
    later = store.claim_runs("server-3", now + 61 * SECOND, 60 * SECOND, 10)
    assert sorted(r.target_id for r in later) == ["s-1", "s-2", "s-3", "s-4"]
    assert all(r.attempts == 2 for r in later)
    listed = store.list_runs("prj_a", judge.evaluator_id, RunQuery())
    assert [r.target_id for r in listed] == ["s-4", "s-3", "s-2", "s-1", "s-0"]
    assert listed[-1] == done
    only = store.list_runs("prj_a", judge.evaluator_id, RunQuery(status=RunStatus.OK))
    assert only == [done]
    assert (
        store.list_runs("prj_a", judge.evaluator_id, RunQuery(target_id="s-3", limit=1))[
            0
        ].target_id
        == "s-3"
    )
    some = RunQuery(target_ids=("s-4", "s-0", "s-9"))  # a batch's targets (the runner's)
    assert [r.target_id for r in store.list_runs("prj_a", judge.evaluator_id, some)] == [
        "s-4",
        "s-0",
    ]
    assert store.list_runs("prj_b", judge.evaluator_id, RunQuery()) == []  # another project's
    store.delete_evaluator("prj_a", judge.evaluator_id)
    assert store.list_runs("prj_a", judge.evaluator_id, RunQuery()) == []


def test_two_stores_on_one_database_never_both_claim_a_run(backend: Backend) -> None:
    if backend.name == "duckdb":
        pytest.skip("one process opens a DuckDB store")
    if backend.name == "clickhouse":
        pytest.skip("chDB: one engine per process (clickhouse_http runs the same SQL)")
    first, second = backend.open(), backend.open()
    try:
        judge = first.put_evaluator("prj_a", evaluator())
        runs = [queued("prj_a", judge, f"s-{n:03d}", "1:1", n) for n in range(60)]
        first.queue_runs("prj_a", runs)
        claimed: dict[str, list[str]] = {"a": [], "b": []}

        def claim(store: Store, name: str) -> None:
            for _ in range(40):
                got = store.claim_runs(name, SECOND, 600 * SECOND, 3)
                claimed[name] += [r.run_id for r in got]

        threads = [
            threading.Thread(target=claim, args=(first, "a")),
            threading.Thread(target=claim, args=(second, "b")),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not set(claimed["a"]) & set(claimed["b"])
        assert sorted(claimed["a"] + claimed["b"]) == sorted(r.run_id for r in runs)
    finally:
        second.close()
        first.close()


def test_deleting_a_project_deletes_its_evaluators_and_runs(store: Store) -> None:
    project = store.create_project("doomed")
    judge = store.put_evaluator(project.id, evaluator())
    store.queue_runs(project.id, [queued(project.id, judge, "s-1", "1:1", 1)])
    kept = store.put_evaluator("prj_other", evaluator())
    store.delete_project(project.id)
    assert store.list_evaluators(project.id) == []
    assert store.list_runs(project.id, judge.evaluator_id, RunQuery()) == []
    assert store.claim_runs("server", SECOND, SECOND, 10) == []
    assert store.list_evaluators("prj_other") == [kept]


def test_retention_deletes_the_runs_queued_before_its_cutoff(store: Store) -> None:
    judge = store.put_evaluator("prj_a", evaluator())
    old, new = (
        queued("prj_a", judge, "s-old", "1:1", 10),
        queued("prj_a", judge, "s-new", "1:1", BASE),
    )
    store.queue_runs("prj_a", [old, new])
    store.queue_runs("prj_b", [queued("prj_b", judge, "s-b", "1:1", 10)])
    store.delete_before("prj_a", BASE - SECOND)
    assert [r.target_id for r in store.list_runs("prj_a", judge.evaluator_id, RunQuery())] == [
        "s-new"
    ]
    assert [r.target_id for r in store.list_runs("prj_b", judge.evaluator_id, RunQuery())] == [
        "s-b"
    ]


def test_run_progress_counts_the_runs_since_the_oldest_not_done(store: Store) -> None:
    judge = store.put_evaluator("prj_a", evaluator())
    assert store.run_progress("prj_a", judge.evaluator_id) == Progress(None, {})
    early = queued("prj_a", judge, "s-early", "1:1", 500)  # done before the backfill
    store.queue_runs("prj_a", [early])
    (claimed,) = store.claim_runs("server-1", 10 * SECOND, 60 * SECOND, 10)
    store.save_run(dataclasses.replace(claimed, status=RunStatus.OK, finished_ns=11 * SECOND))
    assert store.run_progress("prj_a", judge.evaluator_id).since_ns is None  # all done
    # a backfill queues five at one time: two done (one failed), one running, two queued
    runs = [queued("prj_a", judge, f"s-{n}", "1:1", 1000) for n in range(5)]
    store.queue_runs("prj_a", runs)
    ok, failed, _running = store.claim_runs("server-1", 20 * SECOND, 60 * SECOND, 3)
    store.save_run(dataclasses.replace(ok, status=RunStatus.OK, finished_ns=21 * SECOND))
    store.save_run(dataclasses.replace(failed, status=RunStatus.ERROR, finished_ns=21 * SECOND))
    progress = store.run_progress("prj_a", judge.evaluator_id)
    assert progress == Progress(
        1000, {RunStatus.OK: 1, RunStatus.ERROR: 1, RunStatus.RUNNING: 1, RunStatus.QUEUED: 2}
    )
    assert progress.total == 5 and progress.count(RunStatus.OK, RunStatus.ERROR) == 2
    assert store.run_progress("prj_b", judge.evaluator_id) == Progress(None, {})


def test_a_batch_of_sessions_read_as_checks_read_them(store: Store) -> None:
    """check_sessions: each session's traces in time order, as check_traces reads them
    (of the project only; a session it has not: absent); a session of more turns than
    asked for: its first and last halves."""
    first, second = agent_trace("s-1", BASE), agent_trace("s-1", BASE + 60 * SECOND)
    write(store, second)
    write(store, first)
    write(store, agent_trace("s-2", BASE))
    write(store, agent_trace("s-1", BASE, project="prj_b"))  # another project's s-1
    turns = [agent_trace("s-long", BASE + n * SECOND) for n in range(7)]
    for turn in turns:
        write(store, turn)
    found = store.check_sessions("prj_a", ["s-1", "s-2", "s-none", "s-1"], ("input",))
    assert sorted(found) == ["s-1", "s-2"]
    ids = [first[0].trace_id, second[0].trace_id]
    assert found["s-1"] == store.check_traces("prj_a", ids, ("input",))
    assert not {"input_preview", "output_preview"} & set(found["s-1"][0])
    assert len(found["s-2"]) == 1
    assert store.check_sessions("prj_c", ["s-1"]) == {}
    assert store.check_sessions("prj_a", []) == {}
    (kept,) = store.check_sessions("prj_a", ["s-long"], (), {"error"}, most_turns=4).values()
    kept_ids = [trace["trace_id"] for trace in kept]
    assert kept_ids == [turns[n][0].trace_id for n in (0, 1, 5, 6)]
    assert kept == store.check_traces("prj_a", kept_ids, (), {"error"})


def test_targets_judged_again_are_found_in_one_read(store: Store) -> None:
    """judged_again: of the evaluators and targets asked about, the ok runs not yet
    superseded of each that has two or more (a target judged again), of the project
    only."""
    judge, other = (
        store.put_evaluator("prj_a", evaluator()),
        store.put_evaluator("prj_a", evaluator("other")),
    )
    runs = {
        "again-1": queued("prj_a", judge, "s-1", "1:1", 1000),
        "again-2": queued("prj_a", judge, "s-1", "2:2", 2000),
        "old": queued("prj_a", judge, "s-1", "0:0", 500),
        "once": queued("prj_a", judge, "s-2", "1:1", 1000),
        "failed": queued("prj_a", judge, "s-3", "1:1", 1000),
        "after-failed": queued("prj_a", judge, "s-3", "2:2", 2000),
        "other-evaluator": queued("prj_a", other, "s-2", "1:1", 1000),
    }
    store.queue_runs("prj_a", list(runs.values()))
    store.queue_runs("prj_b", [queued("prj_b", judge, "s-2", "2:2", 2000)])
    done = {
        name: dataclasses.replace(
            run,
            status=RunStatus.ERROR if name == "failed" else RunStatus.OK,
            superseded_ns=3000 if name == "old" else None,
            finished_ns=3000,
        )
        for name, run in runs.items()
    }
    store.save_runs(list(done.values()))
    found = store.judged_again("prj_a", [judge.evaluator_id], ["s-1", "s-2", "s-3"])
    assert sorted(found, key=lambda run: run.queued_ns) == [done["again-1"], done["again-2"]]
    both = [judge.evaluator_id, other.evaluator_id]
    assert store.judged_again("prj_a", both, ["s-2", "s-3"]) == []  # one each
    assert store.judged_again("prj_b", both, ["s-1", "s-2"]) == []
    assert store.judged_again("prj_a", [other.evaluator_id], ["s-1"]) == []


def test_runs_saved_together_as_each_alone(store: Store) -> None:
    judge = store.put_evaluator("prj_a", evaluator())
    runs = [queued("prj_a", judge, f"s-{n}", "1:1", 1000 + n) for n in range(3)]
    store.queue_runs("prj_a", runs)
    claimed = store.claim_runs("server-1", 10 * SECOND, 60 * SECOND, 10)
    done = [
        dataclasses.replace(run, status=RunStatus.OK, value=float(n), finished_ns=11 * SECOND)
        for n, run in enumerate(claimed)
    ]
    store.save_runs(done)
    listed = store.list_runs("prj_a", judge.evaluator_id, RunQuery(status=RunStatus.OK))
    assert sorted(listed, key=lambda run: run.run_id) == sorted(done, key=lambda run: run.run_id)
    store.save_runs([])  # nothing to save: no error
    store.delete_evaluator("prj_a", judge.evaluator_id)  # meanwhile: its runs go
    store.save_runs(done)  # a batch that ends after: they stay gone
    assert store.list_runs("prj_a", judge.evaluator_id, RunQuery()) == []


def test_checks_read_their_spans_fields_as_get_traces_reads_them(store: Store) -> None:
    """check_traces: the traces get_traces answers (in the order asked, each once, of
    the project only), with their spans' CHECK_SPAN_FIELDS alone, values cut alike
    (a long output kept apart and a long attribute too: only input and output read)."""
    from lamina.store.rows import CHECK_SPAN_FIELDS, TRACE_VALUE_CHARS

    first, second = agent_trace("s-1", BASE), agent_trace("s-1", BASE + 60 * SECOND)
    long_output = "é" * (TRACE_VALUE_CHARS + 10)
    large = rec(
        first[0].trace_id,
        "large",
        start=BASE + 2 * MS,
        output=long_output,
        attributes='{"big": "' + "a" * (TRACE_VALUE_CHARS + 5) + '"}',
    )
    write(store, [*first, large])
    write(store, second)
    write(store, agent_trace("s-1", BASE, project="prj_b"))
    ids = [second[0].trace_id, first[0].trace_id, second[0].trace_id, "f" * 32]
    read = store.check_traces("prj_a", ids)
    full = store.get_traces("prj_a", ids)
    assert [t["trace_id"] for t in read] == [second[0].trace_id, first[0].trace_id]
    fields = [name.strip() for name in CHECK_SPAN_FIELDS.split(",")]
    for light, whole in zip(read, full, strict=True):
        trace_fields = set(light) - {"spans"}
        assert {k: light[k] for k in trace_fields} == {k: whole[k] for k in trace_fields}
        assert {
            "trace_id",
            "name",
            "start_ns",
            "end_ns",
            "error_count",
            "cost",
            "tags",
            "metadata",
        } <= trace_fields
        assert not {"scores", "score_summary"} & trace_fields
        assert [{k: s[k] for k in fields} for s in light["spans"]] == [
            {k: s[k] for k in fields} for s in whole["spans"]
        ]
    (cut,) = [s for s in read[1]["spans"] if s["name"] == "large"]
    assert cut["output"] == "é" * TRACE_VALUE_CHARS
    assert cut["truncated"] == {"output": TRACE_VALUE_CHARS + 10}
    assert "attributes" not in cut and "events" not in cut
    assert store.check_traces("prj_b", [first[0].trace_id]) == []
    assert store.check_traces("prj_a", []) == []
    # a check that reads no output (or neither) reads only what it asks for
    for payloads in [("input",), ("output",), ()]:
        some = store.check_traces("prj_a", ids, payloads)
        assert [t["trace_id"] for t in some] == [t["trace_id"] for t in read]
        for light, whole in zip(some, read, strict=True):
            for span, all_of in zip(light["spans"], whole["spans"], strict=True):
                kept = {k: v for k, v in all_of.items() if k != "truncated"}
                for field in ("input", "output"):
                    if field not in payloads:
                        kept[field] = None
                cut = {k: v for k, v in all_of.get("truncated", {}).items() if k in payloads}
                assert {k: v for k, v in span.items() if k != "truncated"} == kept
                assert span.get("truncated", {}) == cut


def test_a_check_is_given_only_the_spans_it_reads(store: Store) -> None:
    """check_traces ``spans_of``: of each trace only its failed spans ("error"), its
    tool calls ("tool"), both, or none (the trace's row alone), each as every span
    is read; the trace rows the same whatever is asked."""
    first, second = agent_trace("s-1", BASE), agent_trace("s-1", BASE + 60 * SECOND)
    trace = first[0].trace_id
    failed_llm = rec(trace, "failed llm", start=BASE + 3 * MS, span_type="LLM", status="error")
    ok_tool = rec(trace, "ok tool", start=BASE + 4 * MS, span_type="TOOL", input="args")
    write(store, [*first, failed_llm, ok_tool])
    write(store, second)
    ids = [trace, second[0].trace_id]
    every = store.check_traces("prj_a", ids, ("input",))

    def names(read: list[Row]) -> list[list[str]]:
        return [[span["name"] for span in t["spans"]] for t in read]

    assert names(every) == [["turn-0", "failed llm", "ok tool", "llm", "tool"], *names(every)[1:]]
    for kinds, kept in [
        ({"error"}, lambda s: s["status"] == "error"),
        ({"tool"}, lambda s: s["span_type"] == "TOOL"),
        ({"error", "tool"}, lambda s: s["status"] == "error" or s["span_type"] == "TOOL"),
        (set(), lambda s: False),
    ]:
        some = store.check_traces("prj_a", ids, ("input",), kinds)
        assert [{**t, "spans": None} for t in some] == [{**t, "spans": None} for t in every]
        assert [t["spans"] for t in some] == [
            [span for span in t["spans"] if kept(span)] for t in every
        ], kinds
    assert names(store.check_traces("prj_a", ids, (), {"error"}))[0] == ["failed llm", "tool"]


def test_a_long_list_of_traces_is_read_as_a_short_one(store: Store) -> None:
    """get_traces and check_traces of more traces than DuckDB looks up in its index
    (chosen_traces.INDEXED_TRACES: it joins the list instead) answer as for a few at a time."""
    spans = [
        rec(trace_id(), f"t-{n}", start=BASE + n * MS, session_id="s-many") for n in range(130)
    ]
    write(store, spans)
    write(store, [rec(trace_id(), "elsewhere", project="prj_b")])
    ids = [span.trace_id for span in reversed(spans)] + ["f" * 32]
    few = [trace for n in range(0, 130, 10) for trace in store.get_traces("prj_a", ids[n : n + 10])]
    assert [trace["name"] for trace in few] == [f"t-{n}" for n in reversed(range(130))]
    assert store.get_traces("prj_a", ids) == few
    checked = store.check_traces("prj_a", ids, ())
    assert [trace["trace_id"] for trace in checked] == ids[:-1]
    assert store.get_traces("prj_b", ids) == []


def test_runs_queued_together_are_claimed_a_target_at_a_time(store: Store) -> None:
    """Of runs queued at one time (a poll queues every evaluator's at one time), a
    claim takes a target's runs together: a batch of checks reads the session once."""
    judges = [store.put_evaluator("prj_a", evaluator(f"check-{n}")) for n in range(3)]
    for judge in judges:  # each evaluator's runs queued in turn, as a poll does
        runs = [queued("prj_a", judge, f"s-{t}", "1:1", 5000) for t in (3, 1, 4, 2)]
        store.queue_runs("prj_a", runs)
    claimed = store.claim_runs("server-1", 10 * SECOND, 60 * SECOND, 6)
    assert sorted(run.target_id for run in claimed) == ["s-1"] * 3 + ["s-2"] * 3
    rest = store.claim_runs("server-1", 10 * SECOND, 60 * SECOND, 6)
    assert sorted(run.target_id for run in rest) == ["s-3"] * 3 + ["s-4"] * 3


def test_a_claim_takes_only_the_evaluators_asked_for(store: Store) -> None:
    """The runner claims checks apart from LLM judges (of ``of``, none of ``not_of``),
    so that a judge's slow calls never hold the checks up."""
    check, judge, other = (store.put_evaluator("prj_a", evaluator(n)) for n in "cjo")
    for each in (check, judge, other):
        store.queue_runs("prj_a", [queued("prj_a", each, f"s-{n}", "1:1", 1000) for n in range(3)])
    now, lease = 10 * SECOND, 60 * SECOND
    checks = store.claim_runs("server-1", now, lease, 10, of=[check.evaluator_id])
    assert {run.evaluator_id for run in checks} == {check.evaluator_id}
    assert len(checks) == 3
    rest = store.claim_runs("server-1", now, lease, 4, not_of=[check.evaluator_id])
    assert len(rest) == 4
    assert check.evaluator_id not in {run.evaluator_id for run in rest}
    assert store.claim_runs("server-1", now, lease, 10, of=[check.evaluator_id]) == []
    assert store.claim_runs("server-1", now, lease, 10, of=[]) == []
    last = store.claim_runs("server-1", now, lease, 10)
    assert len(last) == 2 and check.evaluator_id not in {run.evaluator_id for run in last}


def test_quiet_targets_of_several_evaluators_in_one_read(store: Store) -> None:
    """The runner's poll asks once for all of a project's evaluators: each gets what
    it alone would (its own window, its own runs, its own limit)."""
    first, second, third = (store.put_evaluator("prj_a", evaluator(n)) for n in "fst")
    for n in range(4):
        write(store, agent_trace(f"s-{n}", BASE + n * 60 * SECOND))
    write(store, agent_trace("s-other", BASE, project="prj_b"))
    alone = quiet(store, "prj_a", first, "session", 0, BASE * 2, 10)
    store.queue_runs(
        "prj_a", [queued("prj_a", first, q.target_id, q.version, BASE * 2) for q in alone[:2]]
    )
    windows = {
        first.evaluator_id: (0, BASE * 2),
        second.evaluator_id: (BASE + 30 * SECOND, BASE + 150 * SECOND),
        third.evaluator_id: (0, BASE * 2),
    }
    found = store.quiet_targets("prj_a", "session", windows, 3)
    assert {key: [q.target_id for q in page] for key, page in found.items()} == {
        first.evaluator_id: ["s-2", "s-3"],  # s-0 and s-1 have its runs
        second.evaluator_id: ["s-1", "s-2"],  # its window
        third.evaluator_id: ["s-0", "s-1", "s-2"],  # its limit
    }
    assert found[third.evaluator_id] == alone[:3]
    assert store.quiet_targets("prj_a", "session", {}, 3) == {}
    assert store.quiet_targets("prj_c", "session", windows, 3) == {key: [] for key in windows}
