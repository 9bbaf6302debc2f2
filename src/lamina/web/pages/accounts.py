"""Who is signed in: signed session cookies, CSRF tokens, sign-out, the first-admin link.

A session cookie holds ``{user id, issued-at, csrf token}``, signed with a
secret made on first start and kept in the data dir's ``cookie.secret`` (0600;
in the store itself when servers share it), and is ``HttpOnly`` and
``SameSite=Lax`` (``Secure`` too when the page was served over HTTPS).
Signing out records the time in the store: every cookie of that user issued
before it stops working, in every browser, even if someone kept a copy.

Every form carries a CSRF token. A signed-in browser's token lives in its
session cookie; before sign-in (the sign-in and first-admin forms) it is a
random value in a separate cookie that the form must repeat. A POST whose
``Origin`` names another host is refused as well.

Policy: every user may see and manage every project. Lamina is self-hosted by
one team; per-project roles can come later without changing this module's
callers (:meth:`Accounts.may_see`).
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from lamina import datadir
from lamina.errors import Forbidden, Overloaded
from lamina.store.base import Project, Store, User
from lamina.web.pages.limits import SignInLimits, unknown_account
from lamina.web.passwords import hash_password, verify_password

SESSION_COOKIE = "lamina_session"
CSRF_COOKIE = "lamina_csrf"
SESSION_SECONDS = 14 * 24 * 3600
SECRET_SETTING = "web.cookie_secret"
SIGNED_OUT_SETTING = "web.signed_out."
_CACHE_SECONDS = 5.0


_SETTLE_SECONDS = 0.5


def cookie_secret(store: Store, data_dir: Path | None = None) -> str:
    """The secret that signs session cookies: one per store, made by the first server.

    A store only this server opens (DuckDB) keeps it out of the store, in the data
    dir's cookie.secret, readable by its owner only: whoever copies the store file
    must not be able to sign cookies. A secret an earlier release kept in such a store
    is removed from it, and a new one made (every browser signs in again once).

    A shared store (ClickHouse) keeps it, so that every server signs alike. Servers
    that start at the same moment on a new shared store each write a candidate; the
    store keeps one of them (the last written). Each server waits for the others'
    candidates to land, then reads back the one that holds, so all sign with the
    same secret. A server that still read too early learns the winner from the first
    cookie it cannot verify (``_secret_changed``).
    """
    if data_dir is not None and not store.shared:
        if store.get_setting(SECRET_SETTING):
            store.set_setting(SECRET_SETTING, "")
            (data_dir / datadir.COOKIE_SECRET).unlink(missing_ok=True)
        return datadir.secret(data_dir, datadir.COOKIE_SECRET)
    secret = store.get_setting(SECRET_SETTING)
    if secret:
        return secret
    store.set_setting(SECRET_SETTING, secrets.token_urlsafe(48))
    if store.shared:  # other processes may be writing theirs
        time.sleep(_SETTLE_SECONDS)
    winner = store.get_setting(SECRET_SETTING)
    if not winner:
        raise RuntimeError("the store lost the cookie secret it was just given")
    return winner


@dataclass(frozen=True, slots=True)
class Visitor:
    """A signed-in browser: its user and its CSRF token."""

    user: User
    csrf: str


class Accounts:
    def __init__(self, store: Store, data_dir: Path | None = None) -> None:
        self.store = store
        self._secret = cookie_secret(store, data_dir)
        self._cookies = URLSafeTimedSerializer(self._secret, salt="lamina.session")
        self._secret_read = time.monotonic()
        # user id -> (valid until, user or None, signed out at ns)
        self._cache: dict[str, tuple[float, User | None, int]] = {}
        self._dummy_hash: str | None = None
        self.setup_token: str | None = None
        self.limits = SignInLimits()
        if not store.list_users():
            self.setup_token = secrets.token_urlsafe(24)

    # -- the first admin ------------------------------------------------------------
    def needs_setup(self) -> bool:
        return self.setup_token is not None and not self.store.list_users()

    def setup_token_ok(self, token: str) -> bool:
        expected = self.setup_token
        return expected is not None and hmac.compare_digest(token.encode(), expected.encode())

    def setup_done(self) -> None:
        self.setup_token = None

    # -- passwords ---------------------------------------------------------------------
    async def check_password(self, email: str, password: str, address: str) -> User | None:
        """The user with this email (or user id) and password, or None; the same work
        whether or not the user exists. Overloaded (429) when sign-in to this account is
        paused for this client address (:mod:`lamina.web.pages.limits`), or when too many
        passwords are being checked at once (:mod:`lamina.web.passwords`)."""

        def check() -> User | None:
            user = self.store.find_user(email.strip()) if email.strip() else None
            account = user.id if user is not None else unknown_account(email)
            attempt = self.limits.begin(address, account)  # a failure until shown otherwise
            try:
                right = verify_password(
                    user.password_hash if user is not None else self._dummy(), password
                )
            except Overloaded:
                self.limits.forget(attempt)  # never checked
                raise
            if not right or user is None:
                return None
            self.limits.forget(attempt)
            return user

        return await run_in_threadpool(check)

    def _dummy(self) -> str:
        """A hash to check a password against when no user has the email."""
        if self._dummy_hash is None:
            self._dummy_hash = hash_password(secrets.token_urlsafe(16))
        return self._dummy_hash

    # -- session cookies ------------------------------------------------------------------
    def sign_in(self, response: Response, request: Request, user: User) -> None:
        payload = {"u": user.id, "t": time.time_ns(), "c": secrets.token_urlsafe(24)}
        response.set_cookie(
            SESSION_COOKIE,
            self._cookies.dumps(payload),
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )

    async def sign_out(self, response: Response, visitor: Visitor | None) -> None:
        if visitor is not None:
            user_id = visitor.user.id
            now = time.time_ns()
            await run_in_threadpool(self.store.set_setting, SIGNED_OUT_SETTING + user_id, str(now))
            self._cache[user_id] = (time.monotonic() + _CACHE_SECONDS, visitor.user, now)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")

    async def visitor(self, request: Request) -> Visitor | None:
        """The signed-in browser behind this request, or None."""
        cached: Visitor | None = request.scope.get("lamina.visitor")
        if cached is not None:
            return cached
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw:
            return None
        try:
            try:
                payload: Any = self._cookies.loads(raw, max_age=SESSION_SECONDS)
            except BadSignature:
                if not await run_in_threadpool(self._secret_changed):
                    raise
                payload = self._cookies.loads(raw, max_age=SESSION_SECONDS)
            user_id, issued_ns, csrf = str(payload["u"]), int(payload["t"]), str(payload["c"])
        except (BadSignature, KeyError, TypeError, ValueError):
            return None
        user, signed_out_ns = await self._user(user_id)
        if user is None or issued_ns <= signed_out_ns:
            return None
        visitor = Visitor(user, csrf)
        # The JSON API reads scope["lamina.visitor"].csrf to check a browser's DELETEs.
        request.scope["lamina.visitor"] = visitor
        return visitor

    def _secret_changed(self) -> bool:
        """Read the store's cookie secret again (at most once a second) after a cookie
        did not verify: this server may have read it before another server that
        started at the same moment wrote the one that holds. Cookies signed with
        the old secret stay valid here."""
        now = time.monotonic()
        if now - self._secret_read < 1.0:
            return False
        self._secret_read = now
        current = self.store.get_setting(SECRET_SETTING)
        if not current or current == self._secret:
            return False
        self._cookies = URLSafeTimedSerializer([self._secret, current], salt="lamina.session")
        self._secret = current
        return True

    async def _user(self, user_id: str) -> tuple[User | None, int]:
        now = time.monotonic()
        hit = self._cache.get(user_id)
        if hit is not None and hit[0] > now:
            return hit[1], hit[2]

        def load() -> tuple[User | None, int]:
            user = self.store.find_user(user_id)
            marker = self.store.get_setting(SIGNED_OUT_SETTING + user_id)
            return user, int(marker) if marker and marker.isdigit() else 0

        user, signed_out = await run_in_threadpool(load)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[user_id] = (now + _CACHE_SECONDS, user, signed_out)
        return user, signed_out

    # -- who may see what ---------------------------------------------------------------------
    def may_see(self, user: User, project: Project) -> bool:
        return True

    # -- CSRF -----------------------------------------------------------------------------------
    def form_token(self, request: Request, visitor: Visitor | None) -> str:
        """The token this browser's forms carry (set the cookie with :meth:`keep_token`)."""
        if visitor is not None:
            return visitor.csrf
        token = request.cookies.get(CSRF_COOKIE, "")
        if len(token) < 20:
            token = request.scope.setdefault("lamina.csrf", secrets.token_urlsafe(24))
        return token

    def keep_token(self, request: Request, response: Response, token: str) -> None:
        """Set the before-sign-in CSRF cookie when the browser has not got it yet."""
        if request.cookies.get(CSRF_COOKIE) != token:
            response.set_cookie(
                CSRF_COOKIE,
                token,
                max_age=SESSION_SECONDS,
                httponly=True,
                samesite="lax",
                secure=request.url.scheme == "https",
                path="/",
            )

    async def checked_form(self, request: Request, visitor: Visitor | None) -> FormData:
        """The POSTed form, once its origin and CSRF token are right; else Forbidden."""
        origin = request.headers.get("origin")
        if origin and origin != "null":
            host = request.headers.get("host", "")
            if urlsplit(origin).netloc.lower() != host.lower():
                raise Forbidden("This form was sent from another site, so it was refused.")
        form = await request.form()
        sent = form.get("csrf")
        expected = visitor.csrf if visitor is not None else request.cookies.get(CSRF_COOKIE, "")
        if (
            not isinstance(sent, str)
            or not expected
            or not hmac.compare_digest(sent.encode(), expected.encode())
        ):
            raise Forbidden(
                "This form has expired (its security token did not match). "
                "Go back, reload the page and send it again."
            )
        return form
