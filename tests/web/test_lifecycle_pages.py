"""Deleting and downloading from the pages: each delete asks first (Cancel keeps the data,
confirming deletes it and the API then answers 404), and the session page's downloads
are real files that parse."""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from pathlib import Path
from urllib.parse import quote

import orjson
import pyarrow.parquet as pq
from playwright.sync_api import Page, expect

from tests.support import otlp
from tests.web.conftest import Seeded, send_turns


def _api_status(page: Page, web: Seeded, path: str, project: str = "default") -> int:
    return page.request.get(f"{web.url}{path}?project={quote(project, safe='')}").status


def test_delete_a_trace_from_its_page(page: Page, web: Seeded) -> None:
    session = f"del-trace-{uuid.uuid4().hex[:8]}"
    first, second = send_turns(web.server, session, [("keep me", "kept"), ("drop me", "gone")])
    web.server.wait_for(f"/api/v1/sessions/{session}", lambda s: s["trace_count"] == 2)
    page.goto(f"{web.url}/p/default/traces/{second}")

    opener = page.get_by_role("button", name="Delete trace")
    opener.click()
    dialog = page.get_by_role("dialog", name="Delete this trace?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("handle_turn")
    expect(dialog).to_contain_text("3 spans")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()
    assert _api_status(page, web, f"/api/v1/traces/{second}") == 200

    opener.click()  # Escape cancels as well
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert _api_status(page, web, f"/api/v1/traces/{second}") == 200

    opener.click()
    dialog.get_by_role("button", name="Delete trace").click()
    expect(page).to_have_url(re.compile(r"/p/default/traces$"))
    expect(page.get_by_role("status").filter(has_text="deleted")).to_have_text(
        "The trace was deleted, with its 3 spans."
    )
    assert _api_status(page, web, f"/api/v1/traces/{second}") == 404
    assert _api_status(page, web, f"/api/v1/traces/{first}") == 200
    page.reload()  # the notice is said once
    expect(page.locator("[data-flash]")).to_have_count(0)


def test_delete_a_session_with_all_its_traces(page: Page, web: Seeded) -> None:
    session = f"del/session {uuid.uuid4().hex[:8]}"  # a slash and a space in the id
    traces = send_turns(web.server, session, [("one", "1"), ("two", "2"), ("three", "3")])
    path = f"/api/v1/sessions/{quote(session, safe='')}"
    web.server.wait_for(path, lambda s: s["trace_count"] == 3)
    page.goto(f"{web.url}/p/default/sessions/{quote(session, safe='')}")

    page.get_by_role("button", name="Delete session").click()
    dialog = page.get_by_role("dialog", name="Delete this session?")
    expect(dialog).to_contain_text(session)
    expect(dialog).to_contain_text("3 traces")
    expect(dialog).to_contain_text("9 spans")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert _api_status(page, web, path) == 200

    page.get_by_role("button", name="Delete session").click()
    dialog.get_by_role("button", name="Delete session").click()
    expect(page).to_have_url(re.compile(r"/p/default/traces\?tab=sessions$"))
    expect(page.locator("[data-flash]")).to_have_text(
        "The session was deleted, with its 3 traces and 9 spans."
    )
    assert _api_status(page, web, path) == 404
    for trace_id in traces:
        assert _api_status(page, web, f"/api/v1/traces/{trace_id}") == 404


def test_a_failed_delete_says_so_and_keeps_the_dialog(page: Page, web: Seeded) -> None:
    session = f"del-twice-{uuid.uuid4().hex[:8]}"
    (trace_id,) = send_turns(web.server, session, [("hello", "hi")])
    web.server.wait_for(f"/api/v1/sessions/{session}", lambda s: s["trace_count"] == 1)
    page.goto(f"{web.url}/p/default/traces/{trace_id}")
    # deleted meanwhile (another tab, say): the dialog says so instead of going on
    gone = otlp.admin(web.server, "delete_trace", project="default", trace_id=trace_id)
    assert gone["deleted"]["traces"] == 1
    page.get_by_role("button", name="Delete trace").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Delete trace").click()
    expect(dialog.get_by_role("alert")).to_contain_text("Nothing was deleted")
    expect(dialog.get_by_role("alert")).to_contain_text("No trace")
    expect(dialog).to_be_visible()


def test_delete_a_project_once_its_name_is_typed(page: Page, web: Seeded) -> None:
    name, key = otlp.new_project(web.server, "doomed")
    send_turns(web.server, "doomed-session", [("a", "b"), ("c", "d")], key=key)
    web.server.wait_for("/api/v1/sessions", lambda p: len(p["items"]) == 1, key=key)
    page.goto(f"{web.url}/p/{name}/settings")

    page.get_by_role("button", name="Delete project").click()
    dialog = page.get_by_role("dialog", name=f"Delete project {name}?")
    expect(dialog).to_contain_text("6 spans")
    expect(dialog).to_contain_text("1 API key")
    confirm = dialog.get_by_role("button", name="Delete project")
    field = dialog.get_by_label("To confirm, type the project's name")
    expect(field).to_be_focused()
    expect(confirm).to_be_disabled()
    field.fill(name[:-1])
    expect(confirm).to_be_disabled()
    dialog.get_by_role("button", name="Cancel").click()
    assert _api_status(page, web, "/api/v1/sessions", name) == 200

    page.get_by_role("button", name="Delete project").click()
    expect(field).to_have_value("")  # opened afresh
    field.fill(name)
    expect(confirm).to_be_enabled()
    confirm.click()
    expect(page).to_have_url(re.compile(r"/p/default/traces$"))
    expect(page.locator("[data-flash]")).to_have_text(
        "The project was deleted, with its 6 spans and its API keys."
    )
    assert _api_status(page, web, "/api/v1/sessions", name) == 404
    answer = page.request.get(
        f"{web.url}/api/v1/sessions", headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status == 401  # its keys stopped working at once


def test_download_a_session_as_jsonl_and_parquet(page: Page, web: Seeded, tmp_path: Path) -> None:
    page.goto(f"{web.project_url}/sessions/{quote(web.chat_session, safe='')}")
    menu = page.locator(".download-menu")
    menu.get_by_text("Download").click()
    with page.expect_download() as jsonl_download:
        menu.get_by_role("link", name=re.compile("^JSONL")).click()
    jsonl = jsonl_download.value
    assert jsonl.suggested_filename == f"session-{web.chat_session}.jsonl"
    lines = [orjson.loads(line) for line in Path(jsonl.path()).read_bytes().splitlines()]
    assert lines[0]["lamina_export"] == 1 and lines[0]["session_id"] == web.chat_session
    kinds = [line.get("kind") for line in lines[1:]]
    assert kinds.count("session") == 1 and kinds.count("trace") == 3 and kinds.count("span") == 9

    with page.expect_download() as parquet_download:
        menu.get_by_role("link", name=re.compile("^Parquet")).click()
    parquet = parquet_download.value
    assert parquet.suggested_filename == f"session-{web.chat_session}.parquet.zip"
    with zipfile.ZipFile(io.BytesIO(Path(parquet.path()).read_bytes())) as archive:
        assert sorted(archive.namelist()) == [
            "comments.parquet",
            "scores.parquet",
            "sessions.parquet",
            "spans.parquet",
            "traces.parquet",
        ]
        archive.extractall(tmp_path)
    spans = pq.read_table(tmp_path / "spans.parquet")
    assert spans.num_rows == 9
    assert set(spans.column("trace_id").to_pylist()) == set(web.chat_traces)
    assert pq.read_table(tmp_path / "sessions.parquet").column("session_id").to_pylist() == [
        web.chat_session
    ]


def test_a_project_is_kept_unless_its_name_is_typed_exactly(page: Page, web: Seeded) -> None:
    """The server checks the typed name too, not only the page's script."""
    name, key = otlp.new_project(web.server, "kept")
    settings = page.request.get(f"{web.url}/p/{name}/settings")
    token = re.search(r'name="csrf" value="([^"]+)"', settings.text())
    assert token is not None
    for typed in ("", name.upper(), f" {name}", "default"):
        answer = page.request.post(
            f"{web.url}/p/{name}/settings/delete",
            form={"csrf": token[1], "confirm_name": typed},
            max_redirects=0,
        )
        assert answer.status == 400, typed
        assert "Nothing was deleted" in answer.text()
    headers = {"Authorization": f"Bearer {key}"}
    assert page.request.get(f"{web.url}/api/v1/sessions", headers=headers).status == 200
