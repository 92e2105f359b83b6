"""Who is asking and may they: sessions, bearer tokens, roles, CSRF and the login rate limit.

A request is authenticated by a bearer API token (scripts) or by the signed session cookie
(people). Every route declares the role it needs through :func:`require`; state-changing requests
that ride on a session must also carry the session's CSRF token (form field ``csrf_token`` or
header ``X-CSRF-Token``) and come from our own origin. Token requests need no CSRF: a browser
never attaches a bearer token on its own.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from fastapi import Request

from smartcron.clock import Clock
from smartcron.domain.enums import Role
from smartcron.store.users import User
from smartcron.web.accounts import token_for

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class LoginRequired(Exception):
    """No valid session or token: pages redirect to /login, the API answers 401."""


class Forbidden(Exception):
    """Authenticated, but not allowed: 403."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: Role
    via: Literal["session", "token"]
    timezone: str | None = None
    """A user's own display zone (``smartcron users timezone``); None: the installation's."""

    @property
    def actor(self) -> str:
        """How the audit log names this principal."""
        return self.name if self.via == "session" else f"token:{self.name}"

    def can(self, needed: Role) -> bool:
        return self.role.allows(needed)


def password_fingerprint(user: User) -> str:
    """Ties a session to the password it was opened with: changing the password ends old sessions."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use (also for the login form, before login)."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or len(token) < 20:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def start_session(request: Request, user: User) -> None:
    request.session.clear()  # a fresh session at login: nothing from before carries over
    request.session.update({"uid": user.id, "pwf": password_fingerprint(user)})
    csrf_token(request)


def end_session(request: Request) -> None:
    request.session.clear()


def principal_of(request: Request) -> Principal | None:
    """The principal behind this request, or None. An invalid bearer token is None too."""
    state = request.app.state
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None
        token = token_for(state.store, value.strip(), now=state.clock.now())
        return Principal(token.name, token.role, "token") if token else None
    uid = request.session.get("uid")
    if not isinstance(uid, int):
        return None
    user = state.store.users.find_by_id(uid)
    if user is None or request.session.get("pwf") != password_fingerprint(user):
        request.session.clear()
        return None
    return Principal(user.username, user.role, "session", user.timezone)


def _own_origins(request: Request) -> set[str]:
    origins = {f"{request.url.scheme}://{request.url.netloc}"}
    base_url: str = request.app.state.settings.web_base_url
    if base_url:
        parts = urlsplit(base_url)
        origins.add(f"{parts.scheme}://{parts.netloc}")
    return origins


def _origin_ok(request: Request) -> bool:
    origins = _own_origins(request)
    origin = request.headers.get("origin")
    if origin is not None:
        return origin in origins
    referer = request.headers.get("referer")
    if referer is not None:
        parts = urlsplit(referer)
        return f"{parts.scheme}://{parts.netloc}" in origins
    return True  # not a browser (browsers send Origin on every POST); the token below still decides


async def check_csrf(request: Request) -> None:
    if not _origin_ok(request):
        raise Forbidden("cross-origin request refused")
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not isinstance(expected, str) or not sent or not secrets.compare_digest(expected, sent):
        raise Forbidden("missing or wrong CSRF token; reload the page and try again")


def require(role: Role) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: the principal, if it has ``role`` (and, for a change, a valid CSRF token)."""

    async def dependency(request: Request) -> Principal:
        principal = principal_of(request)
        if principal is None:
            raise LoginRequired
        if request.method not in SAFE_METHODS and principal.via == "session":
            await check_csrf(request)
        if not principal.can(role):
            raise Forbidden(f"this needs the {role.value} role; you are {principal.role.value}")
        return principal

    dependency.__name__ = f"require_{role.value}"
    return dependency


require_viewer = require(Role.VIEWER)
require_operator = require(Role.OPERATOR)
require_admin = require(Role.ADMIN)


class LoginRateLimiter:
    """At most ``max_failures`` failed logins per (user name, address) in ``window`` seconds.

    In memory, per dashboard process: enough to make guessing slow; a success clears the count.
    """

    def __init__(self, clock: Clock, *, max_failures: int = 5, window: float = 900.0, max_keys: int = 10_000) -> None:
        self._clock = clock
        self._max_failures = max_failures
        self._window = window
        self._max_keys = max_keys
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key, deque())
        while times and now - times[0] >= self._window:
            times.popleft()
        return times

    def retry_after(self, username: str, address: str) -> int | None:
        """Seconds until this pair may try again, or None if it may try now."""
        key = (username.lower(), address)
        with self._lock:
            now = self._clock.monotonic()
            times = self._recent(key, now)
            if len(times) < self._max_failures:
                return None
            return max(1, int(self._window - (now - times[0])) + 1)

    def failed(self, username: str, address: str) -> None:
        key = (username.lower(), address)
        with self._lock:
            now = self._clock.monotonic()
            if key not in self._failures and len(self._failures) >= self._max_keys:
                self._prune(now)
            times = self._recent(key, now)
            times.append(now)
            self._failures[key] = times

    def succeeded(self, username: str, address: str) -> None:
        with self._lock:
            self._failures.pop((username.lower(), address), None)

    def _prune(self, now: float) -> None:
        for key in list(self._failures):
            if not self._recent(key, now):
                del self._failures[key]
        while len(self._failures) >= self._max_keys:  # under a flood, forget the oldest pairs
            del self._failures[next(iter(self._failures))]
