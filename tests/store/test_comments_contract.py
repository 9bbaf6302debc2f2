"""The Store contract for comments and bookmarks (lamina.store.comments): what every
store must do, through the Store protocol only, once per store in
tests/store/backends.py's STORES.

A comment names a session or trace the project has (else the store refuses it); one on
a trace takes the trace's session, so a session's thread holds its traces' comments.
Threads read oldest first, in pages. Stars are per user and per project; the lists'
``starred_by`` filter gives exactly the starred rows. Deleting a session, trace or
project takes its comments and stars.
"""

from __future__ import annotations

import itertools

from lamina.store.base import Store
from lamina.store.comments import Comment, CommentQuery, StarKind
from lamina.store.queries import Cursor, SessionQuery, TraceQuery
from tests.store.test_contract import BASE, MS, agent_trace
from tests.store.writing import write

_ids = itertools.count(1)


def comment(
    body: str,
    *,
    session: str | None = None,
    trace: str | None = None,
    span: str | None = None,
    author_id: str = "user:u1",
) -> Comment:
    n = next(_ids)
    return Comment(
        comment_id=f"cmt_{n:08d}",
        session_id=session,
        trace_id=trace,
        span_id=span,
        body=body,
        author="ana@example.com",
        author_id=author_id,
        created_ns=BASE + n * MS,
    )


def _seed(store: Store) -> tuple[list[str], list[str]]:
    """Two sessions of two traces each in prj_a, one session in prj_b: (a's trace ids
    of s-1 then s-2, b's trace ids)."""
    spans, traces_a = [], []
    for turn, session in enumerate(["s-1", "s-1", "s-2", "s-2"]):
        made = agent_trace(session, BASE + turn * 1000 * MS, turn=turn)
        traces_a.append(made[0].trace_id)
        spans += made
    other = agent_trace("s-b", BASE, project="prj_b")
    write(store, spans + other)
    return traces_a, [other[0].trace_id]


def _thread(store: Store, project: str = "prj_a", **target: str) -> list[str]:
    return [c.body for c in store.list_comments(project, CommentQuery(limit=500, **target)).items]


def test_threads_on_sessions_traces_and_spans(store: Store) -> None:
    traces, _ = _seed(store)
    on_session = store.add_comment("prj_a", comment("on s-1", session="s-1"))
    on_trace = store.add_comment("prj_a", comment("on a trace", trace=traces[1]))
    on_span = store.add_comment("prj_a", comment("on a span", trace=traces[1], span="sp1"))
    store.add_comment("prj_a", comment("on s-2", session="s-2"))
    assert on_session is not None and on_trace is not None and on_span is not None
    assert on_trace.session_id == "s-1"  # the trace's session, filled in by the store
    assert on_span.session_id == "s-1" and on_span.span_id == "sp1"

    assert _thread(store, session_id="s-1") == ["on s-1", "on a trace", "on a span"]
    assert _thread(store, trace_id=traces[1]) == ["on a trace", "on a span"]
    assert _thread(store, trace_id=traces[1], span_id="sp1") == ["on a span"]
    assert _thread(store, session_id="s-2") == ["on s-2"]
    assert _thread(store, trace_id=traces[0]) == []
    assert store.get_comment("prj_a", on_span.comment_id) == on_span


def test_a_comment_names_what_the_project_has(store: Store) -> None:
    traces, traces_b = _seed(store)
    assert store.add_comment("prj_a", comment("x", session="nope")) is None
    assert store.add_comment("prj_a", comment("x", trace="f" * 32)) is None
    # another project's session and trace are not this project's
    assert store.add_comment("prj_a", comment("x", session="s-b")) is None
    assert store.add_comment("prj_a", comment("x", trace=traces_b[0])) is None
    assert store.add_comment("prj_b", comment("x", trace=traces[0])) is None
    assert _thread(store, "prj_a") == [] and _thread(store, "prj_b") == []


def test_a_thread_pages_oldest_first(store: Store) -> None:
    _seed(store)
    bodies = [f"c{n}" for n in range(7)]
    for body in bodies:
        store.add_comment("prj_a", comment(body, session="s-1"))
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = store.list_comments(
            "prj_a",
            CommentQuery(
                limit=3,
                session_id="s-1",
                cursor=Cursor.decode(cursor, "created") if cursor else None,
            ),
        )
        seen += [c.body for c in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == bodies


def test_delete_one_comment_in_its_project_only(store: Store) -> None:
    _seed(store)
    made = store.add_comment("prj_a", comment("bye", session="s-1"))
    assert made is not None
    assert store.delete_comment("prj_b", made.comment_id) is None
    assert store.get_comment("prj_b", made.comment_id) is None
    assert store.delete_comment("prj_a", made.comment_id) == made
    assert store.get_comment("prj_a", made.comment_id) is None
    assert _thread(store, session_id="s-1") == []


def test_stars_are_per_user_and_filter_the_lists(store: Store) -> None:
    traces, traces_b = _seed(store)
    assert store.star("prj_a", "u1", StarKind.SESSION, "s-2", True)
    assert store.star("prj_a", "u1", StarKind.SESSION, "s-2", True)  # twice: one star
    assert store.star("prj_a", "u1", StarKind.TRACE, traces[0], True)
    assert store.star("prj_a", "u2", StarKind.SESSION, "s-1", True)
    assert not store.star("prj_a", "u1", StarKind.SESSION, "nope", True)
    assert not store.star("prj_a", "u1", StarKind.TRACE, traces_b[0], True)
    assert not store.star("prj_b", "u1", StarKind.SESSION, "s-1", True)

    ids = ["s-1", "s-2", "s-b"]
    assert store.starred("prj_a", "u1", StarKind.SESSION, ids) == {"s-2"}
    assert store.starred("prj_a", "u2", StarKind.SESSION, ids) == {"s-1"}
    assert store.starred("prj_b", "u1", StarKind.SESSION, ids) == set()
    assert store.starred("prj_a", "u1", StarKind.TRACE, traces) == {traces[0]}

    def session_ids(user: str | None, project: str = "prj_a") -> list[str]:
        query = SessionQuery(limit=500, starred_by=user)
        return sorted(row["session_id"] for row in store.list_sessions(project, query).items)

    def trace_ids(user: str | None) -> list[str]:
        query = TraceQuery(limit=500, starred_by=user)
        return sorted(row["trace_id"] for row in store.list_traces("prj_a", query).items)

    assert session_ids(None) == ["s-1", "s-2"]
    assert session_ids("u1") == ["s-2"]
    assert session_ids("u2") == ["s-1"]
    assert session_ids("u3") == []
    assert session_ids("u1", "prj_b") == []
    assert store.count_sessions("prj_a", SessionQuery(starred_by="u1"), 100) == 1
    assert trace_ids("u1") == [traces[0]]
    assert trace_ids("u2") == []

    assert store.star("prj_a", "u1", StarKind.SESSION, "s-2", False)
    assert store.starred("prj_a", "u1", StarKind.SESSION, ids) == set()
    assert session_ids("u1") == []
    assert store.starred("prj_a", "u2", StarKind.SESSION, ids) == {"s-1"}


def test_deletes_take_their_comments_and_stars(store: Store) -> None:
    traces, _ = _seed(store)
    store.add_comment("prj_a", comment("s-1 own", session="s-1"))
    store.add_comment("prj_a", comment("s-1 trace", trace=traces[0]))
    store.add_comment("prj_a", comment("s-2 trace 1", trace=traces[2]))
    store.add_comment("prj_a", comment("s-2 trace 2", trace=traces[3]))
    store.add_comment("prj_b", comment("b", session="s-b"))
    store.star("prj_a", "u1", StarKind.SESSION, "s-1", True)
    store.star("prj_a", "u1", StarKind.TRACE, traces[2], True)
    store.star("prj_a", "u1", StarKind.TRACE, traces[3], True)

    store.delete_trace("prj_a", traces[2])
    assert _thread(store, session_id="s-2") == ["s-2 trace 2"]
    assert store.starred("prj_a", "u1", StarKind.TRACE, traces) == {traces[3]}

    store.delete_session("prj_a", "s-1")
    assert _thread(store, session_id="s-1") == []
    assert _thread(store, trace_id=traces[0]) == []
    assert store.starred("prj_a", "u1", StarKind.SESSION, ["s-1"]) == set()

    store.delete_project("prj_a")
    assert _thread(store, "prj_a") == []
    assert store.starred("prj_a", "u1", StarKind.TRACE, traces) == set()
    assert _thread(store, "prj_b", session_id="s-b") == ["b"]


def test_adding_a_comment_id_again_keeps_one(store: Store) -> None:
    """An export imported twice: each comment once."""
    _seed(store)
    made = comment("once", session="s-1")
    assert store.add_comment("prj_a", made) == made
    assert store.add_comment("prj_a", made) == made
    assert _thread(store, session_id="s-1") == ["once"]
