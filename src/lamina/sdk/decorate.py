"""One wrapper for every kind of function: plain, async, generator and async
generator. The kind is decided once, when the function is decorated; each
call then asks a *starter* for a :class:`Call` (or ``None``: run untouched),
runs the function in the call's context and reports how it ended.

Generators run each step (first ``next``, every ``send``/``throw``, ``close``)
in the call's context, and *not* the caller's code between steps, so the
context never leaks out through a ``yield``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Coroutine, Generator
from typing import Any, ParamSpec, Protocol, TypeVar, cast

from opentelemetry.context import Context, attach, detach

P = ParamSpec("P")
R = TypeVar("R")


class Call(Protocol):
    """One call in progress. Its methods must never raise."""

    @property
    def context(self) -> Context: ...

    def returned(self, value: object) -> None:
        """A plain or async function returned ``value``."""

    def yielded(self, item: object) -> None:
        """A generator yielded ``item``."""

    def finished(self) -> None:
        """A generator ended: exhausted, or closed early by its consumer."""

    def raised(self, exc: BaseException) -> None:
        """The function raised ``exc`` (which is then re-raised unchanged)."""


Starter = Callable[[tuple[Any, ...], dict[str, Any]], Call | None]


def wrap(fn: Callable[P, R], start: Starter) -> Callable[P, R]:
    """``fn`` wrapped so that each call runs inside the :class:`Call` ``start`` gives."""
    wrapper: Callable[..., Any]
    if inspect.isasyncgenfunction(fn):
        wrapper = _async_generator(cast(Callable[..., AsyncGenerator[Any, Any]], fn), start)
    elif inspect.iscoroutinefunction(fn):
        wrapper = _coroutine(cast(Callable[..., Coroutine[Any, Any, Any]], fn), start)
    elif inspect.isgeneratorfunction(fn):
        wrapper = _generator(cast(Callable[..., Generator[Any, Any, Any]], fn), start)
    else:
        wrapper = _plain(fn, start)
    functools.update_wrapper(wrapper, fn)
    return cast(Callable[P, R], wrapper)


def _plain(fn: Callable[..., Any], start: Starter) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        call = start(args, kwargs)
        if call is None:
            return fn(*args, **kwargs)
        token = attach(call.context)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            detach(token)
            call.raised(exc)
            raise
        detach(token)
        call.returned(result)
        return result

    return wrapper


def _coroutine(
    fn: Callable[..., Coroutine[Any, Any, Any]], start: Starter
) -> Callable[..., Coroutine[Any, Any, Any]]:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        call = start(args, kwargs)
        if call is None:
            return await fn(*args, **kwargs)
        token = attach(call.context)
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            detach(token)
            call.raised(exc)
            raise
        detach(token)
        call.returned(result)
        return result

    return wrapper


def _generator(
    fn: Callable[..., Generator[Any, Any, Any]], start: Starter
) -> Callable[..., Generator[Any, Any, Any]]:
    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        call = start(args, kwargs)
        if call is None:
            return (yield from fn(*args, **kwargs))
        context = call.context
        token = attach(context)
        try:
            gen = fn(*args, **kwargs)
        except BaseException as exc:
            detach(token)
            call.raised(exc)
            raise
        detach(token)
        sent: Any = None
        thrown: BaseException | None = None
        while True:
            token = attach(context)
            try:
                if thrown is None:
                    item = gen.send(sent)
                else:
                    pending, thrown = thrown, None
                    item = gen.throw(pending)
            except StopIteration as stop:
                detach(token)
                call.finished()
                return stop.value
            except BaseException as exc:
                detach(token)
                call.raised(exc)
                raise
            detach(token)
            call.yielded(item)
            try:
                sent = yield item
            except GeneratorExit:
                token = attach(context)
                try:
                    gen.close()
                except BaseException as exc:
                    detach(token)
                    call.raised(exc)
                    raise
                detach(token)
                call.finished()
                raise
            except BaseException as exc:
                sent, thrown = None, exc

    return wrapper


def _async_generator(
    fn: Callable[..., AsyncGenerator[Any, Any]], start: Starter
) -> Callable[..., AsyncGenerator[Any, Any]]:
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        call = start(args, kwargs)
        if call is None:
            async for item in fn(*args, **kwargs):
                yield item
            return
        context = call.context
        token = attach(context)
        try:
            gen = fn(*args, **kwargs)
        except BaseException as exc:
            detach(token)
            call.raised(exc)
            raise
        detach(token)
        sent: Any = None
        thrown: BaseException | None = None
        while True:
            token = attach(context)
            try:
                if thrown is None:
                    item = await gen.asend(sent)
                else:
                    pending, thrown = thrown, None
                    item = await gen.athrow(pending)
            except StopAsyncIteration:
                detach(token)
                call.finished()
                return
            except BaseException as exc:
                detach(token)
                call.raised(exc)
                raise
            detach(token)
            call.yielded(item)
            try:
                sent = yield item
            except GeneratorExit:
                token = attach(context)
                try:
                    await gen.aclose()
                except BaseException as exc:
                    detach(token)
                    call.raised(exc)
                    raise
                detach(token)
                call.finished()
                raise
            except BaseException as exc:
                sent, thrown = None, exc

    return wrapper
