"""Accounts: dashboard users with argon2 password hashes, and API tokens kept as SHA-256 digests.

The CLI (``smartcron users``/``tokens``) and the dashboard both go through :class:`Accounts`, so
the rules (name shape, password length, who did what in the audit log) live once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from smartcron.domain.enums import Role
from smartcron.errors import UserError
from smartcron.store import Store
from smartcron.store.users import ApiToken, User

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
TOKEN_PREFIX = "sct_"  # noqa: S105 - a marker that makes leaked tokens easy to spot, not a secret

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the answer time the same, so the
# login form does not reveal which names exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_username(username: str, *, what: str = "user name") -> str:
    if not USERNAME_PATTERN.match(username):
        raise UserError(f"{what} {username!r}: use letters, digits and _ . @ - (at most 128, no spaces)")
    return username


def check_zone(zone: str) -> str:
    """An IANA zone name this machine knows, or UserError naming the field."""
    try:
        ZoneInfo(zone)
    except (ValueError, ZoneInfoNotFoundError):
        raise UserError(f"timezone {zone[:64]!r}: not an IANA time zone (e.g. Europe/Berlin, UTC)") from None
    return zone


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError(f"password: at most {MAX_PASSWORD_LENGTH} characters")
    return password


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise UserError(f"role {value!r}: expected viewer, operator or admin") from None


class Accounts:
    """User and token management for one actor (a person, or ``cli:<unix user>``)."""

    def __init__(self, store: Store, *, actor: str) -> None:
        self._store = store
        self._actor = actor

    # -- users --------------------------------------------------------------------------------

    def add_user(self, username: str, *, password: str, role: Role, now: datetime) -> User:
        check_username(username)
        check_password(password)
        user = self._store.users.add(username, password_hash=hash_password(password), role=role, now=now)
        self._store.audit.record(self._actor, "user.add", username, {"role": role.value}, now=now)
        return user

    def remove_user(self, username: str, *, now: datetime) -> None:
        self._store.users.remove(username)
        self._store.audit.record(self._actor, "user.remove", username, None, now=now)

    def change_password(self, username: str, *, password: str, now: datetime) -> None:
        check_password(password)
        self._store.users.set_password(username, hash_password(password))
        self._store.audit.record(self._actor, "user.passwd", username, None, now=now)

    def set_timezone(self, username: str, zone: str | None, *, now: datetime) -> None:
        """The zone ``username`` reads the dashboard's times in (None: the installation's)."""
        if zone is not None:
            check_zone(zone)
        before = self._store.users.get(username).timezone
        self._store.users.set_timezone(username, zone)
        change = {"timezone": {"old": before, "new": zone}}
        self._store.audit.record(self._actor, "user.timezone", username, change, now=now)

    def authenticate(self, username: str, password: str, *, now: datetime) -> User | None:
        """The user if the password is right, else None (same work either way)."""
        user = self._store.users.find(username) if USERNAME_PATTERN.match(username) else None
        if user is None:
            password_matches(_DUMMY_HASH, password)
            return None
        if not password_matches(user.password_hash, password):
            return None
        if _hasher.check_needs_rehash(user.password_hash):
            self._store.users.set_password(user.username, hash_password(password))
        self._store.users.record_login(user.id, now=now)
        return user

    # -- tokens -------------------------------------------------------------------------------

    def create_token(self, name: str, *, role: Role, now: datetime) -> tuple[str, ApiToken]:
        """A new token; the plain text is returned once and only its digest is stored."""
        check_username(name, what="token name")
        plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
        record = self._store.tokens.add(name, token_hash=token_digest(plain), role=role, now=now)
        self._store.audit.record(self._actor, "token.create", name, {"role": role.value}, now=now)
        return plain, record

    def revoke_token(self, name: str, *, now: datetime) -> None:
        self._store.tokens.revoke(name)
        self._store.audit.record(self._actor, "token.revoke", name, None, now=now)


def token_for(store: Store, plain: str, *, now: datetime) -> ApiToken | None:
    """The token record a bearer string belongs to, or None."""
    if not plain.startswith(TOKEN_PREFIX) or len(plain) > 200:
        return None
    found = store.tokens.by_hash(token_digest(plain))
    if found is not None and (found.last_used_at is None or (now - found.last_used_at).total_seconds() > 60):
        store.tokens.touch(found.id, now=now)  # once a minute is enough to see which tokens are alive
    return found
