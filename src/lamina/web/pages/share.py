"""The shared pages: one session (its transcript and traces) or one trace, read-only,
for whoever holds a share link's token (:mod:`lamina.web.shares` makes them).

No sign-in and no cookie is needed, and nothing on these pages leads elsewhere in
Lamina: no frame, no project, no other session or trace. Within a shared session, its
traces open at ``/share/<token>/traces/<trace_id>``; any other trace there is a 404.
A token that is unknown, expired or revoked, or whose session or trace is gone, is the
same plain 404 as any address with nothing at it. With ``redact_attributes``, the
spans' attributes, resources and metadata (and the trace's metadata) are left out.
Every answer says not to keep it, not to send its address on, and not to index it.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from lamina.errors import NotFound
from lamina.query import present
from lamina.query import shares as sharing
from lamina.store.base import Row, Store
from lamina.store.shares import Share, ShareKind
from lamina.web.pages import session as session_pages
from lamina.web.pages import spans, transcript
from lamina.web.pages.base import site_of
from lamina.web.pages.render import viewer_zone
from lamina.web.pages.trace import detail

HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
# What every missing thing answers (the app's 404 for an unknown address says the same).
NOTHING_HERE = "There is nothing at this address."
_REDACTED = ("attributes", "resource", "metadata")


def _redacted(trace: Row, share: Share) -> Row:
    """The trace as the share shows it: redacted if the share says so (and then no
    redacted value is named as cut short)."""
    if not share.redact_attributes:
        return trace
    out = {**trace, "metadata": {}}
    spans = []
    for span in trace["spans"]:
        span = {**span, **{k: {} for k in _REDACTED if k in span}}
        cut = {k: v for k, v in (span.get("truncated") or {}).items() if k not in _REDACTED}
        span.pop("truncated", None)
        spans.append({**span, "truncated": cut} if cut else span)
    out["spans"] = spans
    return out


async def share_page(request: Request) -> Response:
    """``/share/{token}``: the shared session or trace."""
    return await _answer(request, None)


async def shared_trace(request: Request) -> Response:
    """``/share/{token}/traces/{trace_id}``: a trace of the shared session (or the
    shared trace itself), its span detail (``?fragment=span``) or its transcript turn
    (``?fragment=turn``)."""
    return await _answer(request, request.path_params["trace_id"].lower())


async def shared_value(request: Request) -> Response:
    """``/share/{token}/traces/{trace_id}/spans/{span_id}/{field}``: one whole long value
    of a span the share shows cut short, as ``GET /api/v1/traces/.../spans/...`` answers
    it (never a value the share redacts)."""
    site = site_of(request)
    store = site.runtime.store
    params = request.path_params
    try:
        share = await run_in_threadpool(sharing.find, store, params["token"])
        if share is None or (share.redact_attributes and params["field"] in _REDACTED):
            raise NotFound(NOTHING_HERE)
        trace_id, span_id = params["trace_id"].lower(), params["span_id"].lower()
        await run_in_threadpool(_reachable, store, share, trace_id)
        row = await run_in_threadpool(
            present.span_value, store, share.project_id, trace_id, span_id, params["field"]
        )
        response = Response(present.json_bytes(row), media_type="application/json")
    except NotFound:
        response = request.app.state.error_page(request, NotFound(NOTHING_HERE))
    response.headers.update(HEADERS)
    return response


def _reachable(store: Store, share: Share, trace_id: str) -> Row:
    """The trace, if the share opens it: the shared trace, or one of the shared session's."""
    if share.kind is ShareKind.TRACE and trace_id != share.object_id:
        raise NotFound(NOTHING_HERE)
    trace = _redacted(present.get_trace(store, share.project_id, trace_id), share)
    if share.kind is ShareKind.SESSION and trace["session_id"] != share.object_id:
        raise NotFound(NOTHING_HERE)
    return trace


async def _answer(request: Request, trace_id: str | None) -> Response:
    site = site_of(request)
    store = site.runtime.store
    try:
        share = await run_in_threadpool(sharing.find, store, request.path_params["token"])
        if share is None:
            raise NotFound(NOTHING_HERE)
        base = f"/share/{request.path_params['token']}"
        context: dict[str, Any] = {"tz": viewer_zone(request), "share": share, "base": base}
        context["value_base"] = base  # _span.html links a cut value inside the share
        if trace_id is None and share.kind is ShareKind.SESSION:
            template, values = await run_in_threadpool(
                _session, store, share, request.query_params.get("from", ""), context
            )
        else:
            wanted = trace_id or share.object_id
            template, values = await run_in_threadpool(
                _trace, store, share, wanted, request.query_params, context
            )
        html = await run_in_threadpool(site.env.get_template(template).render, values)
        response: Response = HTMLResponse(html)
    except NotFound:
        response = request.app.state.error_page(request, NotFound(NOTHING_HERE))
    response.headers.update(HEADERS)
    return response


def _session(
    store: Store, share: Share, start: str, context: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The shared session's page of turns from ``start`` (``?from=``, 0 unless a number)."""
    session = present.get_session(store, share.project_id, share.object_id)
    first = int(start) if start.isdigit() and len(start) < 10 else 0
    last = first + session_pages.TURNS_PER_PAGE
    loaded = session_pages.load_turns(store, share.project_id, session, first, last)
    return "share_session.html", {
        **context,
        "session": session,
        "turns": transcript.turns(session, loaded)[first:last],
        "first": first,
        "last": min(last, len(session["traces"])),
        "marks": transcript.timeline(session),
    }


def _trace(
    store: Store, share: Share, trace_id: str, params: Any, context: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    trace = _reachable(store, share, trace_id)
    rows = spans.tree_rows(trace["spans"])
    wanted = params.get("span")
    selected = next((row for row in rows if row.id == wanted), rows[0] if rows else None)
    fragment = params.get("fragment")
    if fragment == "turn":
        number = params.get("n", "")
        turn = transcript.full_turn(trace, trace)
        return "_turn.html", {
            **context,
            "turn": turn,
            "number": number if number.isdigit() else "",
        }
    if fragment == "span":
        if selected is None or (wanted and selected.id != wanted):
            raise NotFound(NOTHING_HERE)
        return "_span.html", {**context, "trace": trace, "detail": detail(selected.span)}
    return "share_trace.html", {
        **context,
        "trace": trace,
        "rows": rows,
        "selected": selected,
        "detail": detail(selected.span) if selected is not None else None,
        "ticks": spans.ticks(trace["duration_ms"]),
    }


routes = [
    Route("/share/{token}", share_page),
    Route("/share/{token}/traces/{trace_id}", shared_trace),
    Route("/share/{token}/traces/{trace_id}/spans/{span_id}/{field}", shared_value),
]
