"""The Store contract for datasets (lamina.store.datasets): what every store must do,
through the Store protocol only, once per store in tests/store/backends.py's STORES.

A dataset's name is unique in its project, and its description may change while its
creation time and items stay. Items read oldest first, in pages; putting an item whose
id the dataset has replaces it; items belong to one dataset of one project. Deleting a
dataset deletes its items; deleting a project deletes its datasets.
"""

from __future__ import annotations

import dataclasses

import orjson

from lamina.store.base import Store
from lamina.store.datasets import Dataset, DatasetItem, ItemQuery
from lamina.store.queries import Cursor
from tests.store.backends import Backend
from tests.store.test_contract import BASE, MS


def item(n: int, text: str = "", *, turn: int | None = None) -> DatasetItem:
    return DatasetItem(
        item_id=f"itm_{n:04d}",
        input=orjson.dumps([{"role": "user", "content": text or f"question {n}"}]).decode(),
        expected_output=orjson.dumps(f"answer {n}").decode() if n % 2 else None,
        metadata=orjson.dumps({"n": n}).decode() if n % 3 == 0 else None,
        source_session_id="s-1" if turn is not None else None,
        source_trace_id="ab" * 16 if turn is not None else None,
        source_turn=turn,
        created_ns=BASE + n * MS,
        updated_ns=BASE + n * MS,
    )


def _ids(store: Store, project: str, name: str, limit: int = 500) -> list[str]:
    found, cursor = [], None
    while True:
        query = ItemQuery(limit=limit, cursor=Cursor.decode(cursor, "created") if cursor else None)
        page = store.list_dataset_items(project, name, query)
        found += [one.item_id for one in page.items]
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


def test_datasets_by_name_with_their_item_counts(store: Store) -> None:
    made = store.put_dataset("prj_a", Dataset("support", "refund questions", BASE))
    assert made == Dataset("support", "refund questions", BASE, 0)
    store.put_dataset("prj_a", Dataset("agent", None, BASE + MS))
    store.put_dataset("prj_b", Dataset("support", "B's own", BASE))
    assert store.put_dataset_items("prj_a", "support", [item(1), item(2, turn=2)])
    assert [d.name for d in store.list_datasets("prj_a")] == ["agent", "support"]
    assert store.get_dataset("prj_a", "support") == Dataset("support", "refund questions", BASE, 2)
    assert store.get_dataset("prj_b", "support") == Dataset("support", "B's own", BASE, 0)
    assert store.get_dataset("prj_a", "nothing") is None
    # a new description keeps the creation time and the items
    again = store.put_dataset("prj_a", Dataset("support", "changed", BASE + 9 * MS))
    assert again == Dataset("support", "changed", BASE, 2)


def test_items_keep_their_values_and_source_and_page_oldest_first(store: Store) -> None:
    store.put_dataset("prj_a", Dataset("d", None, BASE))
    made = [item(n, "<b>html</b> \u00e9 \U0001f600", turn=n) for n in (5, 1, 4, 2, 3)]
    assert store.put_dataset_items("prj_a", "d", made)
    assert _ids(store, "prj_a", "d", limit=2) == [f"itm_{n:04d}" for n in (1, 2, 3, 4, 5)]
    assert store.get_dataset_item("prj_a", "d", "itm_0003") == made[4]
    assert store.get_dataset_item("prj_b", "d", "itm_0003") is None
    assert store.get_dataset_item("prj_a", "other", "itm_0003") is None


def test_putting_an_item_id_again_replaces_it(store: Store) -> None:
    store.put_dataset("prj_a", Dataset("d", None, BASE))
    store.put_dataset_items("prj_a", "d", [item(1), item(2)])
    edited = dataclasses.replace(item(1), expected_output='"better"', updated_ns=BASE + 9 * MS)
    store.put_dataset_items("prj_a", "d", [edited])
    store.put_dataset_items("prj_a", "d", [item(2)])  # an import run twice
    assert _ids(store, "prj_a", "d") == ["itm_0001", "itm_0002"]
    found = store.get_dataset_item("prj_a", "d", "itm_0001")
    assert found is not None and found.expected_output == '"better"'
    assert store.get_dataset("prj_a", "d") == Dataset("d", None, BASE, 2)


def test_items_need_their_dataset_in_their_project(store: Store) -> None:
    store.put_dataset("prj_b", Dataset("d", None, BASE))
    assert not store.put_dataset_items("prj_a", "d", [item(1)])
    assert _ids(store, "prj_a", "d") == [] and _ids(store, "prj_b", "d") == []


def test_deletes_take_only_what_they_name(store: Store) -> None:
    for project in ("prj_a", "prj_b"):
        for name in ("d", "e"):
            store.put_dataset(project, Dataset(name, None, BASE))
            store.put_dataset_items(project, name, [item(1), item(2)])
    assert store.delete_dataset_item("prj_a", "d", "itm_0001") == item(1)
    assert store.delete_dataset_item("prj_a", "d", "itm_0001") is None
    assert _ids(store, "prj_a", "d") == ["itm_0002"]
    assert _ids(store, "prj_a", "e") == _ids(store, "prj_b", "d") == ["itm_0001", "itm_0002"]
    assert store.delete_dataset("prj_a", "e") == Dataset("e", None, BASE, 2)
    assert store.delete_dataset("prj_a", "e") is None
    assert _ids(store, "prj_a", "e") == []
    assert [d.name for d in store.list_datasets("prj_a")] == ["d"]
    # a dataset made again of a deleted one's name starts empty
    store.put_dataset("prj_a", Dataset("e", None, BASE + MS))
    assert store.get_dataset("prj_a", "e") == Dataset("e", None, BASE + MS, 0)
    store.delete_project("prj_a")
    assert store.list_datasets("prj_a") == [] and _ids(store, "prj_a", "d") == []
    assert [d.item_count for d in store.list_datasets("prj_b")] == [2, 2]


def test_datasets_outlive_the_store_being_closed(backend: Backend) -> None:
    first = backend.open()
    first.put_dataset("prj_a", Dataset("d", "kept", BASE))
    first.put_dataset_items("prj_a", "d", [item(1, turn=1)])
    first.close()
    second = backend.open()
    try:
        assert second.get_dataset("prj_a", "d") == Dataset("d", "kept", BASE, 1)
        assert second.get_dataset_item("prj_a", "d", "itm_0001") == item(1, turn=1)
    finally:
        second.close()
