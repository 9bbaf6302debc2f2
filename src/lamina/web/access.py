"""Who may call the JSON API, and which project a request reads or changes.

Three kinds of caller:

- a **project API key** (``Authorization: Bearer lmn_...``) reads and changes its own
  project, and nothing else: a ``project`` parameter is ignored, and the routes that
  manage projects, keys, accounts and set-aside writes answer 403;
- the data directory's **admin token** (``<data dir>/admin.token``, which the ``lamina``
  command reads) may call every route, on any project named by ``?project=NAME``
  (or its id);
- a **signed-in browser** (its session cookie, no ``Authorization`` header) reads the
  project named by ``?project=`` (the ``default`` one when none is named), and may
  call the managing routes when its user is an administrator. Every change it asks
  for must carry its CSRF token in ``X-CSRF-Token`` and, if it sends an ``Origin``,
  come from this server.

A caller that is none of these is a 401, whatever it asks for.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from lamina.auth import KEY_PREFIX, bearer_token
from lamina.errors import Forbidden, NotFound, Unauthorized
from lamina.operations import DEFAULT_PROJECT, find_project
from lamina.query.comments import ADMIN, Commenter
from lamina.query.scores import Giver
from lamina.server_runtime import BrowserAccounts, ServerRuntime, Visitor

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
CSRF_HEADER = "x-csrf-token"


async def project_of(request: Request) -> str:
    """The id of the project the request reads or changes (see the module's text)."""
    runtime: ServerRuntime = request.app.state.runtime
    authorization = request.headers.get("authorization")
    if authorization is None:
        accounts = runtime.accounts
        if accounts is not None:
            return await _browser_project(request, runtime, accounts)
    elif _is_admin_token(runtime, authorization):
        name = request.query_params.get("project") or DEFAULT_PROJECT
        project = await run_in_threadpool(find_project, runtime.store, name)
        return project.id
    cached = runtime.keys.cached(authorization)
    if cached is not None:  # a store read only when not
        return cached
    return await run_in_threadpool(runtime.keys.project_for, authorization)


async def giver_of(request: Request, project_id: str) -> Giver:
    """Who gives the scores a request sends (after :func:`project_of` let it in): an
    API key by its name, the admin token as "admin", a signed-in browser by its user's
    email (its scores' source is always ui)."""
    runtime: ServerRuntime = request.app.state.runtime
    authorization = request.headers.get("authorization")
    if authorization is None:
        accounts = runtime.accounts
        visitor = await accounts.visitor(request) if accounts is not None else None
        return Giver(visitor.user.email if visitor is not None else None, browser=True)
    if _is_admin_token(runtime, authorization):
        return Giver("admin", admin=True)
    token = bearer_token(authorization) or ""
    known, name = runtime.keys.cached_name(token)
    if not known:
        name = await run_in_threadpool(runtime.keys.name_for, token, project_id)
    return Giver(name)


async def caller_of(request: Request) -> tuple[str, Giver]:
    """:func:`project_of` and then :func:`giver_of`, as one look at a project key whose
    project and name are cached (a client giving one score a request sends the same
    key many times a second)."""
    runtime: ServerRuntime = request.app.state.runtime
    authorization = request.headers.get("authorization")
    if authorization is not None and not _is_admin_token(runtime, authorization):
        token = bearer_token(authorization)
        known = runtime.keys.cached_caller(token) if token is not None else None
        if known is not None:
            return known[0], Giver(known[1])
    project_id = await project_of(request)
    return project_id, await giver_of(request, project_id)


async def viewer_of(request: Request) -> str | None:
    """The signed-in user's id (after :func:`project_of` let the request in), None for
    an API key or the admin token: whose stars a list shows."""
    accounts = request.app.state.runtime.accounts
    if "authorization" in request.headers or accounts is None:
        return None
    visitor = await accounts.visitor(request)
    return visitor.user.id if visitor is not None else None


async def commenter_of(request: Request, project_id: str) -> Commenter:
    """Who writes (or deletes) comments and stars with this request (after
    :func:`project_of` let it in): a signed-in user, an API key (by its id; the name
    is shown), or the admin token."""
    runtime: ServerRuntime = request.app.state.runtime
    authorization = request.headers.get("authorization")
    if authorization is None:
        accounts = runtime.accounts
        visitor = await accounts.visitor(request) if accounts is not None else None
        if visitor is None:  # project_of signed it in: only without accounts
            raise Unauthorized("Sign in to the web pages to comment.")
        user = visitor.user
        return Commenter(user.email, f"user:{user.id}", user.id)
    if _is_admin_token(runtime, authorization):
        return Commenter(ADMIN, ADMIN)
    token = bearer_token(authorization) or ""
    prefix = token[: len(KEY_PREFIX) + 6]
    keys = await run_in_threadpool(runtime.store.list_keys, project_id)
    live = [key for key in keys if key.prefix == prefix and key.revoked_ns is None]
    if not live:
        raise Unauthorized("This API key was revoked.")
    return Commenter(live[0].name, f"key:{live[0].id}")


async def require_admin(request: Request) -> None:
    """Refuse the request unless it carries the admin token or comes from a signed-in
    administrator's browser (with its CSRF token, for a change)."""
    runtime: ServerRuntime = request.app.state.runtime
    authorization = request.headers.get("authorization")
    if authorization is None:
        accounts = runtime.accounts
        if accounts is not None:
            visitor = await _signed_in(request, accounts)
            if not visitor.user.is_admin:
                raise Forbidden("Only administrators can do this.")
            return
    elif _is_admin_token(runtime, authorization):
        return
    # a project key: a 401 when it is not one (as everywhere), else a 403
    await run_in_threadpool(runtime.keys.project_for, authorization)
    raise Forbidden(
        "A project API key reads and changes its own project's traces only; this needs "
        "the data directory's admin token (or a signed-in administrator)."
    )


def _is_admin_token(runtime: ServerRuntime, authorization: str) -> bool:
    token = bearer_token(authorization) or ""
    return hmac.compare_digest(token.encode(), runtime.admin_token.encode())


async def _signed_in(request: Request, accounts: BrowserAccounts) -> Visitor:
    visitor: Visitor | None = await accounts.visitor(request)
    if visitor is None:
        raise Unauthorized(
            "Sign in to the web pages, or send 'Authorization: Bearer <project API key>'."
        )
    if request.method not in SAFE_METHODS:
        _check_browser_write(request, visitor)
    return visitor


async def _browser_project(
    request: Request, runtime: ServerRuntime, accounts: BrowserAccounts
) -> str:
    visitor = await _signed_in(request, accounts)
    store = runtime.store
    name = request.query_params.get("project") or DEFAULT_PROJECT
    project = await run_in_threadpool(store.find_project, name)
    if project is None and "project" not in request.query_params:
        projects = await run_in_threadpool(store.list_projects)
        project = projects[0] if projects else None
    if project is None or not accounts.may_see(visitor.user, project):
        raise NotFound(f'There is no project "{name}".')
    return project.id


def _check_browser_write(request: Request, visitor: Visitor) -> None:
    """A change asked for by a signed-in browser must come from our own page."""
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower():
        raise Forbidden("This request came from another site, so it was refused.")
    sent = request.headers.get(CSRF_HEADER, "")
    if not visitor.csrf or not hmac.compare_digest(sent.encode(), visitor.csrf.encode()):
        raise Forbidden(
            "Send the page's CSRF token in the X-CSRF-Token header (or use an API key)."
        )
