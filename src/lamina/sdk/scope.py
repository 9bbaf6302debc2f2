"""Scopes that change the context without starting a span: ``with_session`` and
``continue_trace``. Each is a context manager (``with`` and ``async with``) and a
decorator; on exit the context is exactly what it was before, so nothing
leaks into code that runs afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from opentelemetry.context import Context, attach, detach

from lamina.sdk.decorate import Call, wrap

P = ParamSpec("P")
R = TypeVar("R")

#: The tokens of the scopes entered in the current context, innermost last, so
#: one scope object can be entered from several threads or tasks at once.
_ENTERED: ContextVar[tuple[tuple[int, Token[Context]], ...]] = ContextVar(
    "lamina_scopes", default=()
)


class _ScopeCall:
    """A decorated call inside a scope: only a context, nothing to record."""

    __slots__ = ("context",)

    def __init__(self, context: Context) -> None:
        self.context = context

    def returned(self, value: object) -> None:
        pass

    def yielded(self, item: object) -> None:
        pass

    def finished(self) -> None:
        pass

    def raised(self, exc: BaseException) -> None:
        pass


class ContextScope:
    """Runs code in the context ``make_context()`` builds from the current one."""

    def __init__(self, make_context: Callable[[], Context]) -> None:
        self._make_context = make_context

    def __enter__(self) -> None:
        token = attach(self._make_context())
        _ENTERED.set((*_ENTERED.get(), (id(self), token)))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        entered = _ENTERED.get()
        for i in range(len(entered) - 1, -1, -1):
            if entered[i][0] == id(self):
                token = entered[i][1]
                _ENTERED.set(entered[:i] + entered[i + 1 :])
                detach(token)
                return

    async def __aenter__(self) -> None:
        self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        """Decorate ``fn``: each call runs inside this scope."""
        make_context = self._make_context

        def start(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
            return _ScopeCall(make_context())

        return wrap(fn, start)
