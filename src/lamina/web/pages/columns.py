"""The lists' column chooser: which columns each person hides on the Sessions and
Traces tabs, kept in the store per user, project and tab, so the choice follows them
to any browser (and, on ClickHouse, to any server).

The page sends the whole choice at once (``POST /p/{project}/columns``, a form with its
CSRF token): ``tab`` and one ``hidden`` field per hidden column, named as the column's
header names it (``data-col``: a sort key such as ``cost``, ``score:NAME`` for a score
column). lists.js hides them; a column nobody names stays shown, so columns added later
appear by default.
"""

from __future__ import annotations

import orjson
from starlette.responses import Response

from lamina.errors import BadRequest
from lamina.store.base import Store
from lamina.web.pages.base import Page

TABS = ("sessions", "traces")
MAX_HIDDEN = 100  # more than either tab has columns, score columns included
MAX_NAME = 200


def _setting(user_id: str, project_id: str, tab: str) -> str:
    return f"columns:{user_id}:{project_id}:{tab}"


def hidden(store: Store, user_id: str, project_id: str, tab: str) -> list[str]:
    """The columns this person hides on this tab (none until they choose)."""
    saved = store.get_setting(_setting(user_id, project_id, tab))
    if not saved:
        return []
    names = orjson.loads(saved)
    return [name for name in names if isinstance(name, str)] if isinstance(names, list) else []


async def save(page: Page) -> Response:
    """Remember which columns the signed-in person hides on a tab; 204."""
    assert page.project is not None and page.visitor is not None
    form = await page.site.accounts.checked_form(page.request, page.visitor)
    tab = form.get("tab")
    if tab not in TABS:
        raise BadRequest('Say which tab the columns are for: "sessions" or "traces".')
    names = [str(name) for name in form.getlist("hidden")]
    if len(names) > MAX_HIDDEN or any(not name or len(name) > MAX_NAME for name in names):
        raise BadRequest(
            f"Name at most {MAX_HIDDEN} columns to hide, each by its name "
            f"(1 to {MAX_NAME} characters)."
        )
    unique = list(dict.fromkeys(names))
    key = _setting(page.visitor.user.id, page.project.id, str(tab))
    await page.call(page.store.set_setting, key, orjson.dumps(unique).decode())
    return Response(status_code=204)
