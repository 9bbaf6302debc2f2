"""Fixtures for the web pages: a real server, real OTLP data, a real Chromium.

``web_server``  the web tests' server (session-scoped: one a process) with an
                administrator who signs in (``EMAIL``).
``web``         that server and a project of the test module's own (``web.project``,
                its key ``web.key``), holding only the data sent through the
                OpenTelemetry SDK's OTLP/HTTP exporter for the module (see ``Seeded``):
                under pytest-xdist the files a process runs before a module change
                from run to run, so a module reads its own project or filters to its
                own rows, never an unfiltered list of ``default``.
``browser``     one headless Chromium (Debian's) for the whole run.
``page``        a fresh browser tab, already signed in as ``web.email``.
``send_turns``  sends a conversation to a server; returns the trace ids.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode
from playwright.sync_api import Browser, BrowserContext, Dialog, Page, sync_playwright

from tests.conftest import LaminaServer, start_server
from tests.support import otlp

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct horse battery"
XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_SCRIPT = "<script>alert(2)</script>"


def send_turns(
    server: LaminaServer,
    session_id: str,
    turns: list[tuple[str, str]],
    user_id: str = "u-1",
    name: str = "handle_turn",
    fail_last: bool = False,
    key: str | None = None,
    remember: bool = True,
) -> list[str]:
    """One trace per turn (a root span and an LLM call), sent by the real OTLP exporter."""
    exporter = OTLPSpanExporter(
        endpoint=f"{server.url}/v1/traces",
        headers={"Authorization": f"Bearer {key or server.api_key}"},
    )
    provider = TracerProvider(resource=Resource.create({"service.name": "web-tests"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("web-tests")
    trace_ids = []
    history: list[dict[str, str]] = [{"role": "system", "content": "You are a test assistant."}]
    for index, (question, answer) in enumerate(turns):
        with tracer.start_as_current_span(name) as root:
            root.set_attribute("session.id", session_id)
            root.set_attribute("user.id", user_id)
            root.set_attribute("input.value", json.dumps({"user_message": question}))
            root.set_attribute("output.value", json.dumps(answer))
            root.set_attribute("tag.tags", ["web-test"])
            history.append({"role": "user", "content": question})
            with tracer.start_as_current_span("openai.chat") as llm:
                llm.set_attribute("gen_ai.system", "openai")
                llm.set_attribute("gen_ai.request.model", "gpt-4o-mini")
                llm.set_attribute("gen_ai.usage.input_tokens", 120 + index)
                llm.set_attribute("gen_ai.usage.output_tokens", 30)
                for i, message in enumerate(history):
                    llm.set_attribute(f"gen_ai.prompt.{i}.role", message["role"])
                    llm.set_attribute(f"gen_ai.prompt.{i}.content", message["content"])
                llm.set_attribute("gen_ai.completion.0.role", "assistant")
                llm.set_attribute("gen_ai.completion.0.content", answer)
            with tracer.start_as_current_span("lookup") as tool:
                tool.set_attribute("lamina.span.type", "TOOL")
                tool.set_attribute("input.value", json.dumps({"q": question}))
                if fail_last and index == len(turns) - 1:
                    try:
                        raise ValueError("lookup failed: index offline")
                    except ValueError as error:  # raised, so it has a traceback
                        tool.record_exception(error)
                        tool.set_status(Status(StatusCode.ERROR, str(error)))
            history.append({"role": "assistant", "content": answer})
            if not remember:  # each call sees only the system prompt and this turn
                del history[1:]
            trace_ids.append(format(root.get_span_context().trace_id, "032x"))
    assert provider.force_flush(10_000)
    provider.shutdown()
    return trace_ids


@dataclass
class Seeded:
    server: LaminaServer
    email: str
    project: str  # the module's own project: the sessions below and what the module adds
    key: str  # an API key of that project
    chat_session: str
    chat_traces: list[str]
    other_session: str
    other_traces: list[str]
    xss_session: str
    xss_traces: list[str]
    word: str  # a word only one trace's input contains
    storage: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def project_url(self) -> str:
        """The module's project's pages: ``{project_url}/traces`` and so on."""
        return f"{self.server.url}/p/{self.project}"


def create_user(server: LaminaServer, email: str, admin: bool = False, cli: bool = False) -> None:
    """A user who can sign in: with `lamina users create`, or (faster) the JSON API."""
    if cli:
        args = ["users", "create", email, "--password-stdin", *(["--admin"] if admin else [])]
        result = server.cli(*args, input=PASSWORD + "\n")
        assert result.returncode == 0, result.stderr
        return
    token = (server.data_dir / "admin.token").read_text().strip()
    answer = httpx.post(
        f"{server.url}/api/v1/accounts",
        json={"email": email, "password": PASSWORD, "is_admin": admin},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text


EMAIL = "ana@example.com"  # the web server's administrator


@pytest.fixture(scope="session")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaminaServer]:
    server = start_server(tmp_path_factory.mktemp("web-data"))
    try:
        create_user(server, EMAIL, admin=True, cli=True)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def web(web_server: LaminaServer) -> Seeded:
    server = web_server
    project, key = otlp.new_project(server, "web")
    tag = uuid.uuid4().hex[:6]
    word = f"zebra{tag}"
    chat = send_turns(
        server,
        f"conv-{tag}",
        [
            ("I was charged twice for order 991.", "I have refunded the duplicate charge."),
            ("When will it arrive?", "Refunds take 3 to 5 business days."),
            (f"Thanks, {word}!", "You are welcome."),
        ],
        user_id="u-1842",
        key=key,
    )
    other = send_turns(
        server,
        f"checkout-{tag}",
        [("validate cart", "ok"), ("charge card", "declined")],
        user_id="u-7",
        name="checkout_step",
        fail_last=True,
        key=key,
    )
    xss = send_turns(
        server,
        f"xss-{tag}",
        [(f"show me {XSS_SCRIPT}", f"Here: {XSS_IMG} and {XSS_SCRIPT}")],
        user_id="u-evil",
        key=key,
    )
    server.wait_for("/api/v1/sessions", lambda page: len(page["items"]) == 3, key=key)
    return Seeded(
        server=server,
        email=EMAIL,
        project=project,
        key=key,
        chat_session=f"conv-{tag}",
        chat_traces=chat,
        other_session=f"checkout-{tag}",
        other_traces=other,
        xss_session=f"xss-{tag}",
        xss_traces=xss,
        word=word,
    )


# Chromium and the signed-in state last a test module, not the run: Playwright's sync API
# keeps an asyncio loop running on the main thread while it is started, and the tests of
# other modules that pytest-xdist gives the same worker call asyncio.run().
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


def sign_in(page: Page, url: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{url}/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/p/*/traces")


def new_context(browser: Browser, **options: Any) -> BrowserContext:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, timezone_id="Europe/Oslo", **options
    )
    context.set_default_timeout(10_000)
    return context


@pytest.fixture(scope="module")
def signed_in_state(browser: Browser, web: Seeded) -> dict[str, Any]:
    context = new_context(browser)
    page = context.new_page()
    sign_in(page, web.url, web.email)
    state: dict[str, Any] = context.storage_state()  # type: ignore[assignment]
    context.close()
    return state


@pytest.fixture
def page(browser: Browser, signed_in_state: dict[str, Any]) -> Iterator[Page]:
    context = new_context(browser, storage_state=signed_in_state)
    tab = context.new_page()
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        if dialog.type == "confirm":  # "Revoke this key?" and the like
            dialog.accept()
        else:
            dialogs.append(dialog.message)
            dialog.dismiss()

    tab.on("dialog", on_dialog)
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert not dialogs, f"an alert opened: {dialogs}"
    assert not errors, f"script errors: {errors}"
