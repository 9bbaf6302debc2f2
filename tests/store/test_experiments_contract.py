"""The Store contract for experiments (lamina.store.experiments): what every store must
do, through the Store protocol only, once per store in tests/store/backends.py's STORES.

An experiment is written once (putting it again answers the one stored); runs list
newest first, of one group when asked; items read by index, with their values whole;
putting an index again replaces its item; items belong to one experiment of one
project; an item a Laminar SDK sent is found by the datapoint id it gave it. Deleting
an experiment deletes its items; deleting a project, its experiments.
The lists leave the sessions of the project's experiments (and their traces) out unless
asked to show them, or them alone.
"""

from __future__ import annotations

import dataclasses

import orjson

from lamina.query.params import parse_session_query
from lamina.store.base import Store
from lamina.store.experiments import Experiment, ExperimentItem
from tests.store.backends import Backend
from tests.store.test_contract import BASE, MS, agent_trace, sessions, traces
from tests.store.writing import write


def item(n: int, text: str = "", *, error: str | None = None) -> ExperimentItem:
    return ExperimentItem(
        item_index=n,
        item_id=f"itm_{n:04d}" if n % 2 else None,
        input=orjson.dumps({"question": text or f"question {n}"}).decode(),
        expected_output=orjson.dumps(f"answer {n}").decode() if n % 3 else None,
        output=None if error else orjson.dumps(f"said {n}").decode(),
        error=error,
        trace_id=f"{n:032x}",
        duration_ms=10.5 + n,
        scores=orjson.dumps({"exact": n % 2, "length": n * 1.5}).decode(),
    )


def run(n: int, group: str = "main", dataset: str | None = "support") -> Experiment:
    return Experiment(f"exp_{n}", f"run {n}", group, dataset, BASE + n * MS)


def test_experiments_newest_first_of_a_group_with_their_item_counts(store: Store) -> None:
    assert store.put_experiment("prj_a", run(1)) == run(1)
    # written once: putting it again answers the one stored
    assert store.put_experiment("prj_a", dataclasses.replace(run(1), name="other")) == run(1)
    store.put_experiment("prj_a", run(2, "other", None))
    store.put_experiment("prj_a", run(3))
    store.put_experiment("prj_b", run(4))
    assert store.put_experiment_items("prj_a", "exp_1", [item(0), item(1)])
    listed = store.list_experiments("prj_a", None, 100)
    assert [e.experiment_id for e in listed] == ["exp_3", "exp_2", "exp_1"]
    assert listed[2] == dataclasses.replace(run(1), item_count=2)
    assert listed[1].dataset is None
    assert [e.experiment_id for e in store.list_experiments("prj_a", "main", 100)] == [
        "exp_3",
        "exp_1",
    ]
    assert [e.experiment_id for e in store.list_experiments("prj_a", None, 1)] == ["exp_3"]
    assert store.get_experiment("prj_a", "exp_4") is None
    assert store.get_experiment("prj_b", "exp_4") == run(4)


def test_items_keep_their_values_by_index_and_an_index_put_again_replaces_it(
    store: Store,
) -> None:
    store.put_experiment("prj_a", run(1))
    made = [item(n, "<b>html</b> \u00e9 \U0001f600 " + "x" * 70_000) for n in (3, 0, 2)]
    made.append(item(1, error="ValueError: no answer"))
    assert store.put_experiment_items("prj_a", "exp_1", made)
    found = store.list_experiment_items("prj_a", "exp_1")
    assert found == sorted(made, key=lambda one: one.item_index)
    again = dataclasses.replace(item(2), output='"better"')
    store.put_experiment_items("prj_a", "exp_1", [again])
    found = store.list_experiment_items("prj_a", "exp_1")
    assert [one.item_index for one in found] == [0, 1, 2, 3] and found[2] == again
    assert store.list_experiment_items("prj_b", "exp_1") == []


def test_an_item_is_found_by_the_datapoint_id_laminar_gave_it(store: Store) -> None:
    """Laminar's update_datapoint names an item by the id its SDK gave the datapoint
    (#24): found in its own run of its own project only, kept when the index is put
    again with it (the SDK's second send)."""
    given, other = "0b4d6a2c-9f6e-4d1a-8a35-6f0e2b9c7d11", "5e0c1f3a-2b7d-4c8e-9a61-d3f4b5a6c7e8"
    for project in ("prj_a", "prj_b"):
        for n in (1, 2):
            store.put_experiment(project, run(n))
    mine = dataclasses.replace(item(2), datapoint_id=given)
    assert store.put_experiment_items("prj_a", "exp_1", [item(0), mine, item(3)])
    store.put_experiment_items("prj_b", "exp_1", [dataclasses.replace(item(5), datapoint_id=given)])
    store.put_experiment_items("prj_a", "exp_2", [dataclasses.replace(item(7), datapoint_id=other)])
    assert store.find_experiment_item("prj_a", "exp_1", given) == mine
    assert store.list_experiment_items("prj_a", "exp_1")[1] == mine
    found = store.find_experiment_item("prj_b", "exp_1", given)
    assert found is not None and found.item_index == 5
    assert store.find_experiment_item("prj_a", "exp_2", given) is None
    assert store.find_experiment_item("prj_a", "exp_1", other) is None
    assert store.find_experiment_item("prj_c", "exp_1", given) is None
    assert store.find_experiment_item("prj_a", "exp_9", given) is None
    # the results sent for the same index with the same id replace the item, id and all
    results = dataclasses.replace(mine, output='"done"', scores='{"exact": 1}')
    store.put_experiment_items("prj_a", "exp_1", [results])
    assert store.find_experiment_item("prj_a", "exp_1", given) == results


def test_items_need_their_experiment_in_their_project(store: Store) -> None:
    store.put_experiment("prj_b", run(1))
    assert not store.put_experiment_items("prj_a", "exp_1", [item(1)])
    assert store.list_experiment_items("prj_a", "exp_1") == []
    assert store.list_experiment_items("prj_b", "exp_1") == []


def test_deleting_a_project_deletes_its_experiments_only(store: Store) -> None:
    for project in ("prj_a", "prj_b"):
        store.put_experiment(project, run(1))
        store.put_experiment_items(project, "exp_1", [item(0), item(1)])
    store.delete_project("prj_a")
    assert store.list_experiments("prj_a", None, 100) == []
    assert store.list_experiment_items("prj_a", "exp_1") == []
    assert [e.item_count for e in store.list_experiments("prj_b", None, 100)] == [2]


def test_deleting_an_experiment_deletes_it_and_its_items_only(store: Store) -> None:
    for project in ("prj_a", "prj_b"):
        for n in (1, 2):
            store.put_experiment(project, run(n))
            store.put_experiment_items(project, f"exp_{n}", [item(0), item(1)])
    assert store.delete_experiment("prj_a", "exp_1") == dataclasses.replace(run(1), item_count=2)
    assert store.get_experiment("prj_a", "exp_1") is None
    assert store.list_experiment_items("prj_a", "exp_1") == []
    assert [e.experiment_id for e in store.list_experiments("prj_a", None, 100)] == ["exp_2"]
    assert len(store.list_experiment_items("prj_a", "exp_2")) == 2
    assert store.get_experiment("prj_b", "exp_1") == dataclasses.replace(run(1), item_count=2)
    assert store.delete_experiment("prj_a", "exp_1") is None  # gone already
    assert store.delete_experiment("prj_a", "exp_9") is None
    # items sent to a deleted run (an SDK still sending) are not kept, nor the run made again
    assert not store.put_experiment_items("prj_a", "exp_1", [item(2)])
    assert store.list_experiment_items("prj_a", "exp_1") == []


def test_lists_leave_the_sessions_of_the_projects_experiments_out_unless_asked(
    store: Store,
) -> None:
    store.put_experiment("prj_a", run(1))
    store.put_experiment("prj_b", run(2))  # another project's run: prj_a's alike is its own
    for n, session in enumerate(["experiment-exp_1", "experiment-exp_2", "chat"]):
        write(store, agent_trace(session, BASE + n * 1000 * MS))
    write(store, agent_trace(None, BASE + 5000 * MS))  # a trace without a session

    def listed(**params: str) -> list[str | None]:
        found = [row["session_id"] for row in sessions(store, **params)]
        found += ["trace:" + str(row["session_id"]) for row in traces(store, **params)]
        return sorted(found, key=str)

    assert listed() == sorted(
        ["chat", "experiment-exp_2", "trace:None", "trace:chat", "trace:experiment-exp_2"]
    )
    assert listed(experiments="only") == ["experiment-exp_1", "trace:experiment-exp_1"]
    assert len(listed(experiments="include")) == 7
    # naming the session shows its traces
    assert len(traces(store, session_id="experiment-exp_1")) == 1
    query = parse_session_query({}, None)
    assert store.count_sessions("prj_a", query, 100) == 2
    store.delete_experiment("prj_a", "exp_1")  # its traces are ordinary ones now
    assert store.count_sessions("prj_a", query, 100) == 3


def test_experiments_outlive_the_store_being_closed(backend: Backend) -> None:
    first = backend.open()
    first.put_experiment("prj_a", run(1))
    kept = dataclasses.replace(item(1), datapoint_id="0b4d6a2c-9f6e-4d1a-8a35-6f0e2b9c7d11")
    first.put_experiment_items("prj_a", "exp_1", [item(0), kept])
    first.close()
    second = backend.open()
    try:
        assert second.get_experiment("prj_a", "exp_1") == dataclasses.replace(run(1), item_count=2)
        assert second.list_experiment_items("prj_a", "exp_1") == [item(0), kept]
    finally:
        second.close()
