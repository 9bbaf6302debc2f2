"""The Store contract for one trace's read (get_trace, get_traces): its scores, which a
store may skip reading when the trace's score summary counts none and keep between
writes (the DuckDB store does both), follow every score given and deleted; and a trace
id two projects both use reads as each project's own trace."""

from __future__ import annotations

from dataclasses import replace

from lamina.store.base import Store
from tests.store.test_contract import BASE, MS, agent_trace, span_id
from tests.store.test_scores_contract import newest_first, score
from tests.store.writing import write


def _scores(store: Store, trace_id: str) -> tuple[list[dict[str, object]], ...]:
    """The trace's scores as get_trace and get_traces read them, each read twice."""
    reads = []
    for _ in range(2):
        one = store.get_trace("prj_a", trace_id)
        assert one is not None
        (many,) = store.get_traces("prj_a", [trace_id])
        reads += [one["scores"], many["scores"]]
    return tuple(reads)


def test_a_traces_scores_follow_each_score_given_and_deleted(store: Store) -> None:
    spans = agent_trace("s-reads", BASE)
    other = agent_trace("s-reads", BASE + 5000 * MS, turn=1)
    trace, span = spans[0].trace_id, spans[1].span_id
    write(store, spans + other)
    assert _scores(store, trace) == ([],) * 4
    on_span = score("latency_ok", 1.0, trace=trace, span=span, created=BASE)
    store.add_scores("prj_a", [on_span])
    assert _scores(store, trace) == (newest_first([on_span]),) * 4
    on_trace = score("helpful", 0.5, trace=trace, created=BASE + 1)
    on_session = score("helpful", 1.0, session="s-reads", created=BASE + 2)
    on_other = score("helpful", 0.0, trace=other[0].trace_id, created=BASE + 3)
    store.add_scores("prj_a", [on_trace, on_session, on_other])
    assert _scores(store, trace) == (newest_first([on_span, on_trace]),) * 4
    store.delete_score("prj_a", on_span.score_id)
    assert _scores(store, trace) == (newest_first([on_trace]),) * 4
    store.delete_score("prj_a", on_trace.score_id)
    assert _scores(store, trace) == ([],) * 4


def test_a_trace_id_in_two_projects_reads_as_each_ones_own(store: Store) -> None:
    mine = agent_trace("s-mine", BASE)
    trace = mine[0].trace_id
    theirs = [
        replace(span, project_id="prj_b", span_id=span_id(), name=f"b-{span.name}")
        for span in mine[:2]
    ]
    write(store, mine + theirs)
    store.add_scores("prj_b", [score("helpful", 1.0, trace=trace)])
    a, b = store.get_trace("prj_a", trace), store.get_trace("prj_b", trace)
    assert a is not None and b is not None
    assert [s["name"] for s in a["spans"]] == [s.name for s in mine]
    assert [s["name"] for s in b["spans"]] == [s.name for s in theirs]
    assert (a["scores"], len(b["scores"])) == ([], 1)
    assert store.get_trace("prj_c", trace) is None
    assert store.get_traces("prj_c", [trace]) == []
    for project in ("prj_a", "prj_b", "prj_c"):
        value = store.span_value(project, trace, mine[0].span_id, "input")
        assert (value is not None) == (project == "prj_a")
