"""The Store contract for tags and metadata given to a stored trace (lamina.store.labels,
Laminar's POST /v1/tag and /v1/traces/metadata), on every store: they show on the trace
and in its list's tag and metadata filters; a later change of a key wins over an earlier
one and over the spans' own; spans written after keep it; another project's trace of the
same id and a trace not stored are untouched (False); deleting the project deletes them.
"""

from __future__ import annotations

from lamina.store.base import Store
from lamina.store.labels import TraceLabels
from lamina.store.queries import TraceQuery
from tests.store.test_contract import BASE, MS, rec, trace_id
from tests.store.writing import write


def _root(trace: str, project: str = "prj_a") -> list:  # type: ignore[type-arg]
    return [
        rec(
            trace,
            "turn",
            project=project,
            tags=("from-span",),
            metadata={"plan": "free", "region": "eu"},
        )
    ]


def _ids(store: Store, project: str, **filters: object) -> list[str]:
    page = store.list_traces(project, TraceQuery(**filters))  # type: ignore[arg-type]
    return [row["trace_id"] for row in page.items]


def test_tags_and_metadata_show_on_the_trace_and_in_its_filters(store: Store) -> None:
    trace, other = trace_id(), trace_id()
    write(store, [*_root(trace), *_root(other), *_root(trace, "prj_b")])
    assert store.label_trace("prj_a", trace, TraceLabels(("reviewed", "from-span"), {}, BASE))
    assert store.label_trace("prj_a", trace, TraceLabels((), {"plan": "pro", "who": "al"}, BASE))
    assert store.label_trace("prj_a", trace, TraceLabels(("second",), {"who": "bo"}, BASE + MS))
    shown = store.get_trace("prj_a", trace)
    assert shown is not None
    assert sorted(shown["tags"]) == ["from-span", "reviewed", "second"]
    assert shown["metadata"] == {"plan": "pro", "region": "eu", "who": "bo"}
    assert shown["span_count"] == 1
    assert _ids(store, "prj_a", tag="reviewed") == [trace]
    assert _ids(store, "prj_a", metadata=(("who", "bo"),)) == [trace]
    # the other project's trace of the same id, and a trace of prj_a not given any
    theirs = store.get_trace("prj_b", trace)
    assert theirs is not None and theirs["tags"] == ["from-span"]
    untouched = store.get_trace("prj_a", other)
    assert untouched is not None and untouched["metadata"] == {"plan": "free", "region": "eu"}


def test_a_later_span_keeps_them_and_an_unknown_trace_is_false(store: Store) -> None:
    trace = trace_id()
    write(store, _root(trace))
    assert store.label_trace("prj_a", trace, TraceLabels(("kept",), {"plan": "pro"}, BASE))
    write(
        store, [rec(trace, "late", parent="0" * 16, metadata={"plan": "late"}, start=BASE + 5 * MS)]
    )
    shown = store.get_trace("prj_a", trace)
    assert shown is not None
    assert "kept" in shown["tags"] and shown["metadata"]["plan"] == "pro"
    assert shown["span_count"] == 2
    assert not store.label_trace("prj_a", trace_id(), TraceLabels(("x",), {}, BASE))
    assert not store.label_trace("prj_b", trace, TraceLabels(("x",), {}, BASE))


def test_deleting_the_project_deletes_them(store: Store) -> None:
    project = store.create_project("labelled")
    trace = trace_id()
    write(store, _root(trace, project.id))
    assert store.label_trace(project.id, trace, TraceLabels(("gone",), {"k": "v"}, BASE))
    store.delete_project(project.id)
    assert store.get_trace(project.id, trace) is None
    assert not store.label_trace(project.id, trace, TraceLabels(("again",), {}, BASE))
