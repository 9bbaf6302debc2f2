"""``Laminar``: the SDK's entry point, used as a class (``Laminar.initialize(...)``)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry.context import attach, detach, get_current
from opentelemetry.trace import (
    INVALID_SPAN,
    Span,
    Status,
    StatusCode,
    format_trace_id,
    get_current_span,
    set_span_in_context,
)
from opentelemetry.util.types import AttributeValue

from lamina.sdk import attributes as attr
from lamina.sdk import context as assoc
from lamina.sdk import propagation
from lamina.sdk.config import SdkSettings
from lamina.sdk.runtime import STATE, Runtime
from lamina.sdk.scope import ContextScope
from lamina.sdk.score_args import ScoreArgumentError, end_args, outcome_payload, score_payload
from lamina.sdk.serialize import to_json

log = logging.getLogger("lamina.sdk")

DEFAULT_FLUSH_TIMEOUT_SECONDS = 5.0


_SESSION_HINT = " (or use Laminar.with_session(...) or observe(session_id=...))"
_USER_HINT = " (or use Laminar.with_session(..., user_id=...) or observe(user_id=...))"
_METADATA_HINT = " (or use Laminar.with_session(..., metadata=...) or observe(metadata=...))"
_OUTSIDE_HINT = {
    "set_session": _SESSION_HINT,
    "set_trace_session_id": _SESSION_HINT,
    "set_user": _USER_HINT,
    "set_trace_user_id": _USER_HINT,
    "set_metadata": _METADATA_HINT,
    "set_trace_metadata": _METADATA_HINT,
    "set_tags": " (or use observe(tags=...))",
}


def _current_recording_span(setter: str) -> Span | None:
    span = get_current_span()
    if span.is_recording():
        return span
    log.warning(
        "Lamina: Laminar.%s() was called outside any span, so it does nothing. Call it "
        "inside an @observe'd function or a Laminar.start_as_current_span() block%s.",
        setter,
        _OUTSIDE_HINT.get(setter, ""),
    )
    return None


def _associate(setter: str, **fields: Any) -> None:
    """Apply the association ``fields`` describe to the current trace: on the
    current span now, and on every span started later inside it (until the
    span's scope exits). A bad argument is logged, never raised: these run in
    the middle of the application's code."""
    try:
        association = assoc.make(**fields)
    except TypeError as exc:
        log.warning("Lamina: Laminar.%s() ignored: %s", setter, exc)
        return
    if association is None:
        return
    span = _current_recording_span(setter)
    if span is None:
        return
    context = assoc.with_association(association)
    merged = assoc.current(context)
    if merged is not None:
        span.set_attributes(merged.attributes)
    # Not detached here: the enclosing span's scope (observe, start_as_current_span)
    # restores the context it started from when it exits, dropping this too.
    attach(context)


class Laminar:
    """The SDK's functions. Nothing is traced until :meth:`initialize` has run."""

    def __init__(self) -> None:
        raise TypeError("Laminar is used as a class: call Laminar.initialize(...)")

    # -- set-up -------------------------------------------------------------------

    @staticmethod
    def initialize(
        project_api_key: str | None = None,
        base_url: str | None = None,
        instrument_modules: Iterable[str] | None = None,
        *,
        service_name: str | None = None,
        max_payload_chars: int | None = None,
        max_queue_size: int | None = None,
        export_timeout_seconds: float | None = None,
    ) -> None:
        """Start sending traces to a Lamina server.

        Arguments left out come from the environment (``LAMINA_PROJECT_API_KEY``,
        ``LAMINA_BASE_URL``, ...), then defaults; see docs/sdk.md. Raises
        :class:`LaminaConfigError` for a setting it cannot use. Calling it again
        replaces the previous set-up (which is flushed and shut down first).
        """
        settings = SdkSettings.resolve(
            project_api_key=project_api_key,
            base_url=base_url,
            instrument_modules=instrument_modules,
            service_name=service_name,
            max_payload_chars=max_payload_chars,
            max_queue_size=max_queue_size,
            export_timeout_seconds=export_timeout_seconds,
        )
        old = STATE.stop()
        if old is not None:
            old.shutdown(DEFAULT_FLUSH_TIMEOUT_SECONDS)
        STATE.start(Runtime(settings))

    @staticmethod
    def is_initialized() -> bool:
        return STATE.runtime is not None

    @staticmethod
    def flush(timeout_seconds: float = DEFAULT_FLUSH_TIMEOUT_SECONDS) -> bool:
        """Send every span ended and every score given so far; wait at most
        ``timeout_seconds``. True when they were all delivered to the server in
        time. Never raises."""
        runtime = STATE.runtime
        return True if runtime is None else runtime.flush(timeout_seconds)

    @staticmethod
    def shutdown(timeout_seconds: float = DEFAULT_FLUSH_TIMEOUT_SECONDS) -> None:
        """Flush (at most ``timeout_seconds``), then stop tracing. Also runs at exit."""
        runtime = STATE.stop()
        if runtime is not None:
            runtime.shutdown(timeout_seconds)

    # -- sessions, users, metadata, tags -------------------------------------------

    @staticmethod
    def with_session(
        session_id: str,
        user_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> ContextScope:
        """A scope (``with``, ``async with`` or decorator) whose traces all belong
        to session ``session_id`` (and user ``user_id``). Each top-level span
        started inside is its own trace; nested ones are its children."""
        association = assoc.make(session_id=session_id, user_id=user_id, metadata=metadata)
        if association is None:
            raise ValueError("with_session needs a non-empty session_id")
        return ContextScope(lambda: assoc.with_association(association))

    @staticmethod
    def set_session(session_id: str) -> None:
        """Put the current trace in session ``session_id`` (call inside a span)."""
        _associate("set_session", session_id=session_id)

    @staticmethod
    def set_user(user_id: str) -> None:
        """Attribute the current trace to user ``user_id`` (call inside a span)."""
        _associate("set_user", user_id=user_id)

    @staticmethod
    def set_metadata(metadata: Mapping[str, Any]) -> None:
        """Add ``metadata`` (a dict) to the current trace (call inside a span)."""
        _associate("set_metadata", metadata=metadata)

    @staticmethod
    def set_tags(tags: Sequence[str]) -> None:
        """Add ``tags`` to the current trace (call inside a span)."""
        _associate("set_tags", tags=tags)

    # The current Laminar SDK's names for the three above (the seed's names, above, were
    # renamed since): code written for either version runs after changing its import.

    @staticmethod
    def set_trace_session_id(session_id: str | None = None) -> None:
        """The Laminar SDK's name for :meth:`set_session`."""
        _associate("set_trace_session_id", session_id=session_id)

    @staticmethod
    def set_trace_user_id(user_id: str | None = None) -> None:
        """The Laminar SDK's name for :meth:`set_user`."""
        _associate("set_trace_user_id", user_id=user_id)

    @staticmethod
    def set_trace_metadata(metadata: Mapping[str, Any]) -> None:
        """The Laminar SDK's name for :meth:`set_metadata`."""
        _associate("set_trace_metadata", metadata=metadata)

    # -- spans ------------------------------------------------------------------------

    @staticmethod
    @contextmanager
    def start_as_current_span(
        name: str,
        input: Any = None,
        span_type: str = "DEFAULT",
    ) -> Iterator[Span]:
        """A span around a ``with`` block, current inside it. An exception raised in
        the block is recorded (status ERROR) and re-raised."""
        kind = attr.check_span_type(span_type)
        tracer = STATE.tracer
        if tracer is None:
            yield INVALID_SPAN
            return
        attributes: dict[str, AttributeValue] = {attr.SPAN_TYPE: kind}
        if input is not None:
            attributes[attr.INPUT] = to_json(input, STATE.max_payload_chars)
        parent = get_current()
        span = tracer.start_span(name, context=parent, attributes=attributes)
        token = attach(set_span_in_context(span, parent))
        try:
            yield span
        except BaseException as exc:
            span.record_exception(exc, escaped=True)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            raise
        finally:
            detach(token)
            span.end()

    @staticmethod
    def set_span_output(output: Any) -> None:
        """Record ``output`` as the current span's output."""
        span = _current_recording_span("set_span_output")
        if span is not None:
            span.set_attribute(attr.OUTPUT, to_json(output, STATE.max_payload_chars))

    @staticmethod
    def event(name: str, attributes: Mapping[str, AttributeValue] | None = None) -> None:
        """Add an event (a timestamped note) to the current span."""
        span = _current_recording_span("event")
        if span is not None:
            span.add_event(name, attributes=dict(attributes) if attributes else None)

    @staticmethod
    def get_trace_id() -> str | None:
        """The current trace's id (32 hex digits, as the JSON API shows it), or None."""
        span_context = get_current_span().get_span_context()
        return format_trace_id(span_context.trace_id) if span_context.is_valid else None

    # -- scores and session outcomes -------------------------------------------------

    @staticmethod
    def score(
        name: str,
        value: float | bool | None = None,
        *,
        label: str | None = None,
        session_id: str | None = None,
        trace_id: str | None = None,
        span_id: str | None = None,
        comment: str | None = None,
    ) -> str | None:
        """Score a session, a trace or a span: ``value`` a number (or a bool),
        ``label`` a category, or both. With no ``session_id`` or ``trace_id``, inside
        a span, it scores the current trace. Queued and sent in the background
        (retried while the server is unreachable); returns the score's id, or None
        when it was not queued (the reason is logged). Never raises, never waits."""
        try:
            if trace_id is None and session_id is None:
                trace_id = Laminar.get_trace_id()
            payload = score_payload(
                name,
                value,
                label=label,
                session_id=session_id,
                trace_id=trace_id,
                span_id=span_id,
                comment=comment,
            )
            runtime = STATE.runtime
            if runtime is None:
                raise ScoreArgumentError("Laminar.initialize() has not run, so it is not sent")
            runtime.scores.add_score(payload)
            return str(payload["score_id"])
        except ScoreArgumentError as exc:
            log.warning("Lamina: Laminar.score(%r) ignored: %s", name, exc)
        except Exception:
            log.exception("Lamina: Laminar.score(%r) failed; the application is not affected", name)
        return None

    @staticmethod
    def end_session(session_id: str, outcome: str | None = None) -> None:
        """Mark session ``session_id`` ended, with an ``outcome`` (``success``,
        ``partial``, ``failure``, ``abandoned`` or ``unknown``) when given. Sent in
        the background like scores; never raises, never waits."""
        try:
            session, checked = end_args(session_id, outcome)
            runtime = STATE.runtime
            if runtime is None:
                raise ScoreArgumentError("Laminar.initialize() has not run, so it is not sent")
            if checked is not None:
                # The outcome goes as a score with an id of ours, so a retry of it is
                # never a second outcome; the end itself is the same however often sent.
                runtime.scores.add_score(outcome_payload(session, checked))
            runtime.scores.add_session_end(session)
        except ScoreArgumentError as exc:
            log.warning("Lamina: Laminar.end_session(%r) ignored: %s", session_id, exc)
        except Exception:
            log.exception("Lamina: Laminar.end_session(%r) failed", session_id)

    # -- across services ------------------------------------------------------------

    @staticmethod
    def get_trace_headers(headers: dict[str, str] | None = None) -> dict[str, str]:
        """HTTP headers that carry the current trace, session and user to another
        service (W3C ``traceparent``, ``tracestate``, ``baggage``), added to
        ``headers`` when given."""
        return propagation.inject(headers)

    @staticmethod
    def continue_trace(headers: Mapping[str, Any]) -> ContextScope:
        """A scope (``with``, ``async with`` or decorator) in which spans continue
        the trace, session and user that ``headers`` carry (from
        :meth:`get_trace_headers` on the calling side)."""
        snapshot = dict(headers)
        return ContextScope(lambda: propagation.extract(snapshot))
