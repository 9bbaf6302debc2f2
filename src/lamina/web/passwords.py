"""Password hashing with Argon2id (argon2-cffi), a memory-hard KDF.

Each hash or check takes 64 MiB for a few tens of milliseconds, on purpose, and
sign-in is open to anyone: 60 bogus sign-ins at once took a server from 179 to
2,087 MiB and slowed every other request. So at most :data:`MAX_AT_ONCE` run at
a time in a process; past that the caller gets Overloaded (429, ``Retry-After``)
at once, without waiting.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from lamina.errors import Overloaded

MAX_AT_ONCE = 4  # Argon2 computations at once: 256 MiB at most

_hasher = PasswordHasher()
_slots = threading.BoundedSemaphore(MAX_AT_ONCE)
_T = TypeVar("_T")


def _limited(work: Callable[[], _T]) -> _T:
    if not _slots.acquire(blocking=False):
        raise Overloaded(
            "Many sign-ins are being checked at this moment. Wait a second and try again.",
            retry_after=1,
        )
    try:
        return work()
    finally:
        _slots.release()


def hash_password(password: str) -> str:
    return _limited(lambda: _hasher.hash(password))


def verify_password(password_hash: str, password: str) -> bool:
    def verify() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return _limited(verify)
