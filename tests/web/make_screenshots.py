"""Screenshots of the main pages for docs/screenshots (not a test).

    python -m tests.web.make_screenshots [OUT_DIR]

Starts `lamina serve --demo` on a fresh data dir, signs in with Chromium and
saves the Traces page (both tabs, a session expanded), a session transcript,
a trace view, the empty state and the sign-in page, in light and dark; and judging a
session (its transcript with scores and comments, the annotate dialog), the
Evaluators page, the Dashboard, the Users, SQL, dataset and Experiments pages, in light.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from tests.conftest import start_server
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, PASSWORD, create_user

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
EMAIL = "ana@acme.dev"
SESSIONS_A_DAY = (
    "SELECT date_trunc('day', start_time) AS day, count(*) AS sessions FROM sessions "
    "GROUP BY 1 ORDER BY 1"
).replace(" ", "+")


def longest_conversation(page: Page, url: str) -> str:
    answer = page.request.get(f"{url}/api/v1/sessions?project=default&sort=trace_count")
    sessions = [s for s in answer.json()["items"] if s["session_id"].startswith("conv-")]
    return str(sessions[0]["session_id"])


def first_trace(page: Page, url: str, session_id: str, name: str) -> str:
    answer = page.request.get(f"{url}/api/v1/sessions/{session_id}?project=default")
    return str(next(t["trace_id"] for t in answer.json()["traces"] if t["name"] == name))


def unstick(page: Page) -> None:
    """The top bar scrolls away with the page: a full-page shot shows it once, on top."""
    page.add_style_tag(content=".topbar { position: static !important; }")


def review(page: Page, url: str, conversation: str, out: Path) -> None:
    """Judging a session: its transcript with thumbs, scores and comments beside it, and
    the annotate dialog; the Evaluators page; the Dashboard."""
    page.locator(".turn").first.scroll_into_view_if_needed()
    page.locator(".turn").first.get_by_role("button", name="Annotate").click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    page.mouse.move(0, 0)
    page.screenshot(path=out / "annotate-light.png")
    page.keyboard.press("Escape")
    page.evaluate("document.getElementById('transcript-h').scrollIntoView()")
    page.screenshot(path=out / "review-light.png")
    page.goto(f"{url}/p/default/evaluators")
    page.mouse.move(0, 0)
    page.screenshot(path=out / "evaluators-light.png", full_page=True)
    page.goto(f"{url}/p/default/dashboard")
    unstick(page)
    page.mouse.move(0, 0)
    page.screenshot(path=out / "dashboard-light.png", full_page=True)
    for name, path in (
        ("users", "/p/default/users"),
        ("sql", "/p/default/sql?q=" + SESSIONS_A_DAY),
        ("dataset", "/p/default/datasets/support-regressions"),
        ("experiments", "/p/default/experiments"),
    ):
        page.goto(url + path)
        unstick(page)
        page.mouse.move(0, 0)
        page.screenshot(path=out / f"{name}-light.png", full_page=True)


def shoot(page: Page, url: str, out: Path, scheme: str) -> None:
    page.goto(f"{url}/signin")
    if scheme == "light":
        page.screenshot(path=out / "signin-light.png")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/traces")
    page.screenshot(path=out / f"traces-{scheme}.png")

    conversation = longest_conversation(page, url)
    page.goto(f"{url}/p/default/traces?tab=sessions")
    page.locator("tr.srow", has_text=conversation).click()
    page.locator("tr.expansion tr.trow").first.wait_for()
    page.mouse.move(0, 0)
    page.screenshot(path=out / f"sessions-{scheme}.png")

    page.goto(f"{url}/p/default/sessions/{conversation}")
    unstick(page)
    page.locator(".turn").nth(1).get_by_role("button", name="spans").click()
    page.mouse.move(0, 0)
    page.screenshot(path=out / f"session-{scheme}.png", full_page=True)
    if scheme == "light":
        review(page, url, conversation, out)

    trace_id = first_trace(page, url, conversation, "handle_turn")
    page.goto(f"{url}/p/default/traces/{trace_id}")
    unstick(page)
    page.get_by_role("treeitem", name="openai.chat").click()
    page.locator("[data-detail] .msg").first.wait_for()
    page.mouse.move(0, 0)
    page.screenshot(path=out / f"trace-{scheme}.png", full_page=True)

    if scheme == "light":
        agent = page.request.get(f"{url}/api/v1/traces?project=default&name=agent.run").json()
        page.goto(f"{url}/p/default/traces/{agent['items'][0]['trace_id']}")
        page.get_by_role("treeitem", name="anthropic.messages").nth(2).click()
        page.locator("[data-detail] .msg").first.wait_for()
        page.mouse.move(0, 0)
        page.screenshot(path=out / "agent-trace-light.png", full_page=True)

        failed = page.request.get(f"{url}/api/v1/traces?project=default&status=error").json()
        page.goto(f"{url}/p/default/traces/{failed['items'][0]['trace_id']}")
        page.screenshot(path=out / "error-trace-light.png", full_page=True)

        page.goto(f"{url}/p/default/settings")
        page.get_by_label("New project").fill("staging")
        page.get_by_role("button", name="Create project").click()
        page.goto(f"{url}/p/staging/traces")
        page.screenshot(path=out / "empty-light.png", full_page=True)

        page.set_viewport_size({"width": 800, "height": 900})
        page.goto(f"{url}/p/default/traces?tab=sessions")
        page.screenshot(path=out / "sessions-800px-light.png")


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp) / "data", "--demo")
        try:
            deadline = time.monotonic() + 30
            while len(server.api("/api/v1/sessions")["items"]) < 6:
                if time.monotonic() > deadline:
                    raise SystemExit("the demo data did not arrive")
                time.sleep(0.2)
            create_user(server, EMAIL, admin=True)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for scheme in ("light", "dark"):
                    context = browser.new_context(
                        viewport={"width": 1280, "height": 800},
                        color_scheme=scheme,
                        timezone_id="Europe/Oslo",
                    )
                    shoot(context.new_page(), server.url, out, scheme)
                    context.close()
                browser.close()
        finally:
            server.stop()
    print(f"Screenshots in {out}")


if __name__ == "__main__":
    main()
