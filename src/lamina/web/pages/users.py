"""The Users page: every user id the project's sessions carry, with their sessions'
totals and score averages (sortable, searchable, a page of PAGE_SIZE at a time); and a
user's page: their totals, their latest sessions (all of them in the Sessions tab,
filtered to the user) and their charts (the Dashboard's, filtered to the user).

Both call :mod:`lamina.query.users`, as ``GET /api/v1/users[/{user_id}]`` does, so the
numbers on the pages are the API's. A user id is the application's text: the templates
escape it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.responses import Response

from lamina.errors import BadRequest
from lamina.query import present, users
from lamina.store.base import Row
from lamina.store.users import USER_SORTS
from lamina.web.pages import dashboard, scores
from lamina.web.pages.base import Page
from lamina.web.pages.render import query, url_part

PAGE_SIZE = 50
LATEST_SESSIONS = 10  # a user's page lists this many; the Sessions tab has them all
TEXT_SORTS = ("user_id",)  # first click sorts A to Z; a number's, largest first
CHART_SECTIONS = ("Over time", "Scores", "Distributions")  # not the breakdowns by user


@dataclass(frozen=True)
class UserList:
    """The list's sort, order, search and offset, read from the page's address, with the
    links the column headers and the pager need (the interface of _macros.sort_th)."""

    sort: str
    order: str
    q: str
    offset: int

    @classmethod
    def read(cls, params: dict[str, str]) -> UserList:
        sort = params.get("sort") or "last_seen"
        order = params.get("order") or "desc"
        offset = params.get("offset") or "0"
        return cls(
            sort, order, (params.get("q") or "").strip(), int(offset) if offset.isdigit() else 0
        )

    def api_params(self) -> dict[str, str]:
        params = {"sort": self.sort, "order": self.order, "limit": str(PAGE_SIZE)}
        if self.q:
            params["q"] = self.q
        if self.offset:
            params["offset"] = str(self.offset)
        return params

    def link_params(self, **changes: Any) -> dict[str, Any]:
        params: dict[str, Any] = {"q": self.q or None, "sort": self.sort, "order": self.order}
        params.update(changes)
        return params

    def sort_link(self, key: str) -> dict[str, Any]:
        if key == self.sort:
            order = "asc" if self.order == "desc" else "desc"
        else:
            order = "asc" if key in TEXT_SORTS else "desc"
        return self.link_params(sort=key, order=order)

    def aria_sort(self, key: str) -> str:
        if key != self.sort:
            return "none"
        return "ascending" if self.order == "asc" else "descending"

    @property
    def score_sort(self) -> str | None:
        """The score name the list is sorted by (sort=score:NAME), if it is."""
        return self.sort[len("score:") :] if self.sort.startswith("score:") else None


async def users_page(page: Page) -> Response:
    assert page.project is not None
    view = UserList.read(page.params)
    store, project_id = page.store, page.project.id
    error = None
    try:
        found = await page.call(users.list_users, store, project_id, view.api_params())
    except BadRequest as exc:
        error = exc.message
        view = UserList("last_seen", "desc", view.q, 0)
        found = await page.call(users.list_users, store, project_id, view.api_params())
    known = await page.call(scores.configs, store, project_id)
    total = found["total"]
    pager = _pager(view, total)
    return await page.render(
        "users.html",
        nav="users",
        filters=view,
        items=found["items"],
        total=total,
        pager=pager,
        columns=scores.columns(found["items"], known, [view.score_sort or ""]),
        sorts=USER_SORTS,
        error=error,
        api=f"/api/v1/users{query({**view.api_params(), 'project': page.project.name})}",
    )


def _pager(view: UserList, total: int) -> dict[str, Any]:
    """Page n of m, and the links to the previous and next pages (None at either end)."""
    earlier = max(0, view.offset - PAGE_SIZE)
    later = view.offset + PAGE_SIZE
    return {
        "number": view.offset // PAGE_SIZE + 1,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "first": view.offset + 1 if total else 0,
        "last": min(total, view.offset + PAGE_SIZE),
        "previous": query(view.link_params(offset=earlier or None)) if view.offset else None,
        "next": query(view.link_params(offset=later)) if later < total else None,
    }


async def user_page(page: Page) -> Response:
    assert page.project is not None
    user_id = page.request.path_params["user_id"]
    store, project_id = page.store, page.project.id
    user = await page.call(users.get_user, store, project_id, user_id)
    sessions = await page.call(
        present.list_sessions,
        store,
        project_id,
        {"user_id": user_id, "limit": str(LATEST_SESSIONS)},
    )
    known = await page.call(scores.configs, store, project_id)
    view = _chart_view(page, user)
    try:
        sections, _ = await dashboard.chart_sections(page, view)
    except BadRequest as exc:
        view.error, sections = exc.message, []
    return await page.render(
        "user.html",
        nav="users",
        user=user,
        sessions=sessions["items"],
        columns=scores.columns([user], known),
        view=view,
        ranges=dashboard.RANGES,
        sections=[(title, charts) for title, charts in sections if title in CHART_SECTIONS],
        sessions_link=page.path("/traces") + query({"tab": "sessions", "user_id": user_id}),
        dashboard_link=page.path("/dashboard") + view.link(),
        api=f"/api/v1/users/{url_part(user_id)}{query({'project': page.project.name})}",
    )


def _chart_view(page: Page, user: Row) -> dashboard.View:
    """The range of a user's charts: the one asked for, else the shortest of the
    Dashboard's that reaches their last session, else the UTC days they were seen."""
    now = datetime.now(UTC)
    view = dashboard.View.read(page, now)
    view.filters = {"user_id": user["user_id"]}
    if page.params.get("range"):
        return view
    last: datetime = user["last_seen"]
    for key, (span, _) in dashboard.RANGES.items():
        if now - span <= last:
            view.range, view.since = key, now - span
            return view
    first: datetime = max(user["first_seen"], last - timedelta(days=899))
    view.range = "custom"
    view.since = first.replace(hour=0, minute=0, second=0, microsecond=0)
    view.until = last.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return view
