"""``observe``: trace a function (or one call) as a span.

The span records the call's inputs by parameter name, its output (or, for a
generator, everything it yielded), and any exception it raised (an exception
event and status ERROR; the exception itself is re-raised unchanged).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar, overload

from opentelemetry.context import Context, get_current
from opentelemetry.trace import Span, Status, StatusCode, set_span_in_context
from opentelemetry.util.types import AttributeValue

from lamina.sdk import attributes as attr
from lamina.sdk import context as assoc
from lamina.sdk.decorate import Call, Starter, wrap
from lamina.sdk.runtime import STATE
from lamina.sdk.serialize import to_json

P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger("lamina.sdk")

_SKIPPED_FIRST = ("self", "cls")
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)

#: Items a generator's span keeps at most; past this it counts the rest.
_MAX_YIELDED_ITEMS = 10_000
#: What a yielded item other than a string counts for, against the size limit.
_ITEM_SIZE = 16


def _input_capturer(
    fn: Callable[..., Any],
) -> Callable[[tuple[Any, ...], dict[str, Any]], dict[str, Any] | None]:
    """Maps a call's arguments to ``{parameter name: value}``, worked out once per
    function. ``self``/``cls`` are left out; extra positional arguments go under
    the ``*args`` parameter's name; extra keyword arguments under their own."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    positional = [p.name for p in params if p.kind in _POSITIONAL]
    varargs = next((p.name for p in params if p.kind is inspect.Parameter.VAR_POSITIONAL), "args")
    skip = 1 if positional and positional[0] in _SKIPPED_FIRST else 0
    names = tuple(positional[skip:])
    count = len(names)

    def capture(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any] | None:
        if skip:
            args = args[skip:]
        if not args and not kwargs:
            return None
        captured = dict(zip(names, args, strict=False))
        if len(args) > count:
            captured[varargs] = list(args[count:])
        if kwargs:
            captured.update(kwargs)
        return captured

    return capture


class _SpanCall:
    """One observed call: its span and the context its code runs in."""

    __slots__ = ("_attributes", "_items", "_observer", "_omitted", "_size", "context", "span")

    def __init__(
        self,
        observer: Observe,
        span: Span,
        context: Context,
        attributes: dict[str, AttributeValue],
    ) -> None:
        self._observer = observer
        self.span = span
        self.context = context
        #: Set on the span in one go when it ends (one lock, one validation pass).
        self._attributes = attributes
        self._items: list[Any] | None = None
        self._omitted = 0
        self._size = 0

    def _end(self) -> None:
        self.span.set_attributes(self._attributes)
        self.span.end()

    def returned(self, value: object) -> None:
        self._output(value)
        self._end()

    def yielded(self, item: object) -> None:
        """Keep ``item`` for the output, unless the output is already past the
        size limit (so a long stream does not hold its whole history)."""
        items = self._items
        if items is None:
            self._items = items = []
        if len(items) < _MAX_YIELDED_ITEMS and self._size <= STATE.max_payload_chars:
            items.append(item)
            self._size += len(item) if type(item) is str else _ITEM_SIZE
        else:
            self._omitted += 1

    def finished(self) -> None:
        items: list[Any] = self._items or []
        if self._omitted:
            items = [*items, f"... [lamina: {self._omitted} more items not recorded]"]
        self._output(items)
        self._end()

    def raised(self, exc: BaseException) -> None:
        try:
            if self._items is not None:
                self._output(self._items)
            self.span.record_exception(exc, escaped=True)
            self.span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        except Exception:
            log.debug("Lamina: recording an exception failed", exc_info=True)
        self._end()

    def _output(self, value: object) -> None:
        observer = self._observer
        if observer.ignore_output:
            return
        try:
            if observer.output_formatter is not None:
                value = observer.output_formatter(value)
            if value is not None:
                self._attributes[attr.OUTPUT] = to_json(value, STATE.max_payload_chars)
        except Exception as exc:
            self._attributes[attr.OUTPUT] = to_json(_formatter_failed("output", exc), 1000)


def _formatter_failed(which: str, exc: Exception) -> str:
    log.debug("Lamina: the %s formatter raised", which, exc_info=True)
    return f"<lamina: {which}_formatter raised {type(exc).__name__}: {exc}>"


class Observe:
    """What ``observe(...)`` returns: a decorator, which can also run one call
    directly with :meth:`call`."""

    def __init__(
        self,
        name: str | None = None,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        tags: Sequence[str] | None = None,
        span_type: str = "DEFAULT",
        ignore_input: bool = False,
        ignore_output: bool = False,
        input_formatter: Callable[..., Any] | None = None,
        output_formatter: Callable[[Any], Any] | None = None,
    ) -> None:
        if name is not None and not isinstance(name, str):
            raise TypeError(f"observe(name=...) must be a str, got {type(name).__name__}")
        self.name = name
        self.association = assoc.make(session_id, user_id, metadata, tags)
        self.span_type = attr.check_span_type(span_type)
        self.ignore_input = ignore_input
        self.ignore_output = ignore_output
        self.input_formatter = input_formatter
        self.output_formatter = output_formatter

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        """Decorate ``fn``: each call of it becomes a span."""
        if isinstance(fn, (classmethod, staticmethod)):
            inner: Any = self(fn.__func__)
            return type(fn)(inner)
        if not callable(fn):
            raise TypeError(f"observe() decorates a function, got {type(fn).__name__}")
        return wrap(fn, self._starter(fn))

    def call(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run ``fn(*args, **kwargs)`` once as a span and return what it returns
        (for an async function, the coroutine to await)."""
        return self(fn)(*args, **kwargs)

    def _starter(self, fn: Callable[..., Any]) -> Starter:
        name = self.name or getattr(fn, "__name__", None) or type(fn).__name__
        capture = None if self.ignore_input else _input_capturer(fn)
        formatter = self.input_formatter
        own = self.association
        span_type = self.span_type
        state = STATE

        def start(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
            tracer = state.tracer
            if tracer is None:
                return None
            attributes: dict[str, AttributeValue] = {attr.SPAN_TYPE: span_type}
            if capture is not None:
                try:
                    value = formatter(*args, **kwargs) if formatter else capture(args, kwargs)
                except Exception as exc:
                    value = _formatter_failed("input", exc)
                if value is not None:
                    attributes[attr.INPUT] = to_json(value, state.max_payload_chars)
            parent = get_current()
            if own is not None:
                parent = assoc.with_association(own, parent)
            span = tracer.start_span(name, context=parent)
            return _SpanCall(self, span, set_span_in_context(span, parent), attributes)

        return start


@overload
def observe(name: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def observe(
    name: str | None = None,
    *,
    session_id: str | None = None,
    user_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    tags: Sequence[str] | None = None,
    span_type: str = "DEFAULT",
    ignore_input: bool = False,
    ignore_output: bool = False,
    input_formatter: Callable[..., Any] | None = None,
    output_formatter: Callable[[Any], Any] | None = None,
) -> Observe: ...


def observe(
    name: str | Callable[..., Any] | None = None,
    *,
    session_id: str | None = None,
    user_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    tags: Sequence[str] | None = None,
    span_type: str = "DEFAULT",
    ignore_input: bool = False,
    ignore_output: bool = False,
    input_formatter: Callable[..., Any] | None = None,
    output_formatter: Callable[[Any], Any] | None = None,
) -> Observe | Callable[..., Any]:
    """Trace a function as a span: ``@observe()``, ``@observe("name", session_id=...)``
    or bare ``@observe``; or one call: ``observe("name").call(fn, *args)``.

    ``session_id``, ``user_id``, ``metadata`` and ``tags`` apply to this span and
    every span started inside it, so a top-level call's whole trace joins the
    session. ``span_type`` is one of DEFAULT, LLM, TOOL, EXECUTOR, EVALUATOR,
    EVALUATION, PIPELINE. ``input_formatter(*args, **kwargs)`` and
    ``output_formatter(result)`` replace what is recorded.
    """
    if callable(name) or isinstance(name, (classmethod, staticmethod)):
        return Observe()(name)
    return Observe(
        name,
        session_id=session_id,
        user_id=user_id,
        metadata=metadata,
        tags=tags,
        span_type=span_type,
        ignore_input=ignore_input,
        ignore_output=ignore_output,
        input_formatter=input_formatter,
        output_formatter=output_formatter,
    )
