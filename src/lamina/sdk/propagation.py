"""Carrying a trace, and its session and user, across services.

The trace travels in the W3C ``traceparent``/``tracestate`` headers; the
session and user travel in W3C ``baggage`` (``lamina.session_id``,
``lamina.user_id``), so spans a back end records for a front end's request
join the front end's trace and session.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import baggage
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context, get_current
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from lamina.sdk import context as assoc

SESSION_BAGGAGE = "lamina.session_id"
USER_BAGGAGE = "lamina.user_id"

_PROPAGATOR = CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])


class _HeaderGetter(Getter[Mapping[str, Any]]):
    """Reads headers from any mapping, whatever the case of its keys."""

    def get(self, carrier: Mapping[str, Any], key: str) -> list[str] | None:
        value = carrier.get(key)
        if value is None:
            lowered = key.lower()
            value = next((v for k, v in carrier.items() if str(k).lower() == lowered), None)
        if value is None:
            return None
        if isinstance(value, (list, tuple)):
            return [str(v) for v in value]
        return [str(value)]

    def keys(self, carrier: Mapping[str, Any]) -> list[str]:
        return [str(k) for k in carrier]


_GETTER = _HeaderGetter()


def inject(carrier: dict[str, str] | None = None) -> dict[str, str]:
    """The current trace context (and session, user) as headers, added to ``carrier``."""
    headers: dict[str, str] = {} if carrier is None else carrier
    ctx = get_current()
    association = assoc.current(ctx)
    if association is not None:
        if association.session_id:
            ctx = baggage.set_baggage(SESSION_BAGGAGE, association.session_id, ctx)
        if association.user_id:
            ctx = baggage.set_baggage(USER_BAGGAGE, association.user_id, ctx)
    _PROPAGATOR.inject(headers, context=ctx)
    return headers


def extract(headers: Mapping[str, Any]) -> Context:
    """The current context continued from ``headers`` (as :func:`inject` wrote them)."""
    ctx = _PROPAGATOR.extract(headers, context=get_current(), getter=_GETTER)
    session_id = baggage.get_baggage(SESSION_BAGGAGE, ctx)
    user_id = baggage.get_baggage(USER_BAGGAGE, ctx)
    association = assoc.make(
        session_id=str(session_id) if session_id else None,
        user_id=str(user_id) if user_id else None,
    )
    if association is not None:
        ctx = assoc.with_association(association, ctx)
    return ctx
