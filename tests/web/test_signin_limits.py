"""Sign-in rate limiting: failures per account and per client address, a sliding window,
429 with Retry-After on the rendered sign-in page; other accounts are not blocked."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from lamina.web.pages import limits as limits_module
from lamina.web.pages.limits import SignInLimits
from tests.web.conftest import PASSWORD, Seeded, create_user


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_window_slides() -> None:
    clock = Clock()
    limits = SignInLimits(account_limit=3, address_limit=5, window=60, clock=clock)
    for second in (0, 10, 20):
        clock.now = 1000 + second
        assert limits.retry_after("10.0.0.1", "ana@example.com") == 0
        limits.failed("10.0.0.1", "Ana@Example.com ")  # one account, however it is typed
    assert limits.retry_after("10.0.0.1", "ana@example.com") == 40  # the first leaves at 60
    assert limits.retry_after("10.0.0.2", "ana@example.com") == 40  # from anywhere
    assert limits.retry_after("10.0.0.1", "bo@example.com") == 0  # another account is free
    clock.now = 1059.5
    assert limits.retry_after("10.0.0.1", "ana@example.com") == 1
    clock.now = 1060
    assert limits.retry_after("10.0.0.1", "ana@example.com") == 0  # one failure has left
    limits.failed("10.0.0.1", "ana@example.com")
    assert limits.retry_after("10.0.0.1", "ana@example.com") == 10  # the next leaves at 70

    # the address limit counts failures for any account from that address
    for n in range(5):
        limits.failed("10.0.0.9", f"user{n}@example.com")
    assert limits.retry_after("10.0.0.9", "carol@example.com") == 60
    assert limits.retry_after("10.0.0.8", "carol@example.com") == 0
    clock.now += 61
    assert limits.retry_after("10.0.0.9", "carol@example.com") == 0
    assert not limits._failures or all(limits._failures.values())


def test_memory_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits_module, "MAX_KEYS", 50)
    limits = SignInLimits(clock=Clock())
    for n in range(200):  # all within one window: each failure adds two keys
        limits.failed(f"10.1.0.{n}", f"u{n}@example.com")
        assert len(limits._failures) <= 51


def _attempt(web: Seeded, email: str, password: str, address: str) -> httpx.Response:
    """One sign-in from ``address`` (as a proxy on the server's machine reports it)."""
    with httpx.Client(base_url=web.url, timeout=30) as browser:
        form = browser.get("/signin")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token is not None
        return browser.post(
            "/signin",
            data={"email": email, "password": password, "csrf": token[1]},
            headers={"X-Forwarded-For": address},
        )


def _address() -> str:
    raw = uuid.uuid4().bytes
    return f"10.{raw[0]}.{raw[1]}.{raw[2]}"


def test_five_failures_pause_that_account_only(web: Seeded) -> None:
    victim = f"victim-{uuid.uuid4().hex[:6]}@example.com"
    bystander = f"bystander-{uuid.uuid4().hex[:6]}@example.com"
    create_user(web.server, victim)
    create_user(web.server, bystander)
    attacker = _address()
    for _ in range(5):
        wrong = _attempt(web, victim, "not the password", attacker)
        assert wrong.status_code == 400 and "do not match" in wrong.text
    # the sixth, even with the right password and from elsewhere, waits
    paused = _attempt(web, victim, PASSWORD, _address())
    assert paused.status_code == 429
    assert 1 <= int(paused.headers["retry-after"]) <= 60
    assert "Too many failed sign-in attempts" in paused.text
    assert re.search(r"try again in \d+ seconds?\.", paused.text)
    assert paused.headers["content-type"].startswith("text/html")
    assert 'role="alert"' in paused.text and "<h1>Sign in</h1>" in paused.text
    assert "lamina_session" not in paused.cookies
    # another account signs in, from the very address the failures came from
    assert _attempt(web, bystander, PASSWORD, attacker).status_code == 303


def test_twenty_failures_pause_that_address_only(web: Seeded) -> None:
    user = f"carol-{uuid.uuid4().hex[:6]}@example.com"
    create_user(web.server, user)
    spraying = _address()
    for n in range(20):  # a different account each time: no account reaches its limit
        answer = _attempt(web, f"guess{n}-{uuid.uuid4().hex[:4]}@example.com", "x" * 9, spraying)
        assert answer.status_code == 400
    paused = _attempt(web, user, PASSWORD, spraying)
    assert paused.status_code == 429 and "retry-after" in paused.headers
    assert _attempt(web, user, PASSWORD, _address()).status_code == 303
