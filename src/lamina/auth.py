"""Project API keys: made here, shown once, stored only as SHA-256 hashes.

A key is ``lmn_`` followed by 43 random URL-safe characters (256 bits), so a
plain SHA-256 is the right hash: there is nothing to brute-force. The
resolver caches key -> project for a few seconds to keep ingest off the
store; revoking through the server clears the cache at once.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time

from lamina.errors import Unauthorized
from lamina.store.base import ApiKey, Store

KEY_PREFIX = "lmn_"
_CACHE_SECONDS = 5.0
_CACHE_LIMIT = 10_000


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(store: Store, project_id: str, name: str = "default") -> tuple[str, ApiKey]:
    """A new key for the project: the secret (show it once) and its stored record."""
    key = new_key()
    record = store.create_key(project_id, name, hash_key(key), key[: len(KEY_PREFIX) + 6])
    return key, record


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class KeyResolver:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._cache: dict[str, tuple[str, float]] = {}
        self._names: dict[str, tuple[str | None, float]] = {}  # by the key's hash
        self._lock = threading.Lock()

    def project_for(self, authorization: str | None) -> str:
        """The project the request's key belongs to, or Unauthorized."""
        key = bearer_token(authorization)
        if key is None:
            raise Unauthorized(
                "Missing API key. Send the header 'Authorization: Bearer <project API key>'; "
                "`lamina keys create --project NAME` makes one."
            )
        digest = hash_key(key)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit is not None and hit[1] > now:
            return hit[0]
        project_id = self._store.project_for_key(digest)
        if project_id is None:
            raise Unauthorized(
                "Unknown or revoked API key. Check LAMINA_PROJECT_API_KEY, or make a new key "
                "with `lamina keys create --project NAME`."
            )
        with self._lock:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[digest] = (project_id, now + _CACHE_SECONDS)
        return project_id

    def cached(self, authorization: str | None) -> str | None:
        """The project of the request's key if it is cached (no store read: cheap enough
        for the event loop), else None and :meth:`project_for` finds it."""
        key = bearer_token(authorization)
        if key is None:
            return None
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(hash_key(key))
        return hit[0] if hit is not None and hit[1] > now else None

    def cached_name(self, token: str) -> tuple[bool, str | None]:
        """Whether the name of the key is cached, and it (see :meth:`cached`)."""
        now = time.monotonic()
        with self._lock:
            hit = self._names.get(hash_key(token))
        return (True, hit[0]) if hit is not None and hit[1] > now else (False, None)

    def cached_caller(self, token: str) -> tuple[str, str | None] | None:
        """The project and the name of the key when both are cached, from one hash of
        it (a score request needs both), else None (see :meth:`cached`)."""
        digest, now = hash_key(token), time.monotonic()
        with self._lock:
            project = self._cache.get(digest)
            name = self._names.get(digest)
        if project is None or name is None or project[1] <= now or name[1] <= now:
            return None
        return project[0], name[0]

    def name_for(self, token: str, project_id: str) -> str | None:
        """The name of a key of ``project_id`` (its author on the scores it gives),
        cached as :meth:`project_for` caches its project; None if it has none."""
        digest, now = hash_key(token), time.monotonic()
        with self._lock:
            hit = self._names.get(digest)
        if hit is not None and hit[1] > now:
            return hit[0]
        prefix = token[: len(KEY_PREFIX) + 6]
        keys = self._store.list_keys(project_id)
        names = [key.name for key in keys if key.prefix == prefix and key.revoked_ns is None]
        name = names[0] if names else None
        with self._lock:
            if len(self._names) >= _CACHE_LIMIT:
                self._names.clear()
            self._names[digest] = (name, now + _CACHE_SECONDS)
        return name

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()
            self._names.clear()
