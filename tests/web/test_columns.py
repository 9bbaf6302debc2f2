"""The lists' column chooser (#19), in a real browser: a person hides columns of the
Sessions tab from the Columns menu, the choice is kept for them on the server (a reload,
a new browser) and for that tab only, and another person's lists are not changed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.web.conftest import Seeded, create_user, new_context, sign_in


def _person(browser: Browser, web: Seeded) -> Iterator[Page]:
    """A browser signed in as a person of their own (the choice is theirs alone, and
    the shared server's other tests keep every column)."""
    email = f"cols-{uuid.uuid4().hex[:8]}@example.com"
    create_user(web.server, email)
    context = new_context(browser)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(tab, web.url, email)
    yield tab
    context.close()
    assert not errors, f"script errors: {errors}"


@pytest.fixture
def person(browser: Browser, web: Seeded) -> Iterator[Page]:
    yield from _person(browser, web)


@pytest.fixture
def someone_else(browser: Browser, web: Seeded) -> Iterator[Page]:
    yield from _person(browser, web)


def _header(page: Page, column: str) -> Locator:
    return page.locator(f'table[data-list] > thead th[data-col="{column}"]')


def _first_row_cell(page: Page, column: str) -> Locator:
    """The first row's cell under ``column``'s header (by position)."""
    headers = page.locator("table[data-list] > thead th")
    names = [headers.nth(i).get_attribute("data-col") for i in range(headers.count())]
    position = names.index(column) + 1
    return page.locator("#rows > tr[data-id] >> nth=0").locator(f":scope > :nth-child({position})")


def test_hidden_columns_stay_hidden_for_that_person_only(
    person: Page, someone_else: Page, web: Seeded
) -> None:
    sessions = f"{web.project_url}/traces?tab=sessions"
    person.goto(sessions)
    expect(_header(person, "cost")).to_be_visible()
    expect(_first_row_cell(person, "cost")).to_be_visible()

    person.locator("[data-columns-menu] > summary").click()
    menu = person.locator("[data-columns-list]")
    expect(menu.get_by_label("Session")).to_have_count(0)  # a row's name is never hidden
    with person.expect_response(lambda r: r.url.endswith("/columns")) as saved:
        menu.get_by_label("Cost").uncheck()
    assert saved.value.status == 204
    with person.expect_response(lambda r: r.url.endswith("/columns")):
        menu.get_by_label("Last output").uncheck()
    expect(_header(person, "cost")).to_be_hidden()
    expect(_first_row_cell(person, "cost")).to_be_hidden()
    expect(_first_row_cell(person, "last_output")).to_be_hidden()
    expect(_header(person, "trace_count")).to_be_visible()

    person.reload()  # kept on the server: a reload (or another browser) shows the choice
    expect(_header(person, "cost")).to_be_hidden()
    expect(_first_row_cell(person, "cost")).to_be_hidden()
    expect(_header(person, "total_tokens")).to_be_visible()
    person.locator("[data-columns-menu] > summary").click()
    expect(person.locator("[data-columns-list]").get_by_label("Cost")).not_to_be_checked()

    person.goto(f"{web.project_url}/traces")  # the Traces tab has its own choice
    expect(_header(person, "cost")).to_be_visible()

    someone_else.goto(sessions)
    expect(_header(someone_else, "cost")).to_be_visible()
    expect(_first_row_cell(someone_else, "cost")).to_be_visible()

    person.goto(sessions)  # shown again, and remembered so
    person.locator("[data-columns-menu] > summary").click()
    with person.expect_response(lambda r: r.url.endswith("/columns")):
        person.locator("[data-columns-list]").get_by_label("Cost").check()
    person.reload()
    expect(_first_row_cell(person, "cost")).to_be_visible()


def test_the_choice_is_refused_without_the_page_token_or_a_known_tab(
    person: Page, web: Seeded
) -> None:
    person.goto(f"{web.project_url}/traces?tab=sessions")
    csrf = person.locator("[data-columns-menu]").get_attribute("data-csrf") or ""
    address = f"{web.project_url}/columns"
    forged = person.request.post(address, form={"tab": "sessions", "hidden": "cost"})
    assert forged.status == 403
    wrong_tab = person.request.post(address, form={"csrf": csrf, "tab": "spans"})
    assert wrong_tab.status == 400
    assert "sessions" in wrong_tab.text()
    person.reload()
    expect(_header(person, "cost")).to_be_visible()  # neither changed anything
