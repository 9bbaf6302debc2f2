"""Sign-in rate limiting: failures per account and client address, per address and per
account, a sliding window, 429 with Retry-After on the rendered sign-in page; other
accounts, and the same account from another address, are not blocked.

The races, the spellings of one account and real client addresses are in
tests/reliability/test_unauthenticated.py."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from lamina.errors import Overloaded
from lamina.web.pages import limits as limits_module
from lamina.web.pages.limits import SignInLimits, address_key, unknown_account
from tests.web.conftest import PASSWORD, Seeded, create_user


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _fail(limits: SignInLimits, address: str, account: str) -> None:
    limits.begin(address, account)  # counted as failed until forgotten


def test_the_window_slides() -> None:
    clock = Clock()
    limits = SignInLimits(pair_limit=3, address_limit=5, account_limit=6, window=60, clock=clock)
    for second in (0, 10, 20):
        clock.now = 1000 + second
        assert limits.retry_after("10.0.0.1", "usr_ana") == 0
        _fail(limits, "10.0.0.1", "usr_ana")
    assert limits.retry_after("10.0.0.1", "usr_ana") == 40  # the first leaves at 60
    with pytest.raises(Overloaded) as paused:
        limits.begin("10.0.0.1", "usr_ana")
    assert paused.value.retry_after == 40 and "try again in 40 seconds" in paused.value.message
    assert limits.retry_after("10.0.0.2", "usr_ana") == 0  # the account, from elsewhere
    assert limits.retry_after("10.0.0.1", "usr_bo") == 0  # another account
    clock.now = 1059.5
    assert limits.retry_after("10.0.0.1", "usr_ana") == 1
    clock.now = 1060
    assert limits.retry_after("10.0.0.1", "usr_ana") == 0  # one failure has left
    _fail(limits, "10.0.0.1", "usr_ana")
    assert limits.retry_after("10.0.0.1", "usr_ana") == 10  # the next leaves at 70

    # the address limit counts failures for any account from that address
    for n in range(5):
        _fail(limits, "10.0.0.9", f"usr_{n}")
    assert limits.retry_after("10.0.0.9", "usr_carol") == 60
    assert limits.retry_after("10.0.0.8", "usr_carol") == 0
    clock.now += 61
    assert limits.retry_after("10.0.0.9", "usr_carol") == 0
    assert not limits._failures or all(limits._failures.values())


def test_the_account_limit_needs_more_addresses_than_one() -> None:
    clock = Clock()
    limits = SignInLimits(pair_limit=2, address_limit=10, account_limit=5, window=60, clock=clock)
    _fail(limits, "10.0.0.1", "usr_dan")  # one address: stopped by its own limit,
    _fail(limits, "10.0.0.1", "usr_dan")  # long before the account's
    assert limits.retry_after("10.0.0.1", "usr_dan") == 60
    assert limits.retry_after("10.0.0.7", "usr_dan") == 0
    clock.now += 1
    _fail(limits, "10.0.0.2", "usr_dan")
    _fail(limits, "10.0.0.2", "usr_dan")
    assert limits.retry_after("10.0.0.7", "usr_dan") == 0  # 4 failures from 2 addresses
    clock.now += 1
    _fail(limits, "10.0.0.3", "usr_dan")  # the 5th, from a 3rd address
    assert limits.retry_after("10.0.0.7", "usr_dan") == 58  # the account pauses for all


def test_an_attempt_forgotten_is_not_counted() -> None:
    limits = SignInLimits(pair_limit=2, clock=Clock())
    for _ in range(5):  # right passwords, or passwords never checked
        limits.forget(limits.begin("10.0.0.1", "usr_eve"))
    assert limits.retry_after("10.0.0.1", "usr_eve") == 0 and not limits._failures
    _fail(limits, "10.0.0.1", "usr_eve")
    _fail(limits, "10.0.0.1", "usr_eve")
    assert limits.retry_after("10.0.0.1", "usr_eve") == 60


def test_keys() -> None:
    assert unknown_account(" vİctim@Example.COM ") == unknown_account("victim@example.com")
    assert unknown_account("STRASSE@x") == unknown_account("straße@x")
    assert unknown_account("ana@x") != unknown_account("ann@x")
    assert address_key("2001:db8::1") == address_key("2001:db8::ffff:2") == "2001:db8::/64"
    assert address_key("::ffff:10.0.0.1") == "10.0.0.1"
    assert address_key("10.0.0.1") == "10.0.0.1" and address_key("") == ""


def test_memory_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits_module, "MAX_KEYS", 50)
    limits = SignInLimits(clock=Clock())
    for n in range(200):  # all within one window: each failure adds three keys
        _fail(limits, f"10.1.0.{n}", f"usr_{n}")
        assert len(limits._failures) <= 53


def _attempt(web: Seeded, email: str, password: str, address: str) -> httpx.Response:
    """One sign-in from ``address``, a loopback address the client's socket is bound to."""
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(transport=transport, base_url=web.url, timeout=30) as browser:
        form = browser.get("/signin")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token is not None
        return browser.post(
            "/signin", data={"email": email, "password": password, "csrf": token[1]}
        )


def _address() -> str:
    raw = uuid.uuid4().bytes
    return f"127.{raw[0]}.{raw[1]}.{max(raw[2], 2)}"


def test_five_failures_pause_that_account_from_that_address_only(web: Seeded) -> None:
    victim = f"victim-{uuid.uuid4().hex[:6]}@example.com"
    bystander = f"bystander-{uuid.uuid4().hex[:6]}@example.com"
    create_user(web.server, victim)
    create_user(web.server, bystander)
    attacker = _address()
    for _ in range(5):
        wrong = _attempt(web, victim, "not the password", attacker)
        assert wrong.status_code == 400 and "do not match" in wrong.text
    # the sixth from that address, even with the right password, waits
    paused = _attempt(web, victim, PASSWORD, attacker)
    assert paused.status_code == 429
    assert 1 <= int(paused.headers["retry-after"]) <= 60
    assert "Too many failed sign-in attempts" in paused.text
    assert re.search(r"try again in \d+ seconds?\.", paused.text)
    assert paused.headers["content-type"].startswith("text/html")
    assert 'role="alert"' in paused.text and "<h1>Sign in</h1>" in paused.text
    assert "lamina_session" not in paused.cookies
    # the owner, from their own address, is not locked out by someone else's guesses
    assert _attempt(web, victim, PASSWORD, _address()).status_code == 303
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
