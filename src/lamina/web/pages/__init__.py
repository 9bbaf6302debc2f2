"""The web pages: sign-in, the Traces page (Traces and Sessions tabs), session and
trace views, settings. ``lamina serve`` calls :func:`install` when this package
is present; see :class:`lamina.web.app.Pages` for what it plugs in.

Pages are rendered on the server from the same query functions as the JSON
API; a few small scripts in ``web/static`` expand rows, drive the span tree,
poll for new rows and copy text. No build step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lamina.errors import LaminaError, NotFound, Unauthorized
from lamina.server_runtime import ServerRuntime
from lamina.web.pages import columns, dashboard, lists, session, settings, share, signin, trace
from lamina.web.pages import console as console_page
from lamina.web.pages import datasets as dataset_pages
from lamina.web.pages import evaluators as evaluator_page
from lamina.web.pages import experiments as experiment_pages
from lamina.web.pages import users as user_pages
from lamina.web.pages.accounts import Accounts
from lamina.web.pages.base import Site, page
from lamina.web.pages.render import environment, load_assets, static_route, viewer_zone

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
# As an answer's raw headers hold them: lower-case names, latin-1 bytes.
_RAW_SECURITY_HEADERS = [
    (name.lower().encode("latin-1"), value.encode("latin-1"))
    for name, value in SECURITY_HEADERS.items()
]


class SecurityHeaders:
    """Adds a strict Content-Security-Policy and friends to everything but OTLP."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # each one the answer does not set itself (a route's own policy stays)
                headers = list(message.get("headers", ()))
                present = {name for name, _ in headers}
                headers += [item for item in _RAW_SECURITY_HEADERS if item[0] not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


@dataclass
class WebPages:
    site: Site
    routes: list[BaseRoute] = field(default_factory=list)
    middleware: list[Middleware] = field(default_factory=list)

    def error_page(self, request: Request, error: LaminaError) -> Response:
        if isinstance(error, Unauthorized):
            title = "Please sign in"
        elif isinstance(error, NotFound) or error.status == 404:
            title = "Not found"
        elif error.status < 500:
            title = "That did not work"
        else:
            title = "Something went wrong"
        html = self.site.env.get_template("error.html").render(
            title=title,
            status=error.status,
            message=error.message,
            tz=viewer_zone(request),
        )
        return HTMLResponse(html, error.status, headers={"Cache-Control": "no-store"})

    def banner_lines(self, url: str) -> list[str]:
        accounts = self.site.accounts
        if accounts.needs_setup() and accounts.setup_token:
            return [
                f"First sign-in: {url}/setup/{accounts.setup_token}   "
                "(one-time link to create the first admin)"
            ]
        return []


def build_routes(assets_route: BaseRoute) -> list[BaseRoute]:
    """Every page route (docs/ui.md lists them; a test keeps it so)."""
    both = ["GET", "POST"]
    return [
        assets_route,
        Route("/", page(signin.home, project=False)),
        Route("/signin", page(signin.signin_page, signed_in=False), methods=both),
        Route("/signout", page(signin.signout, signed_in=False), methods=["POST"]),
        Route("/setup/{token}", page(signin.setup_page, signed_in=False), methods=both),
        Route("/p/{project}", page(signin.project_home)),
        Route("/p/{project}/traces", page(lists.traces_page), methods=both),
        Route("/p/{project}/traces/{trace_id}", page(trace.trace_page)),
        Route("/p/{project}/dashboard", page(dashboard.dashboard_page)),
        Route("/p/{project}/sql", page(console_page.sql_page), methods=both),
        Route("/p/{project}/columns", page(columns.save), methods=["POST"]),
        Route("/p/{project}/sessions", page(signin.sessions_home)),
        Route("/p/{project}/sessions/{session_id:path}", page(session.session_page)),
        Route("/p/{project}/evaluators", page(evaluator_page.evaluators_page)),
        Route("/p/{project}/evaluators/{evaluator_id}", page(evaluator_page.evaluator_page)),
        Route("/p/{project}/datasets", page(dataset_pages.datasets_page)),
        Route("/p/{project}/datasets/{name}", page(dataset_pages.dataset_page)),
        Route("/p/{project}/experiments", page(experiment_pages.experiments_page)),
        Route("/p/{project}/experiments/{experiment_id}", page(experiment_pages.experiment_page)),
        Route("/p/{project}/users", page(user_pages.users_page)),
        Route("/p/{project}/users/{user_id:path}", page(user_pages.user_page)),
        Route("/p/{project}/settings", page(settings.settings_page)),
        Route("/p/{project}/settings/keys", page(settings.create_key), methods=["POST"]),
        Route("/p/{project}/settings/projects", page(settings.create_project), methods=["POST"]),
        Route("/p/{project}/settings/users", page(settings.create_user), methods=["POST"]),
        Route("/p/{project}/settings/delete", page(settings.delete_project), methods=["POST"]),
        Route(
            "/p/{project}/settings/keys/{key_id}/revoke",
            page(settings.revoke_key),
            methods=["POST"],
        ),
        *share.routes,
        Route("/favicon.ico", _favicon),
    ]


async def _favicon(request: Request) -> Response:
    return Response(status_code=204)


def install(runtime: ServerRuntime) -> WebPages:
    """Build the pages for this runtime; ``lamina serve`` calls this once at start."""
    assets = load_assets()
    accounts = Accounts(runtime.store, runtime.settings.data_dir)
    site = Site(runtime=runtime, accounts=accounts, env=environment(assets))
    runtime.accounts = accounts  # the JSON API asks them about browsers
    return WebPages(
        site=site,
        routes=build_routes(static_route(assets)),
        middleware=[Middleware(SecurityHeaders)],
    )


__all__ = ["WebPages", "install"]
