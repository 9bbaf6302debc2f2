"""Sign-in, sign-out, CSRF, the first-admin link, keys and projects, error pages."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.conftest import LaminaServer, start_server
from tests.web.conftest import PASSWORD, Seeded, create_user, new_context, send_turns


def test_sign_in_api_and_sign_out(browser: Browser, web: Seeded) -> None:
    create_user(web.server, "bo@example.com")
    context = new_context(browser)
    page = context.new_page()
    page.goto(f"{web.project_url}/traces?tab=sessions")
    expect(page).to_have_url(re.compile(r"/signin\?next="))
    page.get_by_label("Email").fill("bo@example.com")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("do not match")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(rf"/p/{web.project}/traces\?tab=sessions$"))
    expect(page.get_by_text("bo@example.com")).to_be_visible()

    cookie = next(c for c in context.cookies() if c["name"] == "lamina_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    # the JSON API answers a signed-in browser, for the project it names
    answer = page.request.get(f"{web.url}/api/v1/sessions?project={web.project}")
    assert answer.status == 200
    assert web.chat_session in {s["session_id"] for s in answer.json()["items"]}
    one = page.request.get(f"{web.url}/api/v1/traces/{web.chat_traces[0]}?project={web.project}")
    assert one.json()["session_id"] == web.chat_session
    assert page.request.get(f"{web.url}/api/v1/sessions?project=nope").status == 404

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile("/signin$"))
    page.goto(f"{web.project_url}/traces")
    expect(page).to_have_url(re.compile("/signin"))
    assert page.request.get(f"{web.url}/api/v1/sessions?project={web.project}").status == 401

    # a copy of the old cookie no longer works either
    stale = httpx.get(
        f"{web.url}/api/v1/sessions", cookies={"lamina_session": cookie["value"]}, timeout=10
    )
    assert stale.status_code == 401
    context.close()


def test_forms_need_their_csrf_token(web: Seeded) -> None:
    with httpx.Client(base_url=web.url, timeout=10) as client:
        form = client.get("/signin")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token is not None
        data = {"email": web.email, "password": PASSWORD, "next": "/"}
        assert client.post("/signin", data=data).status_code == 403
        assert client.post("/signin", data={**data, "csrf": "forged"}).status_code == 403
        other_site = {"Origin": "https://evil.example"}
        refused = client.post("/signin", data={**data, "csrf": token[1]}, headers=other_site)
        assert refused.status_code == 403
        signed_in = client.post("/signin", data={**data, "csrf": token[1]})
        assert signed_in.status_code == 303
        assert client.post("/signout", data={}).status_code == 403
        assert client.get("/api/v1/sessions").status_code == 200  # still signed in


def test_first_admin_link_and_empty_state(browser: Browser, tmp_path: Path) -> None:
    # stopped with SIGTERM (not new_server's SIGKILL) so its worker processes end too
    server = start_server(tmp_path / "data")
    try:
        _first_admin(browser, server)
    finally:
        server.stop()


def _first_admin(browser: Browser, server: LaminaServer) -> None:
    banner = "".join(server.output)
    link = re.search(r"First sign-in: (\S+)", banner)
    assert link is not None, banner
    context = new_context(browser)
    page = context.new_page()
    page.goto(link[1])
    page.locator("input[name=email]").fill("root@example.com")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("input[name=confirm]").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("Create administrator")).click()
    expect(page).to_have_url(re.compile("/p/default/traces"))

    empty = page.locator(".empty")
    expect(empty).to_contain_text("No traces yet")
    expect(empty).to_contain_text(f"LAMINA_BASE_URL={server.url}")
    page.get_by_role("button", name="Create an API key and fill it in").click()
    snippet = page.locator(".empty pre").first
    expect(snippet).to_contain_text(re.compile(r"LAMINA_PROJECT_API_KEY=lmn_[\w-]{20,}"))
    key = re.search(r"LAMINA_PROJECT_API_KEY=(lmn_[\w-]+)", snippet.inner_text())
    assert key is not None

    send_turns(server, "first-session", [("hello", "hi there")], key=key[1])
    expect(page.locator("tr.trow")).to_have_count(1, timeout=8000)  # no reload needed

    page.goto(link[1])  # the link works once
    expect(page.locator("h1")).to_have_text("Not found")
    context.close()


def test_keys_and_projects(page: Page, web: Seeded) -> None:
    page.goto(f"{web.url}/p/default/settings")
    expect(page.locator("#send-h")).to_have_text("Send traces")
    expect(page.locator("#p-sdk")).to_contain_text(f'base_url="{web.url}"')
    page.get_by_label("Name", exact=True).fill("ci")
    page.get_by_role("button", name="Create key").click()
    new_key = page.locator("[data-new-key]").inner_text()
    assert new_key.startswith("lmn_")
    expect(page.locator("#p-sdk")).to_contain_text(new_key)
    headers = {"Authorization": f"Bearer {new_key}"}
    assert httpx.get(f"{web.url}/api/v1/sessions", headers=headers).status_code == 200

    page.goto(f"{web.url}/p/default/settings")  # shown once: gone after a reload
    expect(page.locator("[data-new-key]")).to_have_count(0)
    row = page.locator("#keys tr", has=page.get_by_role("cell", name="ci", exact=True))
    expect(row).to_contain_text(new_key[:10])
    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("status")).to_contain_text("revoked")
    expect(row).to_contain_text("revoked")
    assert httpx.get(f"{web.url}/api/v1/sessions", headers=headers).status_code == 401

    page.get_by_label("New project").fill("staging")
    page.get_by_role("button", name="Create project").click()
    expect(page).to_have_title(re.compile("staging"))
    expect(page.locator("[data-new-key]")).to_contain_text("lmn_")
    page.locator(".switcher summary").click()
    expect(page.locator(".switcher").get_by_role("link", name="default")).to_be_visible()
    page.locator(".switcher").get_by_role("link", name="default").click()
    expect(page).to_have_url(re.compile("/p/default/settings"))


def test_missing_things_are_pages_not_stack_traces(page: Page, web: Seeded) -> None:
    page.goto(f"{web.url}/p/default/traces/{'f' * 32}")
    expect(page.locator("h1")).to_have_text("Not found")
    expect(page.locator("main")).to_contain_text("No trace")
    page.goto(f"{web.url}/p/default/sessions/no-such-session")
    expect(page.locator("main")).to_contain_text('No session "no-such-session"')
    page.goto(f"{web.url}/nowhere")
    expect(page.locator("h1")).to_have_text("Not found")
    answer = page.request.get(f"{web.url}/api/v1/traces/{'f' * 32}?project=default")
    assert answer.status == 404
    assert answer.json()["error"]["code"] == "not_found"
