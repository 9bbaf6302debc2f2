"""The Store contract for scores (lamina.store.scores) and session lifecycle: what every
store must do, checked against a reference computed here from the scores written.

Each test runs once per store in tests/store/backends.py's STORES, through the Store
protocol only. A session's scores are its own (``session_id``) and those on its traces
(``trace_id`` of a trace of the session, whenever the score came); a trace's are those
with its ``trace_id`` (scores on its spans too). A score without a value counts in
``count``, never in ``avg``.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable
from typing import Any

import pytest

from lamina.store.base import Store
from lamina.store.queries import Cursor, ScoreCondition, SessionQuery, TraceQuery
from lamina.store.scores import Category, Score, ScoreConfig, ScoreQuery, ScoreType
from tests.store.backends import Backend
from tests.store.test_contract import BASE, MS, agent_trace, rec, trace_id
from tests.store.writing import write

MINUTE = 60_000_000_000
_score_ids = itertools.count(1)


def score(
    name: str,
    value: float | None = None,
    *,
    label: str | None = None,
    session: str | None = None,
    trace: str | None = None,
    span: str | None = None,
    created: int | None = None,
    source: str = "api",
    score_id: str | None = None,
) -> Score:
    n = next(_score_ids)
    return Score(
        score_id=score_id or f"scr_{n:08d}",
        name=name,
        value=value,
        label=label,
        source=source,
        author="tester",
        session_id=session,
        trace_id=trace,
        span_id=span,
        comment=f"comment {n}",
        created_ns=created if created is not None else BASE + n * MS,
    )


# -- the reference ---------------------------------------------------------------------------


def owners(
    s: Score, trace_sessions: dict[str, str | None], kind: str
) -> set[str]:  # the sessions (or traces) a score counts for
    if kind == "trace":
        return {s.trace_id} if s.trace_id else set()
    found = {s.session_id} if s.session_id else set()
    if s.trace_id and trace_sessions.get(s.trace_id):
        found.add(trace_sessions[s.trace_id])  # type: ignore[arg-type]
    return found


def reference(
    scores: list[Score], trace_sessions: dict[str, str | None], kind: str
) -> dict[str, dict[str, list[Score]]]:
    """owner -> name -> its scores."""
    out: dict[str, dict[str, list[Score]]] = {}
    for s in scores:
        for owner in owners(s, trace_sessions, kind):
            out.setdefault(owner, {}).setdefault(s.name, []).append(s)
    return out


def average(scores: list[Score]) -> float | None:
    values = [s.value for s in scores if s.value is not None]
    return sum(values) / len(values) if values else None


def summary(by_name: dict[str, list[Score]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, found in by_name.items():
        avg = average(found)
        out[name] = {"avg": pytest.approx(avg) if avg is not None else None, "count": len(found)}
        labels = sorted({s.label for s in found if s.label is not None})
        if labels:  # the labels given, A to Z, only for a name given labels
            out[name]["labels"] = labels
    return out


def as_dict(s: Score) -> dict[str, Any]:
    return {field: getattr(s, field) for field in Score.__dataclass_fields__}


def newest_first(scores: list[Score]) -> list[dict[str, Any]]:
    ordered = sorted(scores, key=lambda s: (s.created_ns, s.score_id), reverse=True)
    return [as_dict(s) for s in ordered]


def all_sessions(store: Store, project: str = "prj_a", **fields: Any) -> list[dict[str, Any]]:
    return store.list_sessions(project, SessionQuery(limit=500, **fields)).items


def all_traces(store: Store, project: str = "prj_a", **fields: Any) -> list[dict[str, Any]]:
    return store.list_traces(project, TraceQuery(limit=500, **fields)).items


# -- summaries and details ---------------------------------------------------------------------


def test_scores_before_and_after_their_spans_summarise_sessions_and_traces(store: Store) -> None:
    """Feedback often comes before the spans: a score on a session or trace not yet
    seen is kept, and counts once they arrive; a score on a span counts for its trace;
    an unknown outcome is counted, never averaged."""
    first, second = agent_trace("s-1", BASE), agent_trace("s-1", BASE + 5000 * MS, turn=1)
    other = agent_trace("s-2", BASE + 9000 * MS, turn=2)
    t1, t2, t3 = first[0].trace_id, second[0].trace_id, other[0].trace_id
    early = [
        score("helpful", 1.0, session="s-1"),
        score("helpful", 0.0, trace=t1),
        score("outcome", None, label="unknown", session="s-1"),
        score("helpful", 0.5, trace="f" * 32),  # a trace that never comes
    ]
    store.add_scores("prj_a", early)
    write(store, first + second + other)
    late = [
        score("helpful", 0.25, trace=t2),
        score("latency_ok", 1.0, trace=t2, span=second[1].span_id),
        score("outcome", 1.0, label="success", session="s-2"),
        score("helpful", 0.75, trace=t3),
    ]
    store.add_scores("prj_a", late)
    everything = early + late
    trace_sessions: dict[str, str | None] = {t1: "s-1", t2: "s-1", t3: "s-2"}
    by_session = reference(everything, trace_sessions, "session")
    by_trace = reference(everything, trace_sessions, "trace")
    assert by_session["s-1"]["helpful"] and average(by_session["s-1"]["helpful"]) == 1.25 / 3

    rows = {row["session_id"]: row for row in all_sessions(store)}
    assert set(rows) == {"s-1", "s-2"}
    for session_id, row in rows.items():
        assert row["score_summary"] == summary(by_session[session_id])
        detail = store.get_session("prj_a", session_id)
        assert detail is not None
        assert detail["score_summary"] == summary(by_session[session_id])
        mine = [s for s in everything if session_id in owners(s, trace_sessions, "session")]
        assert detail["scores"] == newest_first(mine)
        for trace in detail["traces"]:
            assert trace["score_summary"] == summary(by_trace.get(trace["trace_id"], {}))
    assert rows["s-1"]["score_summary"]["outcome"] == {
        "avg": None,
        "count": 1,
        "labels": ["unknown"],
    }
    for trace in all_traces(store):
        expected = by_trace.get(trace["trace_id"], {})
        assert trace["score_summary"] == summary(expected)
        detail = store.get_trace("prj_a", trace["trace_id"])
        assert detail is not None
        assert detail["score_summary"] == summary(expected)
        assert detail["scores"] == newest_first([s for n in expected.values() for s in n])
    (many,) = [t for t in store.get_traces("prj_a", [t2]) if t["trace_id"] == t2]
    assert many["scores"] == newest_first(by_trace[t2]["helpful"] + by_trace[t2]["latency_ok"])
    assert store.get_trace("prj_a", t3)["score_summary"] == summary(by_trace[t3])  # type: ignore[index]


def test_adding_is_idempotent_and_durable(backend: Backend) -> None:
    """A retried batch (and a score twice in one batch) is stored once; what was added
    is there after the store is closed and opened again."""
    store = backend.open()
    try:
        write(store, agent_trace("s-1", BASE))
        scores = [score("helpful", float(n % 2), session="s-1") for n in range(30)]
        store.add_scores("prj_a", scores + scores[:5])
        store.add_scores("prj_a", scores[10:])
        assert len(store.list_scores("prj_a", ScoreQuery(limit=500)).items) == 30
    finally:
        store.close()
    store = backend.open()
    try:
        page = store.list_scores("prj_a", ScoreQuery(limit=500))
        assert page.items == sorted(scores, key=lambda s: (s.created_ns, s.score_id), reverse=True)
        (row,) = all_sessions(store)
        assert row["score_summary"] == {"helpful": {"avg": 0.5, "count": 30}}
    finally:
        store.close()


# -- filters and sorts against the reference ---------------------------------------------------


def _scored_sessions(store: Store, seed: int) -> tuple[list[Score], dict[str, str | None]]:
    """Twelve sessions of two traces; random quality (numeric) and outcome (categorical)
    scores on sessions and traces; some sessions without any."""
    rng = random.Random(seed)
    trace_sessions: dict[str, str | None] = {}
    spans = []
    for n in range(12):
        for turn in range(2):
            records = agent_trace(f"s-{n:02d}", BASE + (n * 10 + turn) * 1000 * MS, turn=turn)
            trace_sessions[records[0].trace_id] = f"s-{n:02d}"
            spans += records
    scores = []
    labels = {"success": 1.0, "partial": 0.5, "failure": 0.0, "unknown": None}
    for trace, session in trace_sessions.items():
        if session in ("s-10", "s-11"):
            continue  # never scored
        for _ in range(rng.randint(0, 2)):
            on = {"trace": trace} if rng.random() < 0.6 else {"session": session}
            scores.append(score("quality", rng.choice([0.0, 0.2, 0.5, 0.8, 1.0]), **on))
        if rng.random() < 0.5:
            label = rng.choice(list(labels))
            scores.append(score("outcome", labels[label], label=label, session=session))
    half = len(scores) // 2
    store.add_scores("prj_a", scores[:half])  # before the spans, and after
    write(store, spans)
    store.add_scores("prj_a", scores[half:])
    return scores, trace_sessions


CONDITIONS = [
    (ScoreCondition("quality", ">=", 0.5),),
    (ScoreCondition("quality", "<", 0.3),),
    (ScoreCondition("quality", "!=", 0.5),),
    (ScoreCondition("quality", "=", 1.0),),
    (ScoreCondition("outcome", "=", label="success"),),
    (ScoreCondition("outcome", "!=", label="failure"),),
    (ScoreCondition("outcome", ">", 0.2), ScoreCondition("quality", "<=", 0.8)),
]


def matches(
    conditions: tuple[ScoreCondition, ...], has: tuple[str, ...], mine: dict[str, list[Score]]
) -> bool:
    for condition in conditions:
        found = mine.get(condition.name, [])
        if not found:
            return False
        if condition.label is not None:
            labelled = any(s.label == condition.label for s in found)
            if labelled != (condition.op == "="):
                return False
            continue
        avg = average(found)
        if avg is None or condition.value is None:
            return False
        compare = {
            "=": avg == condition.value,
            "!=": avg != condition.value,
            "<": avg < condition.value,
            "<=": avg <= condition.value,
            ">": avg > condition.value,
            ">=": avg >= condition.value,
        }
        if not compare[condition.op]:
            return False
    return all(mine.get(name) for name in has)


@pytest.mark.parametrize("seed", [0, 1])
def test_session_and_trace_filters_by_score(store: Store, seed: int) -> None:
    scores, trace_sessions = _scored_sessions(store, seed)
    by_session = reference(scores, trace_sessions, "session")
    by_trace = reference(scores, trace_sessions, "trace")
    session_ids = sorted({s for s in trace_sessions.values() if s})
    for conditions in [*CONDITIONS, ()]:
        for has in [(), ("outcome",), ("quality", "outcome")]:
            if not conditions and not has:
                continue
            expected = {s for s in session_ids if matches(conditions, has, by_session.get(s, {}))}
            got = all_sessions(store, scores=conditions, has_scores=has)
            assert {row["session_id"] for row in got} == expected, (conditions, has)
            query = SessionQuery(scores=conditions, has_scores=has)
            assert store.count_sessions("prj_a", query, 100) == len(expected)
            expected = {t for t in trace_sessions if matches(conditions, has, by_trace.get(t, {}))}
            got = all_traces(store, scores=conditions, has_scores=has)
            assert {row["trace_id"] for row in got} == expected, (conditions, has)


def _sorted_by_score(ids: list[str], avg: dict[str, float | None], descending: bool) -> list[str]:
    with_score = sorted(
        (i for i in ids if avg.get(i) is not None),
        key=lambda i: (avg[i], i),
        reverse=descending,
    )
    without = sorted((i for i in ids if avg.get(i) is None), reverse=descending)
    return with_score + without


def _pages(list_page: Callable[[Cursor | None], Any], sort: str, key: str) -> list[str]:
    out: list[str] = []
    cursor: Cursor | None = None
    for _ in range(100):
        page = list_page(cursor)
        out += [row[key] for row in page.items]
        if page.next_cursor is None:
            return out
        cursor = Cursor.decode(page.next_cursor, sort)
    raise AssertionError("pages never ended")


@pytest.mark.parametrize("descending", [True, False], ids=["desc", "asc"])
@pytest.mark.parametrize("name", ["quality", "outcome"])
def test_sort_by_a_score_puts_those_without_it_last(
    store: Store, descending: bool, name: str
) -> None:
    """Pages of three by cursor, in either order: by the average, then the id; sessions
    and traces without the score (or with only unknown values) last."""
    scores, trace_sessions = _scored_sessions(store, 7)
    by_session = reference(scores, trace_sessions, "session")
    by_trace = reference(scores, trace_sessions, "trace")
    session_ids = sorted({s for s in trace_sessions.values() if s})
    averages = {s: average(by_session.get(s, {}).get(name, [])) for s in session_ids}
    expected = _sorted_by_score(session_ids, averages, descending)
    assert any(v is None for v in averages.values()) and any(averages.values())

    def session_page(cursor: Cursor | None) -> Any:
        query = SessionQuery(
            limit=3, cursor=cursor, sort="score", score_sort=name, descending=descending
        )
        return store.list_sessions("prj_a", query)

    assert _pages(session_page, f"score:{name}", "session_id") == expected
    trace_averages = {t: average(by_trace.get(t, {}).get(name, [])) for t in trace_sessions}
    expected = _sorted_by_score(sorted(trace_sessions), trace_averages, descending)

    def trace_page(cursor: Cursor | None) -> Any:
        query = TraceQuery(
            limit=3, cursor=cursor, sort="score", score_sort=name, descending=descending
        )
        return store.list_traces("prj_a", query)

    assert _pages(trace_page, f"score:{name}", "trace_id") == expected


# -- session status ----------------------------------------------------------------------------


def test_status_active_ended_by_idle_time_or_explicitly(store: Store) -> None:
    """A session is ended once its last span ended the project's idle time ago (its
    ended_ns is that moment) or when ended explicitly (the first end is kept)."""
    project = store.create_project("status").id
    now = time.time_ns()
    recent = [rec(trace_id(), project=project, start=now - MINUTE, ms=10, session_id="recent")]
    idle = [rec(trace_id(), project=project, start=now - 40 * MINUTE, ms=10, session_id="idle")]
    later = [rec(trace_id(), project=project, start=now - 10 * MINUTE, ms=10, session_id="later")]
    ended = [rec(trace_id(), project=project, start=now - 2 * MINUTE, ms=10, session_id="ended")]
    write(store, recent + idle + later + ended)
    store.end_session(project, "ended", now - MINUTE)
    store.end_session(project, "ended", now)  # the first end is kept
    store.end_session(project, "not-yet", now - MINUTE)  # its spans come after
    write(store, [rec(trace_id(), project=project, start=now, ms=10, session_id="not-yet")])

    def status() -> dict[str, tuple[str, int | None]]:
        rows = all_sessions(store, project)
        for row in rows:
            assert store.get_session(project, row["session_id"]) == {
                **row,
                "traces": store.get_session(project, row["session_id"])["traces"],  # type: ignore[index]
                "scores": [],
            }
        return {row["session_id"]: (row["status"], row["ended_ns"]) for row in rows}

    idle_end = idle[0].end_ns + 30 * MINUTE
    assert status() == {
        "recent": ("active", None),
        "idle": ("ended", idle_end),
        "later": ("active", None),
        "ended": ("ended", now - MINUTE),
        "not-yet": ("ended", now - MINUTE),
    }
    assert {r["session_id"] for r in all_sessions(store, project, status="ended")} == {
        "idle",
        "ended",
        "not-yet",
    }
    assert {r["session_id"] for r in all_sessions(store, project, status="active")} == {
        "recent",
        "later",
    }
    found = store.set_session_idle_minutes(project, 5)
    assert found is not None and found.session_idle_minutes == 5
    assert store.find_project(project).session_idle_minutes == 5  # type: ignore[union-attr]
    assert status()["later"] == ("ended", later[0].end_ns + 5 * MINUTE)
    assert status()["recent"] == ("active", None)
    assert store.count_sessions(project, SessionQuery(status="active"), 10) == 1
    assert store.create_project("fresh").session_idle_minutes == 30


# -- listing and deleting scores, configs ------------------------------------------------------


def test_list_scores_filters_and_pages(store: Store) -> None:
    spans = agent_trace("s-1", BASE)
    write(store, spans + agent_trace("s-2", BASE + 5000 * MS))
    t1 = spans[0].trace_id
    scores = [
        score("helpful", 1.0, session="s-1", source="sdk"),
        score("helpful", 0.0, trace=t1, span=spans[1].span_id),
        score("speed", 0.5, trace=t1, source="evaluator:speed"),
        score("helpful", 1.0, session="s-2", source="ui"),
        score("helpful", 0.5, session="s-3"),  # a session not seen
        *[score("bulk", float(n), session="s-2", created=BASE + 10**6 * MS) for n in range(7)],
    ]
    store.add_scores("prj_a", scores)
    store.add_scores("prj_b", [score("helpful", 1.0, session="s-1")])

    def listed(**fields: Any) -> list[Score]:
        return store.list_scores("prj_a", ScoreQuery(limit=500, **fields)).items

    def ordered(found: list[Score]) -> list[Score]:
        return sorted(found, key=lambda s: (s.created_ns, s.score_id), reverse=True)

    assert listed() == ordered(scores)
    assert listed(session_id="s-1") == ordered(scores[:3])
    assert listed(session_id="s-3") == [scores[4]]
    assert listed(trace_id=t1) == ordered(scores[1:3])
    assert listed(name="helpful") == ordered(scores[:2] + scores[3:5])
    assert listed(source="evaluator:speed") == [scores[2]]
    assert listed(since_ns=scores[1].created_ns, until_ns=scores[3].created_ns) == ordered(
        scores[1:3]
    )
    pages: list[Score] = []
    cursor: Cursor | None = None
    for _ in range(20):
        page = store.list_scores("prj_a", ScoreQuery(limit=3, cursor=cursor))
        pages += page.items
        if page.next_cursor is None:
            break
        cursor = Cursor.decode(page.next_cursor, "created")
    assert pages == ordered(scores)

    assert store.delete_score("prj_b", scores[0].score_id) is None  # another project's
    assert store.delete_score("prj_a", scores[0].score_id) == scores[0]
    assert store.delete_score("prj_a", scores[0].score_id) is None
    (row,) = [r for r in all_sessions(store) if r["session_id"] == "s-1"]
    assert row["score_summary"] == {
        "helpful": {"avg": 0.0, "count": 1},
        "speed": {"avg": 0.5, "count": 1},
    }


def test_score_configs(store: Store) -> None:
    stars = ScoreConfig("stars", ScoreType.NUMERIC, min=1, max=5, description="How good")
    mood = ScoreConfig(
        "mood", ScoreType.CATEGORICAL, categories=(Category("happy", 1.0), Category("meh", None))
    )
    put = store.put_score_config("prj_a", stars)
    assert put.created_ns > 0 and put == ScoreConfig(
        **{**_fields(stars), "created_ns": put.created_ns}
    )
    store.put_score_config("prj_a", mood)
    store.put_score_config("prj_b", ScoreConfig("other", ScoreType.BOOLEAN))
    assert [c.name for c in store.list_score_configs("prj_a")] == ["mood", "stars"]
    (listed_mood,) = [c for c in store.list_score_configs("prj_a") if c.name == "mood"]
    assert listed_mood.categories == mood.categories and listed_mood.type is ScoreType.CATEGORICAL
    replaced = store.put_score_config(
        "prj_a", ScoreConfig("stars", ScoreType.NUMERIC, min=0, max=10)
    )
    (listed_stars,) = [c for c in store.list_score_configs("prj_a") if c.name == "stars"]
    assert listed_stars == replaced and listed_stars.max == 10
    assert store.delete_score_config("prj_a", "stars") == replaced
    assert store.delete_score_config("prj_a", "stars") is None
    assert [c.name for c in store.list_score_configs("prj_a")] == ["mood"]


def _fields(config: ScoreConfig) -> dict[str, Any]:
    return {field: getattr(config, field) for field in ScoreConfig.__dataclass_fields__}


# -- deletes take their scores -----------------------------------------------------------------


def test_deletes_take_their_scores(store: Store) -> None:
    """A trace's delete takes its scores (its spans' too); a session's, its own and its
    traces'; retention, those of the traces it deletes; a project's, all of them."""
    old = agent_trace("s-old", BASE)
    a1, a2 = agent_trace("s-a", BASE + 10**4 * MS), agent_trace("s-a", BASE + 2 * 10**4 * MS)
    b = agent_trace("s-b", BASE + 3 * 10**4 * MS)
    write(store, old + a1 + a2 + b)
    on_old = [score("q", 1.0, trace=old[0].trace_id), score("q", 1.0, session="s-old")]
    on_a = [
        score("q", 0.0, session="s-a"),
        score("q", 0.5, trace=a1[0].trace_id),
        score("q", 0.5, trace=a2[0].trace_id, span=a2[2].span_id),
    ]
    on_b = [score("q", 1.0, trace=b[0].trace_id), score("q", 0.0, session="s-b")]
    store.add_scores("prj_a", on_old + on_a + on_b)
    store.end_session("prj_a", "s-a", BASE)
    store.put_score_config("prj_a", ScoreConfig("q", ScoreType.NUMERIC))

    def left() -> set[str]:
        return {s.score_id for s in store.list_scores("prj_a", ScoreQuery(limit=500)).items}

    store.delete_trace("prj_a", a2[0].trace_id)
    assert left() == {s.score_id for s in on_old + on_a[:2] + on_b}
    store.delete_session("prj_a", "s-a")
    assert left() == {s.score_id for s in on_old + on_b}
    store.delete_before("prj_a", BASE + 5000 * MS)  # the old trace; its session keeps its own
    assert left() == {on_old[1].score_id} | {s.score_id for s in on_b}
    write(store, agent_trace("s-a", BASE + 4 * 10**4 * MS))  # a new s-a: not ended
    (row,) = [r for r in all_sessions(store) if r["session_id"] == "s-a"]
    assert row["score_summary"] == {} and row["ended_ns"] != BASE
    store.delete_project("prj_a")
    assert left() == set()
    assert store.list_score_configs("prj_a") == []


def test_a_score_follows_its_trace_to_another_session(store: Store) -> None:
    """A trace's session is its earliest span's: a late span that starts earlier moves
    the trace, and the trace's scores count for the session it moved to."""
    trace = trace_id()
    write(store, [rec(trace, "root", start=BASE + 10 * MS, session_id="first")])
    write(store, [rec(trace_id(), start=BASE, session_id="first")])  # keeps "first" alive
    store.add_scores("prj_a", [score("helpful", 1.0, trace=trace)])
    before = {row["session_id"]: row["score_summary"] for row in all_sessions(store)}
    assert before == {"first": {"helpful": {"avg": 1.0, "count": 1}}}
    write(store, [rec(trace, "earlier", start=BASE + 5 * MS, session_id="second")])
    after = {row["session_id"]: row["score_summary"] for row in all_sessions(store)}
    assert after == {"first": {}, "second": {"helpful": {"avg": 1.0, "count": 1}}}
    assert [s.score_id for s in store.list_scores("prj_a", ScoreQuery(session_id="second")).items]
    assert store.list_scores("prj_a", ScoreQuery(session_id="first")).items == []


def test_each_change_shows_in_the_next_read_of_a_page_read_before(store: Store) -> None:
    """The lists' score summaries and statuses are read again after every change: a page
    read (twice: what a store may keep between writes) then shows each change made after
    it, whichever write made it."""
    now = time.time_ns()
    project = store.create_project("rereads").id
    spans = [
        rec(trace_id(), project=project, start=now - n * MINUTE, session_id=f"s-{n}")
        for n in (1, 2)
    ]
    write(store, spans)
    t1 = spans[0].trace_id

    def seen() -> dict[str, Any]:
        for _ in range(2):  # the second read may be answered from what the first found
            sessions = {
                r["session_id"]: (r["status"], r["score_summary"])
                for r in all_sessions(store, project)
            }
            traces = {r["trace_id"]: r["score_summary"] for r in all_traces(store, project)}
            count = store.count_sessions(project, SessionQuery(has_errors=False), 100)
        return {"sessions": sessions, "traces": traces, "count": count}

    assert seen()["sessions"] == {"s-1": ("active", {}), "s-2": ("active", {})}
    given = score("helpful", 0.5, trace=t1)
    store.add_scores(project, [given])
    assert seen()["sessions"]["s-1"] == ("active", {"helpful": {"avg": 0.5, "count": 1}})
    assert seen()["traces"][t1] == {"helpful": {"avg": 0.5, "count": 1}}
    store.end_session(project, "s-2", now)
    assert seen()["sessions"]["s-2"] == ("ended", {})
    store.set_session_idle_minutes(project, 1)
    assert seen()["sessions"]["s-1"][0] == "ended"
    store.delete_score(project, given.score_id)
    assert seen()["sessions"]["s-1"] == ("ended", {})
    assert seen()["traces"][t1] == {}
    assert seen()["count"] == 2
    store.delete_session(project, "s-1")
    assert set(seen()["sessions"]) == {"s-2"}
    assert seen()["count"] == 1


def test_configs_kept_in_memory_are_never_older_than_a_change(store: Store) -> None:
    """``cached_score_configs`` (what a score request reads on the event loop) is None or
    exactly what ``list_score_configs`` reads, before and after every change."""

    def check(project_id: str) -> None:
        before = store.cached_score_configs(project_id)
        listed = store.list_score_configs(project_id)
        after = store.cached_score_configs(project_id)
        assert before is None or before == listed
        assert after is None or after == listed

    check("prj_a")
    store.put_score_config("prj_a", ScoreConfig("stars", ScoreType.NUMERIC, min=1, max=5))
    check("prj_a")
    store.put_score_config("prj_b", ScoreConfig("other", ScoreType.BOOLEAN))
    check("prj_a")
    check("prj_b")
    store.put_score_config("prj_a", ScoreConfig("stars", ScoreType.NUMERIC, min=0, max=10))
    check("prj_a")
    (stars,) = store.list_score_configs("prj_a")
    assert stars.max == 10
    assert store.delete_score_config("prj_a", "stars") is not None
    check("prj_a")
    assert store.list_score_configs("prj_a") == []
    check("prj_b")
