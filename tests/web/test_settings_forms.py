"""Each Settings form answers on the Settings page, beside the form: what it did, or what
was wrong with what was typed. None ends on an error page."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, Response, expect

from tests.web.conftest import PASSWORD, Seeded


def test_add_person_and_create_project_say_what_happened(page: Page, web: Seeded) -> None:
    failures: list[str] = []

    def check(response: Response) -> None:
        if response.status >= 500:
            failures.append(f"{response.status} {response.url}")

    page.on("response", check)
    page.goto(f"{web.url}/p/default/settings")
    people = page.locator("#users")
    email = f"new-{uuid.uuid4().hex[:6]}@example.com"
    people.get_by_label("Email").fill(email)
    people.get_by_label("Password").fill(PASSWORD)
    people.get_by_role("button", name="Add person").click()
    expect(people.get_by_role("status")).to_have_text(f"{email} can sign in now.")
    expect(people.get_by_role("row", name=re.compile(re.escape(email)))).to_have_count(1)
    expect(page).to_have_url(re.compile(r"/p/default/settings/users#users$"))

    people.get_by_label("Email").fill(email.upper())  # the same person, in capitals
    people.get_by_label("Password").fill(PASSWORD)
    people.get_by_role("button", name="Add person").click()
    expect(people.get_by_role("alert")).to_contain_text("already exists")
    expect(people.get_by_label("Email")).to_have_value(email.upper())  # kept to correct

    projects = page.locator("#projects")
    projects.get_by_label("New project").fill("default")
    projects.get_by_role("button", name="Create project").click()
    expect(projects.get_by_role("alert")).to_have_text('A project named "default" already exists.')
    expect(projects.get_by_label("New project")).to_have_value("default")

    projects.get_by_label("New project").fill("   ")  # passes the browser's `required`
    projects.get_by_role("button", name="Create project").click()
    expect(projects.get_by_role("alert")).to_have_text(
        "A project name must be 1 to 100 characters."
    )

    name = f"forms-{uuid.uuid4().hex[:6]}"
    projects.get_by_label("New project").fill(name)
    projects.get_by_role("button", name="Create project").click()
    try:
        expect(page).to_have_title(re.compile(name))
        expect(page.locator("[data-new-key]")).to_contain_text("lmn_")
    finally:  # the other tests on this server expect one project
        web.server.cli("projects", "delete", name, "--yes")
    assert failures == []


def test_settings_dates_show_the_day(page: Page, web: Seeded) -> None:
    page.goto(f"{web.url}/p/default/settings")
    since = page.locator("#users tbody tr").first.locator("time")
    expect(since).to_have_text(re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"))
    created = page.locator("#keys tbody tr").first.locator("time").first
    expect(created).to_have_text(re.compile(r"^\d{4}-\d{2}-\d{2} "))
