"""The trace view: span tree beside a waterfall, and the selected span's detail.

From :func:`lamina.query.present.get_trace` (JSON twin ``GET /api/v1/traces/{id}``).
``?span=ID`` selects a span; ``?fragment=span`` answers only that span's
detail pane, which the script swaps in as the selection moves;
``?fragment=view`` answers the view without the page frame, for the side panel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from lamina.errors import NotFound
from lamina.query import present
from lamina.spans import payload
from lamina.store.base import Row
from lamina.store.comments import StarKind
from lamina.web.pages import comments as comment_pages
from lamina.web.pages import scores as score_pages
from lamina.web.pages import spans, transcript
from lamina.web.pages.base import Page


@dataclass(frozen=True, slots=True)
class Neighbours:
    position: int  # 1-based
    total: int
    previous: Row | None
    next: Row | None


@dataclass(frozen=True, slots=True)
class Detail:
    span: Row
    input: payload.Payload
    output: payload.Payload
    problems: list[spans.Problem]
    events: list[tuple[dict[str, Any], float | None]]
    attributes: list[tuple[str, Any]]
    resource: list[tuple[str, Any]]

    @property
    def conversation(self) -> bool:
        """An LLM call's messages: shown as one conversation, prompt then response."""
        return self.input.kind == "chat"

    @property
    def has_tokens(self) -> bool:
        return self.span["input_tokens"] is not None or self.span["output_tokens"] is not None


def detail(span: Row) -> Detail:
    return Detail(
        span=span,
        input=payload.read_payload(span["input"]),
        output=payload.read_payload(span["output"]),
        problems=spans.problems(span),
        events=[
            (event, spans.event_offset_ms(span, event))
            for event in span.get("events") or []
            if isinstance(event, dict)
        ],
        attributes=sorted((span.get("attributes") or {}).items()),
        resource=sorted((span.get("resource") or {}).items()),
    )


def _neighbours(session: Row, trace_id: str) -> Neighbours | None:
    traces: list[Row] = session["traces"]
    for index, trace in enumerate(traces):
        if trace["trace_id"] == trace_id:
            return Neighbours(
                position=index + 1,
                total=len(traces),
                previous=traces[index - 1] if index > 0 else None,
                next=traces[index + 1] if index + 1 < len(traces) else None,
            )
    return None


async def trace_page(page: Page) -> Response:
    assert page.project is not None
    trace_id = page.request.path_params["trace_id"]
    params = page.request.query_params
    trace = await page.call(present.get_trace, page.store, page.project.id, trace_id)
    rows = spans.tree_rows(trace["spans"])
    wanted = params.get("span")
    selected = next((row for row in rows if row.id == wanted), rows[0] if rows else None)
    fragment = params.get("fragment")
    user_id = page.visitor.user.id if page.visitor is not None else None
    notes: dict[str, Any] = {}
    if fragment != "turn":
        thread = await page.call(
            comment_pages.thread, page.store, page.project.id, user_id, trace_id=trace["trace_id"]
        )
        notes = {
            "comments": [c for c in thread if not c["span_id"]],
            "comments_by_span": comment_pages.by_span(thread),
        }
    if fragment == "turn":  # one transcript turn, for the session page's lazy turns
        number = params.get("n", "")
        turn = transcript.full_turn(trace, trace)
        return await page.render("_turn.html", turn=turn, number=number if number.isdigit() else "")
    if fragment == "span":
        if selected is None or (wanted and selected.id != wanted):
            raise NotFound(f'No span "{wanted}" in this trace.')
        return await page.render("_span.html", trace=trace, detail=detail(selected.span), **notes)
    neighbours = None
    if trace["session_id"]:
        try:
            session = await page.call(
                present.get_session, page.store, page.project.id, trace["session_id"]
            )
            neighbours = _neighbours(session, trace["trace_id"])
        except NotFound:
            neighbours = None
    values: dict[str, Any] = {
        "trace": trace,
        "rows": rows,
        "selected": selected,
        "detail": detail(selected.span) if selected is not None else None,
        "neighbours": neighbours,
        "ticks": spans.ticks(trace["duration_ms"]),
        "starred": await page.call(
            comment_pages.is_starred,
            page.store,
            page.project.id,
            user_id,
            StarKind.TRACE,
            trace["trace_id"],
        ),
        **notes,
    }
    if fragment == "view":
        return await page.render("_trace_view.html", panel=True, **values)
    configs = await page.call(score_pages.annotating, page.store, page.project.id)
    return await page.render(
        "trace.html", nav="traces", panel=False, score_configs=configs, **values
    )
