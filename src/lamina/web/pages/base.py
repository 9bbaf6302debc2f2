"""What every page handler gets: the signed-in visitor, the project, and a renderer.

A handler is ``async def handler(page: Page) -> Response``, wrapped by
:func:`page`, which signs the visitor in (or sends them to the sign-in page),
resolves ``{project}`` from the path, and stamps the response with the server
time it took (``Server-Timing: app;dur=…``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar
from urllib.parse import quote

from jinja2 import Environment
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from lamina.errors import NotFound, Unauthorized
from lamina.server_runtime import ServerRuntime
from lamina.store.base import Project, Store
from lamina.web.pages.accounts import Accounts, Visitor
from lamina.web.pages.render import plural, project_slug, viewer_zone

FRAGMENT_HEADER = "x-lamina-fragment"
# What the next page says once, after a delete: a kind and counts (``session.9.41``),
# set by the server's redirect or by the page's script after a DELETE. Only the
# numbers come from the cookie; the words are the server's own.
NOTICE_COOKIE = "lamina_notice"

P = ParamSpec("P")
T = TypeVar("T")


@dataclass
class Site:
    """Everything the pages share: the runtime, accounts and templates."""

    runtime: ServerRuntime
    accounts: Accounts
    env: Environment


def site_of(request: Request) -> Site:
    """The pages' shared parts: the app keeps the pages it was built with
    (lamina.web.app.create_app), and they hold their site."""
    site: Site = request.app.state.pages.site
    return site


def base_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def project_path(project: Project, rest: str = "") -> str:
    return f"/p/{project_slug(project)}{rest}"


async def resolve_project(site: Site, name: str, known: list[Project] | None = None) -> Project:
    """The project a path names (its id first, else its name); among ``known`` (every
    project, read already) when given, else read."""
    if known is not None:
        project = next((p for p in known if p.id == name), None)
        project = project or next((p for p in known if p.name == name), None)
    else:
        project = await run_in_threadpool(site.runtime.store.find_project, name)
    if project is None:
        raise NotFound(f'There is no project "{name}". The project switcher lists them all.')
    return project


@dataclass
class Page:
    request: Request
    site: Site
    visitor: Visitor | None
    project: Project | None = None
    projects: list[Project] = field(default_factory=list)

    @property
    def store(self) -> Store:
        return self.site.runtime.store

    @property
    def params(self) -> dict[str, str]:
        return dict(self.request.query_params)

    @property
    def is_fragment(self) -> bool:
        return FRAGMENT_HEADER in self.request.headers

    def path(self, rest: str = "") -> str:
        assert self.project is not None
        return project_path(self.project, rest)

    async def call(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a store or query function off the event loop."""
        return await run_in_threadpool(func, *args, **kwargs)

    def context(self, values: dict[str, Any]) -> dict[str, Any]:
        csrf = self.site.accounts.form_token(self.request, self.visitor)
        return {
            "page": self,
            "visitor": self.visitor,
            "project": self.project,
            "projects": self.projects,
            "csrf": csrf,
            "tz": viewer_zone(self.request),
            "base_url": base_url(self.request),
            "current_path": self.request.url.path,
            "nav": "",
            "flash": None,
            **values,
        }

    async def render(self, template: str, status: int = 200, **values: Any) -> Response:
        context = self.context(values)
        # a whole page (not a fragment a script fetches) shows a pending notice, once
        raw_notice = None if template.startswith("_") else self.request.cookies.get(NOTICE_COOKIE)
        if raw_notice is not None:
            context["flash"] = notice_text(raw_notice)
        html = await run_in_threadpool(self.site.env.get_template(template).render, context)
        response = HTMLResponse(html, status)
        if raw_notice is not None:
            response.delete_cookie(NOTICE_COOKIE, path="/", samesite="strict")
        if self.visitor is None:
            self.site.accounts.keep_token(self.request, response, context["csrf"])
        return response


def notice_text(raw: str | None) -> str | None:
    """The one-time notice a ``lamina_notice`` cookie asks for, or None."""
    kind, _, rest = (raw or "").partition(".")
    counts = rest.split(".") if rest else []
    if not all(c.isdigit() and len(c) <= 15 for c in counts):
        return None
    numbers = [int(c) for c in counts]
    if kind == "trace" and len(numbers) == 1:
        return f"The trace was deleted, with its {plural(numbers[0], 'span')}."
    if kind == "session" and len(numbers) == 2:
        traces, spans = plural(numbers[0], "trace"), plural(numbers[1], "span")
        return f"The session was deleted, with its {traces} and {spans}."
    if kind == "project" and len(numbers) == 1:
        return f"The project was deleted, with its {plural(numbers[0], 'span')} and its API keys."
    return None


def set_notice(response: Response, request: Request, value: str) -> None:
    response.set_cookie(
        NOTICE_COOKIE,
        value,
        max_age=60,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


Handler = Callable[[Page], Awaitable[Response]]


def page(
    handler: Handler, signed_in: bool = True, project: bool = True
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        started = time.perf_counter()
        site = site_of(request)
        visitor = await site.accounts.visitor(request)
        if signed_in and visitor is None:
            if FRAGMENT_HEADER in request.headers:
                raise Unauthorized("Your sign-in has ended. Reload the page to sign in again.")
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/signin?next={quote(target, safe='')}", 303)
        current = Page(request, site, visitor)
        every: list[Project] | None = None  # a visitor's project switcher reads them all
        if visitor is not None:
            every = await current.call(site.runtime.store.list_projects)
            current.projects = [p for p in every if site.accounts.may_see(visitor.user, p)]
        if project and "project" in request.path_params:
            current.project = await resolve_project(site, request.path_params["project"], every)
        response = await handler(current)
        elapsed = (time.perf_counter() - started) * 1000
        response.headers["Server-Timing"] = f"app;dur={elapsed:.1f}"
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    return endpoint
