"""Laminar's routes on finished traces (#24): ``POST /v1/tag`` ``{traceId, names}``
(``LaminarClient().tags.tag``) adds tags to the trace, ``POST /v1/traces/metadata``
``{traceId, metadata}`` (``traces.push_metadata``) sets metadata keys on it; both change
the trace's summary (lamina.store.labels), so the Traces and Sessions lists show them and
their tag and metadata filters find them. A trace not stored yet is a 404, as Laminar
answers (the SDK logs that the trace may not have ended).

``POST /v1/evaluators/score`` ``{name, score, source, metadata, traceId | spanId}`` (the
TypeScript SDK's ``LaminarClient().evaluators.score``) gives the trace a score (source
``sdk``), as ``POST /api/v1/scores`` does: by ``traceId`` (Laminar puts it on the top
span; Lamina on the trace), or by ``spanId`` alone, when the span's trace is looked up
among the project's spans (a 404 while it is not stored). Laminar's score metadata is
not kept (Lamina's scores have none).

The features Lamina does not have answer a 501 that names them: browser session
recordings (``/v1/browser-sessions/events``) and rollout sessions (``/v1/rollouts/...``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lamina.errors import BadRequest, NotFound
from lamina.query import console, present
from lamina.query import scores as judged
from lamina.server_runtime import ServerRuntime
from lamina.store.base import Row, Store
from lamina.store.console import ConsoleQuery
from lamina.store.labels import MAX_KEYS, MAX_TAGS, TraceLabels
from lamina.web.access import giver_of, project_of
from lamina.web.api import JSONResponse
from lamina.web.laminar import ids
from lamina.web.laminar.wire import json_object, not_supported

MAX_VALUE_CHARS = 10_000


async def _label(request: Request, labels_of: Callable[[dict[str, Any]], TraceLabels]) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    given = await json_object(request, runtime)
    trace_id = ids.trace_hex(given.get("traceId"))
    labels = labels_of(given)
    found = await run_in_threadpool(runtime.store.label_trace, project_id, trace_id, labels)
    if not found:
        raise NotFound(
            f"No trace {ids.as_uuid(given['traceId'], 'traceId')} in this project (yet): "
            "a trace is stored a moment after its spans are sent; flush them and retry."
        )
    return JSONResponse({})


def _tags(given: dict[str, Any]) -> TraceLabels:
    names = given.get("names")
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not names or len(names) > MAX_TAGS:
        raise BadRequest(f'"names" must be a list of 1 to {MAX_TAGS} tags.')
    for name in names:
        if not isinstance(name, str) or not name.strip() or len(name) > judged.MAX_NAME:
            raise BadRequest(f"A tag must be text of 1 to {judged.MAX_NAME} characters.")
    return TraceLabels(tuple(dict.fromkeys(names)), {}, time.time_ns())


def _metadata(given: dict[str, Any]) -> TraceLabels:
    metadata = given.get("metadata")
    if not isinstance(metadata, dict) or not metadata or len(metadata) > MAX_KEYS:
        raise BadRequest(f'"metadata" must be an object of 1 to {MAX_KEYS} keys.')
    values = {}
    for key, value in metadata.items():
        text = value if isinstance(value, str) else orjson.dumps(value).decode()
        if not key or len(key) > judged.MAX_NAME or len(text) > MAX_VALUE_CHARS:
            raise BadRequest(
                f"A metadata key is text of 1 to {judged.MAX_NAME} characters and its value "
                f"at most {MAX_VALUE_CHARS:,} characters of text or JSON."
            )
        values[key] = text
    return TraceLabels((), values, time.time_ns())


async def _tag(request: Request) -> Response:
    return await _label(request, _tags)


async def _push_metadata(request: Request) -> Response:
    return await _label(request, _metadata)


async def _score(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    giver = await giver_of(request, project_id)
    given = await json_object(request, runtime)
    trace_id, span_id = given.get("traceId"), given.get("spanId")
    if (trace_id is None) == (span_id is None):
        raise BadRequest("Give the trace's traceId or the span's spanId (one of them).")
    item = {"name": given.get("name"), "value": given.get("score"), "source": "sdk"}
    span_hex = None if span_id is None else _span_hex(span_id)
    if trace_id is not None:
        item["trace_id"] = ids.trace_hex(trace_id)
    store = runtime.store

    def store_it() -> Row:
        if span_hex is not None:
            item["span_id"] = span_hex
            item["trace_id"] = _trace_of_span(store, project_id, span_hex, runtime)
        known = judged.configs(store, project_id)
        made = judged.to_score(item, known, giver, time.time_ns(), judged.new_score_id)
        store.add_scores(project_id, [made])
        return present.score(made)

    return JSONResponse({"score": await run_in_threadpool(store_it)})


def _span_hex(value: Any) -> str:
    """A span id as Lamina keeps it (16 hex digits) from Laminar's UUID of it: the SDK
    writes OpenTelemetry's 16 digits after 16 zeros."""
    digits = ids.as_uuid(value, "spanId").hex
    if not digits.startswith("0" * 16):
        raise BadRequest(
            "spanId must be a span's id as Laminar's SDKs send it: its 16 hex digits "
            f"after 16 zeros, as a UUID; got {str(value)[:80]!r}."
        )
    return digits[16:]


def _trace_of_span(store: Store, project_id: str, span_id: str, runtime: ServerRuntime) -> str:
    """The trace of the project's span ``span_id``, read by the SQL console (its limits
    and its isolation: the project's spans only)."""
    settings = runtime.settings
    query = ConsoleQuery(
        f"SELECT trace_id FROM spans WHERE span_id = '{span_id}' LIMIT 1",
        1,
        float(settings.sql_timeout_seconds),
        settings.sql_memory_mb,
    )
    rows = console.run(store, project_id, query)["rows"]
    if not rows:
        raise NotFound(
            f"No span {span_id} in this project (yet): a span is stored a moment after "
            "it is sent; flush the spans and retry, or give the traceId."
        )
    return str(rows[0][0])


async def _browser_events(request: Request) -> Response:
    await project_of(request)
    raise not_supported(
        "browser session recordings",
        "Lamina keeps traces, not screen recordings; leave the browser instrumentation off.",
    )


async def _rollouts(request: Request) -> Response:
    await project_of(request)
    raise not_supported(
        "rollout sessions (debugging runs, their blocks and cache)",
        "Run the application without LMNR_DEBUG; its traces still land in Lamina.",
    )


routes = [
    Route("/v1/tag", _tag, methods=["POST"]),
    Route("/v1/traces/metadata", _push_metadata, methods=["POST"]),
    Route("/v1/evaluators/score", _score, methods=["POST"]),
    Route("/v1/browser-sessions/events", _browser_events, methods=["POST"]),
    Route("/v1/rollouts/{session_id}", _rollouts, methods=["POST", "DELETE"]),
    Route("/v1/rollouts/{session_id}/blocks", _rollouts, methods=["GET", "POST"]),
    Route("/v1/rollouts/{session_id}/cache", _rollouts, methods=["POST"]),
]
