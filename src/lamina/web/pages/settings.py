"""Project settings: API keys (create, shown once; list; revoke), the SDK snippet,
new projects, and the people who can sign in.

Every change goes through :class:`lamina.operations.Operations`, the same
code the CLI runs, and every form is CSRF-checked.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import RedirectResponse, Response

from lamina.errors import BadRequest, Conflict, Forbidden, NotFound
from lamina.operations import DEFAULT_PROJECT, Operations
from lamina.query import shares as sharing
from lamina.web.pages.base import Page, base_url, project_path, set_notice

#: How an application installs the SDK while it is not on PyPI (as README and docs/sdk.md
#: say): from a copy of the repository, or the wheel `python -m build` makes there.
INSTALL_SDK = (
    "# The SDK is not on PyPI yet: install it from a copy of Lamina's repository\n"
    "pip install /path/to/lamina\n"
    "# or from the wheel `python -m build` makes there:\n"
    "# pip install /path/to/lamina/dist/lamina-*-py3-none-any.whl"
)


def _commented(lines: str) -> str:
    return "".join(line if line.startswith("#") else f"# {line}" for line in lines.splitlines(True))


def snippets(base_url: str, key: str) -> dict[str, str]:
    """What to run to send traces here, with the real base URL and a key filled in."""
    return {
        "env": (
            f"{INSTALL_SDK}\nexport LAMINA_PROJECT_API_KEY={key}\nexport LAMINA_BASE_URL={base_url}"
        ),
        "sdk": (
            f"{_commented(INSTALL_SDK)}\n\n"
            "from lamina import Laminar, observe\n\n"
            f'Laminar.initialize(project_api_key="{key}", base_url="{base_url}")\n\n'
            '@observe(session_id="conv-1")\n'
            "def handle_turn(user_message: str) -> str:\n"
            '    return "Hello!"\n\n'
            'handle_turn("Hi")\n'
            "Laminar.flush()"
        ),
        "otel": (
            f"export OTEL_EXPORTER_OTLP_TRACES_ENDPOINT={base_url}/v1/traces\n"
            f'export OTEL_EXPORTER_OTLP_TRACES_HEADERS="Authorization=Bearer {key}"\n'
            "# give spans session.id (and user.id) attributes to group them into sessions"
        ),
    }


def _operations(page: Page) -> Operations:
    return Operations(page.store, on_change=page.site.runtime.keys.forget)


async def _render(page: Page, status: int = 200, **values: Any) -> Response:
    """The Settings page. ``at`` names the form (keys, projects, users, delete) beside
    which ``error`` or ``notice`` is shown, and the page opens there."""
    assert page.project is not None
    keys = await page.call(page.store.list_keys, page.project.id)
    users = await page.call(page.store.list_users)
    spans = await page.call(page.store.count_spans, page.project.id)
    shares = await page.call(sharing.active, page.store, page.project.id)
    defaults: dict[str, Any] = {
        "new_key": None,
        "new_key_name": None,
        "error": None,
        "at": None,
        "notice": None,
        "form": {},
    }
    key = values.get("new_key") or "lmn_…"
    return await page.render(
        "settings.html",
        status,
        nav="settings",
        keys=sorted(keys, key=lambda k: (k.revoked_ns is not None, -k.created_ns)),
        users=users,
        span_total=spans,
        shares=shares,
        active_keys=sum(1 for k in keys if k.revoked_ns is None),
        snippets=snippets(base_url(page.request), key),
        **{**defaults, **values},
    )


async def settings_page(page: Page) -> Response:
    notice = {
        "revoked": "The key is revoked: requests that use it are refused from now on.",
        "share-revoked": "The share link is revoked: it opens nothing from now on.",
    }
    return await _render(page, notice=notice.get(page.request.query_params.get("done", "")))


async def create_key(page: Page) -> Response:
    assert page.project is not None
    form = await page.site.accounts.checked_form(page.request, page.visitor)
    name = str(form.get("name") or "").strip() or "default"
    if len(name) > 100:
        return await _render(
            page, 400, error="A key name must be at most 100 characters.", at="keys"
        )
    created = await page.call(_operations(page).create_key, page.project.id, name)
    return await _render(page, new_key=created["key"], new_key_name=name)


async def revoke_key(page: Page) -> Response:
    assert page.project is not None
    await page.site.accounts.checked_form(page.request, page.visitor)
    key_id = page.request.path_params["key_id"]
    keys = await page.call(page.store.list_keys, page.project.id)
    if not any(key.id == key_id for key in keys):
        raise NotFound("There is no such key in this project.")
    await page.call(_operations(page).revoke_key, key_id)
    return RedirectResponse(project_path(page.project, "/settings?done=revoked#keys"), 303)


async def create_project(page: Page) -> Response:
    form = await page.site.accounts.checked_form(page.request, page.visitor)
    name = str(form.get("name") or "").strip()
    operations = _operations(page)
    try:
        created = await page.call(operations.create_project, name)
    except (BadRequest, Conflict) as exc:
        return await _render(
            page, 400, error=exc.message, at="projects", form={"project_name": name}
        )
    project = await page.call(page.store.find_project, created["id"])
    assert project is not None
    key = await page.call(operations.create_key, project.id, "default")
    page.project = project
    page.projects = await page.call(page.store.list_projects)
    return await _render(
        page,
        new_key=key["key"],
        new_key_name="default",
        notice=f'Project "{project.name}" is ready. Here is its first API key.',
    )


async def create_user(page: Page) -> Response:
    assert page.visitor is not None
    form = await page.site.accounts.checked_form(page.request, page.visitor)
    if not page.visitor.user.is_admin:
        raise Forbidden("Only administrators can add users.")
    email = str(form.get("email") or "").strip()
    password = str(form.get("password") or "")
    is_admin = form.get("is_admin") == "on"
    try:
        await page.call(_operations(page).create_user, email, password, is_admin)
    except (BadRequest, Conflict) as exc:
        return await _render(page, 400, error=exc.message, at="users", form={"email": email})
    return await _render(page, notice=f"{email} can sign in now.", at="users")


async def delete_project(page: Page) -> Response:
    """Delete this project, its keys and all its data, once its name was typed."""
    assert page.project is not None
    form = await page.site.accounts.checked_form(page.request, page.visitor)
    if str(form.get("confirm_name") or "") != page.project.name:
        return await _render(
            page,
            400,
            error="Nothing was deleted: to delete the project, type its name, "
            f'"{page.project.name}", exactly.',
            at="delete",
        )
    others = [p for p in page.projects if p.id != page.project.id]
    if not others:
        return await _render(
            page,
            400,
            error="Nothing was deleted: this is the only project. Create another one first.",
            at="delete",
        )
    result = await page.call(_operations(page).delete_project, page.project.id)
    landing = next((p for p in others if p.name == DEFAULT_PROJECT), others[0])
    response = RedirectResponse(project_path(landing, "/traces"), 303)
    set_notice(response, page.request, f"project.{int(result['deleted']['spans'])}")
    return response
