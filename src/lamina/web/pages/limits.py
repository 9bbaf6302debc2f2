"""Sign-in rate limiting: failed attempts per account and per client address.

A sliding window per key (an email, or a client IP address): the times of the
failures within the last :attr:`SignInLimits.window` seconds. Once a key has
reached its limit, sign-in for it is refused (429, ``Retry-After``) until the
oldest of those failures leaves the window. Successful sign-ins are never
counted, and a refused attempt is not counted either: the password is not
even checked, so a flood of guesses costs the server no Argon2 work.

Kept in this process's memory (see docs/decisions.md): one server's limits,
forgotten at restart.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

ACCOUNT_LIMIT = 5  # failures per account per window
ADDRESS_LIMIT = 20  # failures per client address per window
WINDOW_SECONDS = 60.0
MAX_KEYS = 100_000  # past this, windows that have run out are dropped


class SignInLimits:
    def __init__(
        self,
        account_limit: int = ACCOUNT_LIMIT,
        address_limit: int = ADDRESS_LIMIT,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.account_limit = account_limit
        self.address_limit = address_limit
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(address: str, email: str) -> tuple[str, str]:
        return f"ip:{address}", f"email:{email.strip().lower()}"

    def retry_after(self, address: str, email: str) -> int:
        """Seconds until this address may try this account again; 0: it may now."""
        now = self._clock()
        ip_key, account_key = self._keys(address, email)
        wait = 0.0
        with self._lock:
            for key, limit in ((ip_key, self.address_limit), (account_key, self.account_limit)):
                times = self._recent(key, now)
                if times is not None and len(times) >= limit:
                    # the limit is lifted when enough of the failures have left the window
                    wait = max(wait, times[len(times) - limit] + self.window - now)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, address: str, email: str) -> None:
        """Count a failed attempt against both the address and the account."""
        now = self._clock()
        with self._lock:
            if len(self._failures) >= MAX_KEYS:
                self._sweep(now)
            for key in self._keys(address, email):
                times = self._failures.setdefault(key, deque())
                times.append(now)
                limit = max(self.account_limit, self.address_limit)
                while len(times) > limit:  # older ones can no longer decide anything
                    times.popleft()

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
