"""Sessions, users, metadata and tags: where they apply, and that they never leak
into other traces, threads or asyncio tasks."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from lamina import Laminar, observe
from tests.conftest import LaminaServer
from tests.sdk.support import session, spans_by_name, trace, traces


@observe()
def step(label: str) -> str:
    return label


@observe()
def parent_step(label: str) -> str:
    return step(f"{label}/child")


def _trace_id_of(fn: Callable[[], object]) -> str:
    """Run ``fn`` inside a span and return that trace's id."""
    with Laminar.start_as_current_span("probe"):
        trace_id = Laminar.get_trace_id()
        fn()
    assert trace_id is not None
    return trace_id


def test_nothing_leaks_after_with_session_exits(
    laminar: LaminaServer, new_id: Callable[[str], str]
) -> None:
    session_id = new_id("s")
    with Laminar.with_session(session_id, user_id="u-leak"):
        parent_step("inside")
    after = _trace_id_of(lambda: step("after"))

    assert session(laminar, session_id)["trace_count"] == 1
    detail = trace(laminar, after)
    assert detail["session_id"] is None and detail["user_id"] is None
    assert all(s["session_id"] is None for s in detail["spans"])


def test_nothing_leaks_after_an_observe_session_returns(
    laminar: LaminaServer, new_id: Callable[[str], str]
) -> None:
    session_id = new_id("s")

    @observe(session_id=session_id)
    def turn() -> str:
        return parent_step("turn")

    turn()
    after = _trace_id_of(lambda: step("after"))

    result = session(laminar, session_id)
    assert result["trace_count"] == 1 and result["span_count"] == 3
    assert trace(laminar, after)["session_id"] is None


def test_nothing_leaks_after_set_session(
    laminar: LaminaServer, new_id: Callable[[str], str]
) -> None:
    session_id = new_id("s")

    @observe()
    def turn() -> None:
        Laminar.set_session(session_id)
        Laminar.set_user("u-set")

    turn()
    after = _trace_id_of(lambda: step("after"))

    assert session(laminar, session_id)["user_ids"] == ["u-set"]
    assert trace(laminar, after)["session_id"] is None


def test_nested_with_session_applies_the_inner_one_and_restores_the_outer(
    laminar: LaminaServer, new_id: Callable[[str], str]
) -> None:
    outer, inner = new_id("outer"), new_id("inner")
    with Laminar.with_session(outer):
        step("a")
        with Laminar.with_session(inner):
            step("b")
        step("c")

    assert [t["name"] for t in session(laminar, outer)["traces"]] == ["step", "step"]
    assert [t["input_preview"] for t in session(laminar, outer)["traces"]] == ["a", "c"]
    assert session(laminar, inner)["trace_count"] == 1


def test_with_session_as_decorator_and_async_context_manager(
    laminar: LaminaServer, new_id: Callable[[str], str]
) -> None:
    decorated, async_scoped = new_id("decorated"), new_id("async")

    @Laminar.with_session(decorated, user_id="u-deco")
    def run() -> str:
        step("one")
        return step("two")

    assert run() == "two"

    async def main() -> None:
        async with Laminar.with_session(async_scoped):
            await asyncio.sleep(0)
            step("async")

    asyncio.run(main())
    step("outside")

    assert session(laminar, decorated)["trace_count"] == 2
    assert session(laminar, decorated)["user_ids"] == ["u-deco"]
    assert session(laminar, async_scoped)["trace_count"] == 1


def test_concurrent_sessions_in_threads_stay_apart(
    laminar: LaminaServer, new_id: Callable[[str], str]
) -> None:
    ids = [new_id(f"thread{i}") for i in range(6)]
    start = threading.Barrier(len(ids))

    def worker(session_id: str) -> None:
        start.wait()
        for turn in range(3):
            with Laminar.with_session(session_id, user_id=f"user-of-{session_id}"):
                parent_step(f"{session_id}:{turn}")

    threads = [threading.Thread(target=worker, args=(sid,)) for sid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    for session_id in ids:
        result = session(laminar, session_id)
        assert result["trace_count"] == 3 and result["span_count"] == 6
        assert result["user_ids"] == [f"user-of-{session_id}"]
        for t in result["traces"]:
            assert t["input_preview"].startswith(f"{session_id}:")


def test_a_thread_started_inside_a_session_does_not_inherit_it(
    laminar: LaminaServer, new_id: Callable[[str], str]
) -> None:
    session_id = new_id("s")
    seen: list[str | None] = []

    def in_thread() -> None:
        seen.append(_trace_id_of(lambda: step("thread")))

    with Laminar.with_session(session_id):
        step("main")
        thread = threading.Thread(target=in_thread)
        thread.start()
        thread.join()

    assert session(laminar, session_id)["trace_count"] == 1
    assert seen[0] is not None
    assert trace(laminar, seen[0])["session_id"] is None


def test_a_thread_given_the_context_joins_the_trace_and_session(
    laminar: LaminaServer, new_id: Callable[[str], str]
) -> None:
    session_id = new_id("s")

    @observe()
    def fan_out() -> list[str]:
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(contextvars.copy_context().run, step, f"w{i}") for i in range(2)]
            return [f.result() for f in futures]

    with Laminar.with_session(session_id):
        assert fan_out() == ["w0", "w1"]

    result = session(laminar, session_id)
    assert result["trace_count"] == 1 and result["span_count"] == 3


def test_concurrent_sessions_in_asyncio_tasks_stay_apart(
    laminar: LaminaServer, new_id: Callable[[str], str]
) -> None:
    ids = [new_id(f"task{i}") for i in range(5)]

    @observe()
    async def answer(question: str) -> str:
        await asyncio.sleep(0.001)  # let the other tasks interleave
        return step(question.upper())

    @observe()
    async def conversation(session_id: str) -> None:
        for turn in range(2):
            await answer(f"{session_id}-{turn}")

    async def one(session_id: str) -> None:
        async with Laminar.with_session(session_id):
            await conversation(session_id)
            await asyncio.sleep(0.001)
            await answer("second trace")

    after_all = new_id("after all")  # the server is shared: a text no other test sends

    async def main() -> None:
        await asyncio.gather(*(one(sid) for sid in ids))
        await answer(after_all)  # in no session

    asyncio.run(main())

    for session_id in ids:
        result = session(laminar, session_id)
        assert result["trace_count"] == 2
        assert result["span_count"] == 5 + 2  # conversation + 2x(answer+step); answer+step
        assert [t["name"] for t in result["traces"]] == ["conversation", "answer"]
    lonely = [t for t in traces(laminar, name="answer") if t["input_preview"] == after_all]
    assert len(lonely) == 1 and lonely[0]["session_id"] is None, lonely


def test_a_task_created_inside_a_session_inherits_it(
    laminar: LaminaServer, new_id: Callable[[str], str]
) -> None:
    session_id = new_id("s")

    async def main() -> None:
        async with Laminar.with_session(session_id):
            task = asyncio.create_task(asyncio.to_thread(lambda: None))
            await task
            await asyncio.create_task(_async_step())

    async def _async_step() -> str:
        return step("in task")

    asyncio.run(main())
    assert session(laminar, session_id)["trace_count"] == 1


def test_user_metadata_and_tags_apply_to_the_trace(
    laminar: LaminaServer, new_id: Callable[[str], str]
) -> None:
    session_id = new_id("s")

    @observe(tags=["checkout"], metadata={"region": "eu"})
    def turn() -> str:
        Laminar.set_user("u-42")
        Laminar.set_metadata({"plan": "pro", "seats": 3})
        Laminar.set_tags(["beta"])
        return step("child")

    with Laminar.with_session(session_id, metadata={"channel": "web"}):
        turn()

    (summary,) = session(laminar, session_id)["traces"]
    assert summary["user_id"] == "u-42"
    assert summary["tags"] == ["beta", "checkout"]
    assert summary["metadata"] == {"channel": "web", "region": "eu", "plan": "pro", "seats": "3"}
    spans = spans_by_name(trace(laminar, summary["trace_id"]))
    # set after the root span started: the child spans carry everything too
    assert spans["step"]["user_id"] == "u-42"
    assert sorted(spans["step"]["tags"]) == ["beta", "checkout"]


@pytest.mark.parametrize(
    ("setter", "argument"),
    [
        (Laminar.set_session, "s-nowhere"),
        (Laminar.set_user, "u-nowhere"),
        (Laminar.set_metadata, {"k": "v"}),
        (Laminar.set_tags, ["t"]),
    ],
)
def test_setters_outside_any_span_warn_once_and_do_nothing(
    laminar: LaminaServer,
    caplog: pytest.LogCaptureFixture,
    setter: Callable[[object], None],
    argument: object,
) -> None:
    with caplog.at_level(logging.WARNING, logger="lamina.sdk"):
        setter(argument)
    (record,) = caplog.records
    assert "outside any span" in record.getMessage()
    assert setter.__name__ in record.getMessage()
    after = _trace_id_of(lambda: step("after"))
    detail = trace(laminar, after)
    assert detail["session_id"] is None and detail["user_id"] is None
    assert detail["tags"] == [] and detail["metadata"] == {}


def test_setters_never_raise_into_the_application(
    laminar: LaminaServer, caplog: pytest.LogCaptureFixture, new_id: Callable[[str], str]
) -> None:
    numeric_session = int(new_id("1").split("-")[1], 16)

    @observe()
    def turn() -> str:
        Laminar.set_session(numeric_session)  # type: ignore[arg-type]  # an int id is fine
        Laminar.set_tags("not-a-list")  # type: ignore[arg-type]
        Laminar.set_metadata(["not", "a", "dict"])  # type: ignore[arg-type]
        Laminar.set_user(object())  # type: ignore[arg-type]
        return "ok"

    with caplog.at_level(logging.WARNING, logger="lamina.sdk"):
        assert turn() == "ok"
    assert len(caplog.records) == 3
    assert all("ignored" in r.getMessage() for r in caplog.records)
    assert session(laminar, str(numeric_session))["trace_count"] == 1
