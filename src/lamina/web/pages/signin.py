"""Sign-in, sign-out and the one-time first-admin page; ``/`` sends you onwards."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.responses import RedirectResponse, Response

from lamina.errors import BadRequest, Conflict, NotFound, Overloaded
from lamina.operations import DEFAULT_PROJECT, Operations
from lamina.web.pages.base import Page, project_path


def safe_next(target: str | None) -> str:
    """A local path to go to after signing in (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


async def home(page: Page) -> Response:
    projects = page.projects
    if not projects:
        raise NotFound("There are no projects yet. Create one with `lamina projects create NAME`.")
    chosen = next((p for p in projects if p.name == DEFAULT_PROJECT), projects[0])
    return RedirectResponse(project_path(chosen, "/traces"), 303)


async def project_home(page: Page) -> Response:
    assert page.project is not None
    return RedirectResponse(project_path(page.project, "/traces"), 303)


async def sessions_home(page: Page) -> Response:
    assert page.project is not None
    return RedirectResponse(project_path(page.project, "/traces?tab=sessions"), 303)


async def signin_page(page: Page) -> Response:
    accounts = page.site.accounts
    target = safe_next(page.request.query_params.get("next"))
    if page.visitor is not None:
        return RedirectResponse(target, 303)
    if page.request.method == "GET":
        needs_setup = await page.call(accounts.needs_setup)
        return await page.render(
            "signin.html", next=target, email="", error=None, needs_setup=needs_setup
        )
    form = await accounts.checked_form(page.request, None)
    email = str(form.get("email") or "")
    target = safe_next(str(form.get("next") or "/"))
    address = page.request.client.host if page.request.client else ""
    try:
        user = await accounts.check_password(email, str(form.get("password") or ""), address)
    except Overloaded as paused:
        response = await page.render(
            "signin.html", 429, next=target, email=email, error=paused.message, needs_setup=False
        )
        response.headers["Retry-After"] = str(paused.retry_after)
        return response
    if user is None:
        return await page.render(
            "signin.html",
            400,
            next=target,
            email=email,
            error="That email and password do not match a user.",
            needs_setup=False,
        )
    response = RedirectResponse(target, 303)
    accounts.sign_in(response, page.request, user)
    return response


async def signout(page: Page) -> Response:
    await page.site.accounts.checked_form(page.request, page.visitor)
    response = RedirectResponse("/signin", 303)
    await page.site.accounts.sign_out(response, page.visitor)
    return response


async def setup_page(page: Page) -> Response:
    """The first administrator, from the one-time link `lamina serve` printed."""
    accounts = page.site.accounts
    token = page.request.path_params["token"]
    if not accounts.setup_token_ok(token) or not await page.call(accounts.needs_setup):
        raise NotFound(
            "This sign-in link has been used or has expired. Sign in with your email and "
            "password, or create a user with `lamina users create EMAIL`."
        )
    if page.request.method == "GET":
        return await page.render("setup.html", token=token, email="", error=None)
    form = await accounts.checked_form(page.request, None)
    email = str(form.get("email") or "").strip()
    password = str(form.get("password") or "")
    error = None
    if password != str(form.get("confirm") or ""):
        error = "The two passwords differ."
    else:
        try:
            created = await page.call(Operations(page.store).create_user, email, password, True)
        except (BadRequest, Conflict) as exc:
            error = exc.message
    if error is not None:
        return await page.render("setup.html", 400, token=token, email=email, error=error)
    accounts.setup_done()
    user = await page.call(page.store.find_user, created["id"])
    assert user is not None
    response = RedirectResponse("/", 303)
    accounts.sign_in(response, page.request, user)
    return response
