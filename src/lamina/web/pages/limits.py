"""Sign-in rate limiting: failed attempts per account and client address, per address,
and per account.

A sliding window per key: the times of the failures within the last
:attr:`SignInLimits.window` seconds. Three keys count each failure:

- the account *and* the client address: 5 a minute. The limit that stops one
  guesser, and it pauses only that guesser: the account's owner, signing in from
  another address, is not locked out by someone else's wrong guesses.
- the client address, whatever the account: 20 a minute (one address spraying
  guesses over many accounts).
- the account, from every address together: 30 a minute. Looser than one address
  can ever reach alone (5), so it takes guessers at six or more addresses to
  pause the owner, and it bounds how fast a distributed guesser can go.

An attempt is counted *before* its password is checked (:meth:`SignInLimits.begin`)
and the count withdrawn if the password was right or was never checked
(:meth:`SignInLimits.forget`): so many attempts sent at once cannot all slip in
while the first ones are still being checked. Once a key has reached its limit,
sign-in for it is refused (429, ``Retry-After``) until the oldest of those
failures leaves the window; the password is not checked, so a flood of guesses
costs the server no Argon2 work.

The account is the user the sign-in form names, by email in any spelling the
store matches or by user id (the caller resolves it); an email that names no user
is keyed on its folded spelling (:func:`unknown_account`).

Kept in this process's memory (see docs/decisions.md): one server's limits,
forgotten at restart.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from lamina.errors import Overloaded

PAIR_LIMIT = 5  # failures per account and client address per window
ADDRESS_LIMIT = 20  # failures per client address per window
ACCOUNT_LIMIT = 30  # failures per account, from every address, per window
WINDOW_SECONDS = 60.0
MAX_KEYS = 100_000  # past this, windows that have run out are dropped


def unknown_account(email: str) -> str:
    """The account key for an email that names no user: case folded and accents
    dropped, so the spellings a store's ``lower()`` might take for one address ("İ"
    for "i", "ß" and "ss") share one budget, as they do for a real account."""
    folded = unicodedata.normalize("NFKD", email.strip().casefold())
    return "email:" + "".join(c for c in folded if not unicodedata.combining(c))


def address_key(address: str) -> str:
    """The client address as counted: an IPv6 address by its /64 (one machine usually
    holds a whole /64), an IPv4-mapped one as IPv4."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One sign-in attempt, counted as a failure until :meth:`SignInLimits.forget`."""

    keys: tuple[str, ...]
    at: float


class SignInLimits:
    def __init__(
        self,
        pair_limit: int = PAIR_LIMIT,
        address_limit: int = ADDRESS_LIMIT,
        account_limit: int = ACCOUNT_LIMIT,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window = window
        self._limits = {"pair": pair_limit, "ip": address_limit, "account": account_limit}
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(address: str, account: str) -> tuple[str, str, str]:
        where = address_key(address)
        return f"pair:{account}|{where}", f"ip:{where}", f"account:{account}"

    def _limit(self, key: str) -> int:
        return self._limits[key.split(":", 1)[0]]

    def retry_after(self, address: str, account: str) -> int:
        """Seconds until this address may try this account again; 0: it may now."""
        with self._lock:
            return self._wait(self._keys(address, account), self._clock())

    def begin(self, address: str, account: str) -> Attempt:
        """Count an attempt as failed before its password is checked; Overloaded (429)
        when this address may not try this account now."""
        now = self._clock()
        keys = self._keys(address, account)
        with self._lock:
            wait = self._wait(keys, now)
            if wait:
                raise Overloaded(
                    "Too many failed sign-in attempts. For your safety, signing in is "
                    f"paused: try again in {_seconds(wait)}.",
                    retry_after=wait,
                )
            if len(self._failures) >= MAX_KEYS:
                self._sweep(now)
            for key in keys:
                times = self._failures.setdefault(key, deque())
                times.append(now)
                while len(times) > self._limit(key):  # older ones can decide nothing
                    times.popleft()
        return Attempt(keys, now)

    def forget(self, attempt: Attempt) -> None:
        """Withdraw an attempt: its password was right, or was never checked."""
        with self._lock:
            for key in attempt.keys:
                times = self._failures.get(key)
                if times is not None and attempt.at in times:
                    times.remove(attempt.at)
                    if not times:
                        del self._failures[key]

    def _wait(self, keys: tuple[str, ...], now: float) -> int:
        wait = 0.0
        for key in keys:
            times = self._recent(key, now)
            limit = self._limit(key)
            if times is not None and len(times) >= limit:
                # the limit is lifted when enough of the failures have left the window
                wait = max(wait, times[len(times) - limit] + self.window - now)
        return math.ceil(wait) if wait > 0 else 0

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def _sweep(self, now: float) -> None:
        for key in list(self._failures):
            self._recent(key, now)
        if len(self._failures) >= MAX_KEYS:  # a flood of distinct keys: start afresh
            self._failures.clear()


def _seconds(wait: int) -> str:
    if wait >= 90:
        return f"{round(wait / 60)} minutes"
    return "1 second" if wait == 1 else f"{wait} seconds"
