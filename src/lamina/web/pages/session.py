"""The session page, a session's expansion in the Sessions tab, and its JSON export.

All three start from :func:`lamina.query.present.get_session` (the JSON twin
is ``GET /api/v1/sessions/{id}``). The page also reads its turns' traces (each
what ``GET /api/v1/traces/{id}`` answers) for the transcript, up to
:data:`TURNS_PER_PAGE` turns at a time in one :meth:`Store.get_traces` call, and
the outline of the session's spans for its waterfall
(:mod:`lamina.web.pages.waterfall`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from lamina.errors import BadRequest
from lamina.query import present
from lamina.store.base import Row, Store
from lamina.store.comments import StarKind
from lamina.store.scores import OUTCOME
from lamina.web.pages import comments as comment_pages
from lamina.web.pages import scores as score_pages
from lamina.web.pages import transcript, waterfall
from lamina.web.pages.base import Page

TURNS_PER_PAGE = 100
# A page reads whole the turns whose spans, added up in order, stay within this many
# (the first turn always); the rest come lazily as they scroll into view.
LOAD_SPANS = 2000
EXPANSION_ROWS = 100


def load_turns(
    store: Store, project_id: str, session: Row, first: int, last: int
) -> dict[str, Row]:
    """Whole traces for turns first..last, in one read, up to LOAD_SPANS spans of them.

    The transcript shows the rest from their list previews, and the page's
    script fills them in (``?fragment=turn``) as they scroll into view.
    """
    wanted: list[str] = []
    spans = 0
    for trace in session["traces"][first:last]:
        spans += trace["span_count"] or 0
        if wanted and spans > LOAD_SPANS:
            break
        wanted.append(trace["trace_id"])
    rows = store.get_traces(project_id, wanted) if wanted else []
    return {row["trace_id"]: present.trace(row) for row in rows}


async def session_page(page: Page) -> Response:
    assert page.project is not None
    session_id = page.request.path_params["session_id"]
    params = page.request.query_params
    session = await page.call(present.get_session, page.store, page.project.id, session_id)
    if params.get("fragment") == "traces":
        return await page.render(
            "_session_traces.html",
            session=session,
            traces=session["traces"][:EXPANSION_ROWS],
            more=max(0, len(session["traces"]) - EXPANSION_ROWS),
        )
    if params.get("export") == "json":
        return await _export(page, session)
    try:
        first = max(0, int(params.get("from") or 0))
    except ValueError:
        raise BadRequest("from must be a whole number of turns.") from None
    last = first + TURNS_PER_PAGE
    loaded = await page.call(load_turns, page.store, page.project.id, session, first, last)
    turns = transcript.turns(session, loaded)[first:last]
    outline = await page.call(
        page.store.session_spans, page.project.id, session_id, waterfall.SPAN_LIMIT
    )
    user_id = page.visitor.user.id if page.visitor is not None else None
    thread = await page.call(
        comment_pages.thread, page.store, page.project.id, user_id, session_id=session_id
    )
    superseded = await page.call(score_pages.superseded, page.store, page.project.id, session_id)
    starred = await page.call(
        comment_pages.is_starred, page.store, page.project.id, user_id, StarKind.SESSION, session_id
    )
    return await page.render(
        "session.html",
        nav="traces",
        session=session,
        outcome=_outcome(session),
        score_configs=await page.call(score_pages.annotating, page.store, page.project.id),
        outcomes=OUTCOME.categories,
        turns=turns,
        first=first,
        last=min(last, len(session["traces"])),
        marks=transcript.timeline(session),
        waterfall=waterfall.build(session, outline),
        comments=thread,
        side_panel=comment_pages.side_panel(session, thread, superseded),
        starred=starred,
    )


def _outcome(session: Row) -> Row | None:
    """The session's newest outcome score on the session itself, if any."""
    for score in session.get("scores") or []:
        if score["name"] == OUTCOME.name and not score.get("trace_id"):
            return dict(score)
    return None


async def _export(page: Page, session: Row) -> Response:
    assert page.project is not None
    ids = [t["trace_id"] for t in session["traces"]]
    rows = await page.call(page.store.get_traces, page.project.id, ids)  # one round
    body: dict[str, Any] = {
        **session,
        "project": page.project.name,
        "traces": [present.trace(row) for row in rows],
    }
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in session["session_id"])
    return Response(
        present.json_bytes(body, indent=True),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="session-{name[:80]}.json"; '
            f"filename*=UTF-8''session-{quote(session['session_id'][:80], safe='')}.json"
        },
    )
