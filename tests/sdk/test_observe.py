"""``observe`` on every kind of function: what the span records, and that the
function behaves exactly as it did undecorated."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pydantic
import pytest

from lamina import Laminar, observe
from tests.conftest import LaminaServer
from tests.sdk.support import spans_by_name, trace


def _root_trace(laminar: LaminaServer, fn: Callable[[], object]) -> dict[str, Any]:
    """Run ``fn`` under a root span and return the stored trace (its spans by name)."""
    with Laminar.start_as_current_span("root"):
        trace_id = Laminar.get_trace_id()
        fn()
    assert trace_id is not None
    return trace(laminar, trace_id)


def _span(laminar: LaminaServer, name: str, fn: Callable[[], object]) -> dict[str, Any]:
    return spans_by_name(_root_trace(laminar, fn))[name]


def test_signature_kind_and_metadata_are_preserved() -> None:
    def plain(a: int, b: str = "x", *rest: int, flag: bool = False, **more: Any) -> str:
        """Doc."""
        return b

    async def coro(a: int) -> int:
        return a

    def gen(n: int) -> Iterator[int]:
        yield n

    async def agen(n: int) -> AsyncIterator[int]:
        yield n

    for fn in (plain, coro, gen, agen):
        wrapped = observe()(fn)
        assert inspect.signature(wrapped) == inspect.signature(fn)
        assert wrapped.__name__ == fn.__name__ and wrapped.__doc__ == fn.__doc__
        assert wrapped.__wrapped__ is fn  # type: ignore[attr-defined]
        assert inspect.iscoroutinefunction(wrapped) == inspect.iscoroutinefunction(fn)
        assert inspect.isgeneratorfunction(wrapped) == inspect.isgeneratorfunction(fn)
        assert inspect.isasyncgenfunction(wrapped) == inspect.isasyncgenfunction(fn)


def test_sync_function_records_inputs_by_name_and_output(laminar: LaminaServer) -> None:
    @observe()
    def book(city: str, nights: int, *extras: str, breakfast: bool = False, **notes: Any) -> dict:
        return {"city": city, "total": nights * 100}

    result: list[object] = []
    span = _span(
        laminar,
        "book",
        lambda: result.append(book("Oslo", 2, "parking", "wifi", breakfast=True, late="yes")),
    )
    assert result == [{"city": "Oslo", "total": 200}]
    assert json.loads(span["input"]) == {
        "city": "Oslo",
        "nights": 2,
        "extras": ["parking", "wifi"],
        "breakfast": True,
        "late": "yes",
    }
    assert json.loads(span["output"]) == {"city": "Oslo", "total": 200}
    assert span["span_type"] == "DEFAULT" and span["status"] != "error"


def test_exception_is_recorded_and_reraised_unchanged(laminar: LaminaServer) -> None:
    class PaymentDeclined(Exception):
        pass

    error = PaymentDeclined("card expired")

    @observe()
    def pay(amount: int) -> None:
        raise error

    def run() -> None:
        with pytest.raises(PaymentDeclined) as caught:
            pay(10)
        assert caught.value is error

    span = _span(laminar, "pay", run)
    assert span["status"] == "error"
    assert span["status_message"] == "PaymentDeclined: card expired"
    (event,) = span["events"]
    assert event["name"] == "exception"
    assert event["attributes"]["exception.message"] == "card expired"
    assert event["attributes"]["exception.type"].endswith("PaymentDeclined")
    assert span["output"] is None


def test_async_function(laminar: LaminaServer) -> None:
    @observe()
    async def fetch(url: str) -> str:
        await asyncio.sleep(0)
        return f"<html>{url}</html>"

    async def main() -> str:
        return await fetch("https://example.org")

    results: list[str] = []
    span = _span(laminar, "fetch", lambda: results.append(asyncio.run(main())))
    assert results == ["<html>https://example.org</html>"]
    assert json.loads(span["output"]) == "<html>https://example.org</html>"


def test_async_exception(laminar: LaminaServer) -> None:
    @observe()
    async def fail() -> None:
        await asyncio.sleep(0)
        raise KeyError("missing")

    def run() -> None:
        with pytest.raises(KeyError):
            asyncio.run(fail())

    assert _span(laminar, "fail", run)["status"] == "error"


def test_generator_records_what_it_yielded_and_keeps_send_and_return(
    laminar: LaminaServer,
) -> None:
    @observe()
    def tokens(prompt: str) -> Iterator[str]:
        yield from prompt.split()

    @observe()
    def echo() -> Any:
        received = []
        value = yield "ready"
        while value is not None:
            received.append(value)
            value = yield f"got {value}"
        return received

    def run() -> None:
        assert list(tokens("a b c")) == ["a", "b", "c"]
        gen = echo()
        assert next(gen) == "ready"
        assert gen.send(1) == "got 1"
        assert gen.send(2) == "got 2"
        with pytest.raises(StopIteration) as stop:
            gen.send(None)
        assert stop.value.value == [1, 2]

    spans = spans_by_name(_root_trace(laminar, run))
    assert json.loads(spans["tokens"]["output"]) == ["a", "b", "c"]
    assert json.loads(spans["echo"]["output"]) == ["ready", "got 1", "got 2"]


def test_generator_closed_early_or_failing(laminar: LaminaServer) -> None:
    @observe()
    def endless() -> Iterator[int]:
        n = 0
        while True:
            yield n
            n += 1

    @observe()
    def broken() -> Iterator[int]:
        yield 1
        raise RuntimeError("stream broke")

    def run() -> None:
        gen = endless()
        assert [next(gen) for _ in range(3)] == [0, 1, 2]
        gen.close()
        with pytest.raises(RuntimeError, match="stream broke"):
            list(broken())

    spans = spans_by_name(_root_trace(laminar, run))
    assert json.loads(spans["endless"]["output"]) == [0, 1, 2]
    assert spans["endless"]["status"] != "error"
    assert spans["broken"]["status"] == "error"
    assert json.loads(spans["broken"]["output"]) == [1]


def test_async_generator(laminar: LaminaServer) -> None:
    @observe()
    async def stream(n: int) -> AsyncIterator[int]:
        for i in range(n):
            await asyncio.sleep(0)
            yield i * i

    async def main() -> list[int]:
        return [x async for x in stream(4)]

    results: list[list[int]] = []
    span = _span(laminar, "stream", lambda: results.append(asyncio.run(main())))
    assert results == [[0, 1, 4, 9]]
    assert json.loads(span["output"]) == [0, 1, 4, 9]
    assert json.loads(span["input"]) == {"n": 4}


def test_the_span_is_current_inside_a_generator_but_not_between_its_steps(
    laminar: LaminaServer,
) -> None:
    @observe()
    def child() -> int:
        return 1

    @observe()
    def producer() -> Iterator[int]:
        yield child()
        yield child()

    @observe()
    def consumer_work() -> int:
        return 2

    def run() -> None:
        for _ in producer():
            consumer_work()

    detail = _root_trace(laminar, run)
    by_id = {s["span_id"]: s for s in detail["spans"]}
    parents = sorted(
        (s["name"], by_id[s["parent_span_id"]]["name"])
        for s in detail["spans"]
        if s["parent_span_id"]
    )
    assert parents == [
        ("child", "producer"),
        ("child", "producer"),
        ("consumer_work", "root"),
        ("consumer_work", "root"),
        ("producer", "root"),
    ]


def test_methods_classmethods_and_staticmethods(laminar: LaminaServer) -> None:
    class Agent:
        def __init__(self, name: str) -> None:
            self.name = name

        @observe()
        def act(self, task: str) -> str:
            return f"{self.name} does {task}"

        @classmethod
        @observe()
        def create(cls, name: str) -> Agent:
            return cls(name)

        @observe()  # above the classmethod decorator works too
        @classmethod
        def kind(cls) -> str:
            return cls.__name__

        @staticmethod
        @observe()
        def tool(x: int) -> int:
            return x * 2

        @observe()
        @staticmethod
        def other_tool(x: int) -> int:
            return x + 1

    def run() -> None:
        agent = Agent.create("bond")
        assert agent.act("research") == "bond does research"
        assert Agent.kind() == "Agent" and agent.kind() == "Agent"
        assert Agent.tool(2) == 4 and agent.other_tool(2) == 3

    spans = spans_by_name(_root_trace(laminar, run))
    assert json.loads(spans["act"]["input"]) == {"task": "research"}
    assert json.loads(spans["create"]["input"]) == {"name": "bond"}
    assert spans["kind"]["input"] is None
    assert json.loads(spans["tool"]["input"]) == {"x": 2}
    assert json.loads(spans["other_tool"]["output"]) == 3


def test_name_span_type_ignore_and_formatters(laminar: LaminaServer) -> None:
    @observe("search-tool", span_type="TOOL")
    def search(query: str) -> list[str]:
        return [query]

    @observe(ignore_input=True, ignore_output=True)
    def secret(password: str) -> str:
        return password

    @observe(
        input_formatter=lambda messages, **_: {"last": messages[-1]},
        output_formatter=lambda reply: reply.upper(),
    )
    def chat(messages: list[str], temperature: float = 0.0) -> str:
        return "ok"

    @observe(input_formatter=lambda *a: 1 / 0, output_formatter=lambda r: 1 / 0)
    def careless() -> str:
        return "still works"

    def run() -> None:
        assert search("lamina") == ["lamina"]
        assert secret("hunter2") == "hunter2"
        assert chat(["hi", "there"], temperature=0.5) == "ok"
        assert careless() == "still works"

    spans = spans_by_name(_root_trace(laminar, run))
    assert spans["search-tool"]["span_type"] == "TOOL"
    assert spans["secret"]["input"] is None and spans["secret"]["output"] is None
    assert "hunter2" not in json.dumps(spans["secret"])
    assert json.loads(spans["chat"]["input"]) == {"last": "there"}
    assert json.loads(spans["chat"]["output"]) == "OK"
    assert "input_formatter raised ZeroDivisionError" in spans["careless"]["input"]
    assert "output_formatter raised ZeroDivisionError" in spans["careless"]["output"]


def test_observe_rejects_an_unknown_span_type() -> None:
    with pytest.raises(ValueError, match="unknown span_type 'LLMM'"):
        observe(span_type="LLMM")


def test_any_object_is_recorded(laminar: LaminaServer) -> None:
    @dataclasses.dataclass
    class Order:
        id: int
        items: list[str]

    class Customer(pydantic.BaseModel):
        name: str
        vip: bool

    class Opaque:
        def __repr__(self) -> str:
            return "<Opaque thing>"

    @observe()
    def handle(
        order: Order, customer: Customer, raw: bytes, labels: set[str], other: Opaque
    ) -> Any:
        return {"order": order, "again": [customer, Opaque()]}

    span = _span(
        laminar,
        "handle",
        lambda: handle(
            Order(7, ["tea"]), Customer(name="Ada", vip=True), b"\xffhi", {"b", "a"}, Opaque()
        ),
    )
    assert json.loads(span["input"]) == {
        "order": {"id": 7, "items": ["tea"]},
        "customer": {"name": "Ada", "vip": True},
        "raw": "\\xffhi",
        "labels": ["a", "b"],
        "other": "<Opaque thing>",
    }
    assert json.loads(span["output"]) == {
        "order": {"id": 7, "items": ["tea"]},
        "again": [{"name": "Ada", "vip": True}, "<Opaque thing>"],
    }


def test_large_payloads_are_truncated_with_a_marker(server: LaminaServer) -> None:
    Laminar.initialize(project_api_key=server.api_key, base_url=server.url, max_payload_chars=100)
    try:

        @observe()
        def big(text: str) -> list[int]:
            return list(range(1000))

        span = _span(server, "big", lambda: big("x" * 5000))
    finally:
        Laminar.shutdown()
    recorded_input = json.loads(span["input"])
    assert isinstance(recorded_input, str)
    assert recorded_input.startswith('{"text":"xxxx')
    assert "[truncated by lamina: 5011 characters in all, limit 100]" in recorded_input
    recorded_output = json.loads(span["output"])
    assert recorded_output.startswith("[0,1,2,3")
    assert "truncated by lamina" in recorded_output


def test_manual_spans_output_events_and_trace_id(laminar: LaminaServer) -> None:
    with Laminar.start_as_current_span("retrieve", input={"query": "q"}, span_type="TOOL") as span:
        Laminar.set_span_output(["doc-1", "doc-2"])
        Laminar.event("cache-miss", {"key": "q", "attempt": 2})
        trace_id = Laminar.get_trace_id()
        assert trace_id == format(span.get_span_context().trace_id, "032x")

    with pytest.raises(ZeroDivisionError), Laminar.start_as_current_span("failing"):
        failing_trace = Laminar.get_trace_id()
        _ = 1 / 0
    assert Laminar.get_trace_id() is None

    assert trace_id is not None and failing_trace is not None
    (stored,) = trace(laminar, trace_id)["spans"]
    assert stored["name"] == "retrieve" and stored["span_type"] == "TOOL"
    assert json.loads(stored["input"]) == {"query": "q"}
    assert json.loads(stored["output"]) == ["doc-1", "doc-2"]
    assert [(e["name"], e["attributes"]) for e in stored["events"]] == [
        ("cache-miss", {"key": "q", "attempt": 2})
    ]
    (failed,) = trace(laminar, failing_trace)["spans"]
    assert failed["status"] == "error" and failed["events"][0]["name"] == "exception"


def test_without_initialize_observe_runs_the_function_untouched() -> None:
    assert not Laminar.is_initialized()
    calls: list[int] = []

    @observe(session_id="s")
    def work(x: int) -> int:
        calls.append(x)
        return x + 1

    @observe()
    def gen() -> Iterator[int]:
        yield 1

    assert work(1) == 2 and list(gen()) == [1] and calls == [1]
    assert Laminar.get_trace_id() is None
    assert Laminar.flush() is True
