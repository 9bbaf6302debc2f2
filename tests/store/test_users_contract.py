"""The Store contract for a project's end users (lamina.store.users), on every store,
against a reference computed here from the spans and scores written: each user's
totals, every sort in both orders paged by cursor and by offset, the search, one
user, another project's users, and a deleted session's user."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pytest

from lamina.store.base import Store
from lamina.store.queries import Cursor, SessionQuery
from lamina.store.scores import Score
from lamina.store.users import USER_SORTS, UserQuery
from tests.spans.record import SpanRecord
from tests.store.backends import Backend
from tests.store.test_contract import BASE, MS, SECOND, rec, trace_id
from tests.store.writing import write

# Ids with LIKE's wildcards, a backslash, markup and capitals: a search matches text.
USERS = ("alice", "Bob", "carol_1", "dave%2", "eve\\x", "<b>frank</b>", "alicia")


@dataclass
class Trace:
    trace_id: str
    session_id: str | None
    user_id: str | None
    spans: list[SpanRecord]


@dataclass
class Data:
    traces: list[Trace] = field(default_factory=list)
    scores: list[Score] = field(default_factory=list)


def make_data(rng: random.Random, project: str = "prj_a") -> Data:
    """Sessions of one to four turns; some turns of a second user, some without a user;
    traces without a session (not counted); scores on sessions and on traces."""
    data = Data()
    for n in range(24):
        session = f"{project}-s{n}" if n % 8 else None
        user = rng.choice(USERS)
        start = BASE + rng.randrange(0, 48 * 3600) * SECOND
        for turn in range(rng.randint(1, 4) if session else 1):
            who = user if turn != 2 else rng.choice((None, rng.choice(USERS)))
            trace = trace_id()
            at = start + turn * rng.randrange(1, 300) * SECOND
            root = rec(
                trace,
                "turn",
                project=project,
                start=at,
                ms=rng.randrange(100, 900),
                session_id=session,
                user_id=who,
            )
            llm = rec(
                trace,
                "llm",
                project=project,
                parent=root.span_id,
                start=at + 10 * MS,
                ms=50,
                span_type="LLM",
                model="gpt-a",
                input_tokens=rng.randrange(1, 500),
                output_tokens=rng.randrange(1, 200),
                cost=rng.randrange(1, 1000) / 100_000,
                status="error" if rng.random() < 0.25 else "ok",
            )
            data.traces.append(Trace(trace, session, who, [root, llm]))
    n = 0
    for trace in data.traces:
        if rng.random() < 0.5:
            n += 1
            target = {"session_id": trace.session_id} if n % 3 == 0 else {}
            target = target if trace.session_id else {}
            data.scores.append(
                Score(
                    score_id=f"{project}-score-{n}",
                    name="quality" if n % 4 else "outcome",
                    value=rng.choice((0.0, 0.5, 1.0, None)),
                    label=None if n % 4 else rng.choice(("success", "failure")),
                    source="api",
                    author=None,
                    session_id=target.get("session_id"),
                    trace_id=None if target else trace.trace_id,
                    span_id=None,
                    comment=None,
                    created_ns=BASE + n * SECOND,
                )
            )
    return data


def reference(data: Data) -> dict[str, dict[str, Any]]:
    """Each user's row: the totals of every session one of whose traces carries them."""
    sessions: dict[str, list[Trace]] = defaultdict(list)
    for trace in data.traces:
        if trace.session_id is not None:
            sessions[trace.session_id].append(trace)
    trace_session = {t.trace_id: t.session_id for t in data.traces}
    users: dict[str, dict[str, Any]] = {}
    for session_id, traces in sessions.items():
        spans = [span for trace in traces for span in trace.spans]
        for user in {t.user_id for t in traces if t.user_id}:
            row = users.setdefault(
                user,
                {
                    "user_id": user,
                    "sessions": 0,
                    "traces": 0,
                    "input_tokens": 0,
                    "output_tokens": 0,
                    "cost": 0.0,
                    "errors": 0,
                    "first_seen_ns": min(s.start_ns for s in spans),
                    "last_seen_ns": 0,
                    "_sessions": set(),
                },
            )
            row["sessions"] += 1
            row["_sessions"].add(session_id)
            row["traces"] += len(traces)
            row["input_tokens"] += sum(s.input_tokens or 0 for s in spans)
            row["output_tokens"] += sum(s.output_tokens or 0 for s in spans)
            row["cost"] += sum(s.cost or 0 for s in spans)
            row["errors"] += sum(any(s.status == "error" for s in t.spans) for t in traces)
            row["first_seen_ns"] = min(row["first_seen_ns"], min(s.start_ns for s in spans))
            row["last_seen_ns"] = max(row["last_seen_ns"], max(s.end_ns for s in spans))
    for row in users.values():
        row["total_tokens"] = row["input_tokens"] + row["output_tokens"]
        mine = row.pop("_sessions")
        summary: dict[str, dict[str, Any]] = {}
        for score in data.scores:
            owners = {score.session_id, trace_session.get(score.trace_id or "")}
            if not owners & mine:
                continue
            entry = summary.setdefault(score.name, {"values": [], "count": 0, "labels": set()})
            entry["count"] += 1
            if score.value is not None:
                entry["values"].append(score.value)
            if score.label is not None:
                entry["labels"].add(score.label)
        row["score_summary"] = {
            name: {
                "avg": sum(e["values"]) / len(e["values"]) if e["values"] else None,
                "count": e["count"],
                **({"labels": sorted(e["labels"])} if e["labels"] else {}),
            }
            for name, e in summary.items()
        }
    return users


def _sort_key(sort: str, row: dict[str, Any]) -> Any:
    column = {"last_seen": "last_seen_ns", "first_seen": "first_seen_ns"}.get(sort, sort)
    return (row[column] or 0, row["user_id"])


@pytest.fixture
def written(store: Store) -> tuple[Store, dict[str, dict[str, Any]]]:
    data = make_data(random.Random(21))
    other = make_data(random.Random(22), project="prj_b")
    write(store, [span for t in [*data.traces, *other.traces] for span in t.spans])
    store.add_scores("prj_a", data.scores)
    store.add_scores("prj_b", other.scores)
    return store, reference(data)


def assert_rows(got: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert [row["user_id"] for row in got] == [row["user_id"] for row in expected]
    for row, want in zip(got, expected, strict=True):
        assert row["cost"] == pytest.approx(want["cost"], rel=1e-9)
        assert {k: v for k, v in row.items() if k not in ("cost", "score_summary")} == {
            k: v for k, v in want.items() if k not in ("cost", "score_summary")
        }
        assert row["score_summary"].keys() == want["score_summary"].keys()
        for name, entry in want["score_summary"].items():
            got = row["score_summary"][name]
            assert got.pop("avg") == pytest.approx(entry["avg"]), (row["user_id"], name)
            assert got == {k: v for k, v in entry.items() if k != "avg"}


def test_every_user_has_the_totals_of_their_sessions(
    written: tuple[Store, dict[str, dict[str, Any]]],
) -> None:
    store, users = written
    page = store.list_end_users("prj_a", UserQuery(limit=100))
    expected = sorted(users.values(), key=lambda r: _sort_key("last_seen", r), reverse=True)
    assert page.total == len(users) >= 6
    assert page.next_cursor is None
    assert_rows(page.items, expected)
    assert any(len(row["score_summary"]) == 2 for row in page.items)


@pytest.mark.parametrize("sort", USER_SORTS)
@pytest.mark.parametrize("descending", [True, False])
def test_each_sort_pages_by_cursor_and_by_offset(
    written: tuple[Store, dict[str, dict[str, Any]]], sort: str, descending: bool
) -> None:
    store, users = written
    expected = sorted(users.values(), key=lambda r: _sort_key(sort, r), reverse=descending)
    by_cursor: list[dict[str, Any]] = []
    cursor: Cursor | None = None
    for _ in range(len(users)):
        query = UserQuery(limit=2, sort=sort, descending=descending, cursor=cursor)
        page = store.list_end_users("prj_a", query)
        assert page.total == len(users)
        by_cursor += page.items
        if page.next_cursor is None:
            break
        cursor = Cursor.decode(page.next_cursor, sort)
    assert_rows(by_cursor, expected)
    by_offset = [
        row
        for offset in range(0, len(users), 3)
        for row in store.list_end_users(
            "prj_a", UserQuery(limit=3, offset=offset, sort=sort, descending=descending)
        ).items
    ]
    assert_rows(by_offset, expected)
    past = store.list_end_users("prj_a", UserQuery(limit=3, offset=len(users), sort=sort))
    assert (past.items, past.total) == ([], len(users))


@pytest.fixture
def rarely_scored(store: Store) -> tuple[Store, dict[str, dict[str, Any]]]:
    """The data of ``written`` with a score "rare" given to a few sessions and traces
    only: some users have it, some do not, one session's only without a value."""
    data = make_data(random.Random(21))
    sessions = sorted({t.session_id for t in data.traces if t.session_id is not None})
    of_session = {t.session_id: t.trace_id for t in data.traces}
    for n, (session, value) in enumerate(
        [(sessions[0], 0.9), (sessions[3], 0.2), (sessions[5], None), (sessions[6], 0.5)]
    ):
        on_trace = n % 2 == 0  # counts for its trace's session
        data.scores.append(
            Score(
                score_id=f"rare-{n}",
                name="rare",
                value=value,
                label="odd" if value is None else None,
                source="api",
                author=None,
                session_id=None if on_trace else session,
                trace_id=of_session[session] if on_trace else None,
                span_id=None,
                comment=None,
                created_ns=BASE + n * SECOND,
            )
        )
    write(store, [span for t in data.traces for span in t.spans])
    store.add_scores("prj_a", data.scores)
    return store, reference(data)


@pytest.mark.parametrize("name", ["rare", "quality", "never-given"])
@pytest.mark.parametrize("descending", [True, False])
def test_a_sort_by_a_score_puts_users_without_it_last(
    rarely_scored: tuple[Store, dict[str, dict[str, Any]]], name: str, descending: bool
) -> None:
    """By the average of a score's values over a user's sessions (as their
    score_summary shows it), paged by cursor and by offset; users without a value of
    that score come after the others in either order, by id."""
    store, users = rarely_scored
    averages = {u: (r["score_summary"].get(name) or {}).get("avg") for u, r in users.items()}
    scored = [r for r in users.values() if averages[r["user_id"]] is not None]
    unscored = [r for r in users.values() if averages[r["user_id"]] is None]
    expected = sorted(
        scored, key=lambda r: (averages[r["user_id"]], r["user_id"]), reverse=descending
    ) + sorted(unscored, key=lambda r: r["user_id"], reverse=descending)
    if name == "rare":
        assert scored and unscored
    sort = f"score:{name}"
    by_cursor: list[dict[str, Any]] = []
    cursor: Cursor | None = None
    for _ in range(len(users)):
        query = UserQuery(
            limit=2, sort="score", score_sort=name, descending=descending, cursor=cursor
        )
        page = store.list_end_users("prj_a", query)
        assert page.total == len(users)
        by_cursor += page.items
        if page.next_cursor is None:
            break
        cursor = Cursor.decode(page.next_cursor, sort)
    assert_rows(by_cursor, expected)
    by_offset = [
        row
        for offset in range(0, len(users), 3)
        for row in store.list_end_users(
            "prj_a",
            UserQuery(limit=3, offset=offset, sort="score", score_sort=name, descending=descending),
        ).items
    ]
    assert_rows(by_offset, expected)


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("ALI", {"alice", "alicia"}),
        ("_", {"carol_1"}),
        ("%", {"dave%2"}),
        ("\\", {"eve\\x"}),
        ("<b>", {"<b>frank</b>"}),
        ("nobody", set()),
    ],
)
def test_a_search_keeps_the_ids_that_contain_it(
    written: tuple[Store, dict[str, dict[str, Any]]], q: str, found: set[str]
) -> None:
    store, users = written
    page = store.list_end_users("prj_a", UserQuery(q=q, sort="user_id", descending=False))
    found &= set(users)
    assert [row["user_id"] for row in page.items] == sorted(found)
    assert page.total == len(found)


def test_one_user_and_another_projects_users(
    written: tuple[Store, dict[str, dict[str, Any]]],
) -> None:
    store, users = written
    for user_id, want in users.items():
        got = store.get_end_user("prj_a", user_id)
        assert got is not None
        assert_rows([got], [want])
    assert store.get_end_user("prj_a", "no-such-user") is None
    assert store.get_end_user("prj_c", next(iter(users))) is None
    assert store.list_end_users("prj_c", UserQuery()).items == []
    other = reference(make_data(random.Random(22), project="prj_b"))
    page = store.list_end_users("prj_b", UserQuery(limit=100))
    assert page.total == len(other)
    for row in page.items:
        assert row["sessions"] == other[row["user_id"]]["sessions"]


def test_a_deleted_sessions_user_loses_it(
    written: tuple[Store, dict[str, dict[str, Any]]],
) -> None:
    store, users = written
    one = min(users.values(), key=lambda r: (r["sessions"], r["user_id"]))
    theirs = store.list_sessions("prj_a", SessionQuery(user_id=one["user_id"], limit=100))
    assert len(theirs.items) == one["sessions"]
    for session in theirs.items:
        store.delete_session("prj_a", session["session_id"])
    assert store.get_end_user("prj_a", one["user_id"]) is None
    page = store.list_end_users("prj_a", UserQuery(limit=100))
    assert page.total == len(users) - 1
    store.delete_project("prj_a")
    assert store.list_end_users("prj_a", UserQuery()).total == 0


def test_a_score_given_after_a_read_is_in_the_next(
    written: tuple[Store, dict[str, dict[str, Any]]],
) -> None:
    """A user's score summary read once (and kept by a store between writes) is read
    again after a score is given."""
    store, users = written
    user = max(users.values(), key=lambda r: (r["sessions"], r["user_id"]))
    before = store.get_end_user("prj_a", user["user_id"])
    assert before is not None
    listed = store.list_end_users("prj_a", UserQuery(limit=100)).items
    assert next(r for r in listed if r["user_id"] == user["user_id"]) == before
    theirs = store.list_sessions("prj_a", SessionQuery(user_id=user["user_id"], limit=1))
    session_id = theirs.items[0]["session_id"]
    given = Score("late-1", "late", 0.25, None, "api", None, session_id, None, None, None, 1)
    store.add_scores("prj_a", [given])
    for after in (
        store.get_end_user("prj_a", user["user_id"]),
        next(
            r
            for r in store.list_end_users("prj_a", UserQuery(limit=100)).items
            if r["user_id"] == user["user_id"]
        ),
    ):
        assert after is not None
        assert after["score_summary"]["late"] == {"avg": 0.25, "count": 1}
        assert {k: v for k, v in after.items() if k != "score_summary"} == {
            k: v for k, v in before.items() if k != "score_summary"
        }


def test_users_follow_their_sessions_written_in_pieces(backend: Backend) -> None:
    """A store may keep each user's totals as spans arrive (the DuckDB store does, at
    ingest): written a few traces at a time in a shuffled order, then a late span that
    moves a trace (and its user) to another session, then a deleted trace, the list is
    the reference after each step, and again once the store is opened again."""
    rng = random.Random(23)
    data = make_data(rng)
    data.scores.clear()
    traces = list(data.traces)
    rng.shuffle(traces)
    store = backend.open()
    try:
        for start in range(0, len(traces), 7):
            write(store, [span for t in traces[start : start + 7] for span in t.spans])
            written = Data([t for t in data.traces if t in traces[: start + 7]])
            assert_listed(store, reference(written))
        # the earliest span of a session's trace now names another session and user
        moved = next(t for t in data.traces if t.session_id == "prj_a-s3")
        root = moved.spans[0]
        late = rec(
            moved.trace_id,
            "late-root",
            start=root.start_ns - SECOND,
            session_id="prj_a-s5",
            user_id="zoe",
        )
        write(store, [late])
        moved.session_id, moved.user_id = "prj_a-s5", "zoe"
        moved.spans.append(late)
        assert_listed(store, reference(data))
        gone = next(t for t in data.traces if t.session_id == "prj_a-s9")
        store.delete_trace("prj_a", gone.trace_id)
        data.traces.remove(gone)
        assert_listed(store, reference(data))
    finally:
        store.close()
    store = backend.open()
    try:
        assert_listed(store, reference(data))
    finally:
        store.close()


def assert_listed(store: Store, users: dict[str, dict[str, Any]]) -> None:
    """Every sort's first page and one user, without scores (none given here)."""
    for sort in ("last_seen", "cost", "sessions"):
        page = store.list_end_users("prj_a", UserQuery(limit=100, sort=sort))
        expected = sorted(users.values(), key=lambda r: _sort_key(sort, r), reverse=True)
        assert page.total == len(users)
        assert_rows(page.items, expected)
    for user_id, want in users.items():
        assert_rows([store.get_end_user("prj_a", user_id) or {}], [want])
