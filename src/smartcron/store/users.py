"""Dashboard users (``smart_cron_users``) and API tokens (``smart_cron_api_tokens``).

The repositories store hashes only: passwords arrive already hashed (argon2, by
``smartcron.web.accounts``) and tokens as their SHA-256 digest, so a copy of the database gives
no one a way in. Names are unique; adding a taken name raises ``ConflictError`` (a ``UserError``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Engine, RowMapping
from sqlalchemy.exc import IntegrityError

from smartcron.domain.enums import Role
from smartcron.errors import ConflictError, NotFoundError
from smartcron.store.schema import api_tokens as tok
from smartcron.store.schema import users as u


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    password_hash: str
    role: Role
    created_at: datetime
    last_login_at: datetime | None
    timezone: str | None = None
    """The zone this user reads the dashboard's times in; None: the installation's display zone."""


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: int
    name: str
    token_hash: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None


def _user(row: RowMapping) -> User:
    return User(
        id=int(row["id"]),
        username=row["username"],
        password_hash=row["password_hash"],
        role=Role(row["role"]),
        created_at=row["created_at"],
        last_login_at=row["last_login_at"],
        timezone=row["timezone"],
    )


def _token(row: RowMapping) -> ApiToken:
    return ApiToken(
        id=int(row["id"]),
        name=row["name"],
        token_hash=row["token_hash"],
        role=Role(row["role"]),
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
    )


class UserRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, username: str, *, password_hash: str, role: Role, now: datetime) -> User:
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(u).values(username=username, password_hash=password_hash, role=role.value, created_at=now)
                )
        except IntegrityError:
            raise ConflictError(f"user {username!r} already exists") from None
        return self.get(username)

    def get(self, username: str) -> User:
        found = self.find(username)
        if found is None:
            raise NotFoundError(f"no user named {username!r}")
        return found

    def find(self, username: str) -> User | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(u).where(u.c.username == username)).mappings().first()
        return _user(row) if row else None

    def find_by_id(self, user_id: int) -> User | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(u).where(u.c.id == user_id)).mappings().first()
        return _user(row) if row else None

    def list(self) -> list[User]:
        with self._engine.connect() as conn:
            return [_user(r) for r in conn.execute(select(u).order_by(u.c.username)).mappings()]

    def count(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(u)).scalar_one())

    def set_password(self, username: str, password_hash: str) -> None:
        with self._engine.begin() as conn:
            if (
                conn.execute(update(u).where(u.c.username == username).values(password_hash=password_hash)).rowcount
                == 0
            ):
                raise NotFoundError(f"no user named {username!r}")

    def set_role(self, username: str, role: Role) -> None:
        with self._engine.begin() as conn:
            if conn.execute(update(u).where(u.c.username == username).values(role=role.value)).rowcount == 0:
                raise NotFoundError(f"no user named {username!r}")

    def set_timezone(self, username: str, zone: str | None) -> None:
        with self._engine.begin() as conn:
            if conn.execute(update(u).where(u.c.username == username).values(timezone=zone)).rowcount == 0:
                raise NotFoundError(f"no user named {username!r}")

    def record_login(self, user_id: int, *, now: datetime) -> None:
        with self._engine.begin() as conn:
            conn.execute(update(u).where(u.c.id == user_id).values(last_login_at=now))

    def remove(self, username: str) -> None:
        with self._engine.begin() as conn:
            if conn.execute(delete(u).where(u.c.username == username)).rowcount == 0:
                raise NotFoundError(f"no user named {username!r}")


class TokenRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, name: str, *, token_hash: str, role: Role, now: datetime) -> ApiToken:
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(tok).values(name=name, token_hash=token_hash, role=role.value, created_at=now))
        except IntegrityError:
            raise ConflictError(f"token {name!r} already exists") from None
        with self._engine.connect() as conn:
            row = conn.execute(select(tok).where(tok.c.name == name)).mappings().one()
        return _token(row)

    def by_hash(self, token_hash: str) -> ApiToken | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(tok).where(tok.c.token_hash == token_hash)).mappings().first()
        return _token(row) if row else None

    def touch(self, token_id: int, *, now: datetime) -> None:
        with self._engine.begin() as conn:
            conn.execute(update(tok).where(tok.c.id == token_id).values(last_used_at=now))

    def list(self) -> list[ApiToken]:
        with self._engine.connect() as conn:
            return [_token(r) for r in conn.execute(select(tok).order_by(tok.c.name)).mappings()]

    def revoke(self, name: str) -> None:
        with self._engine.begin() as conn:
            if conn.execute(delete(tok).where(tok.c.name == name)).rowcount == 0:
                raise NotFoundError(f"no token named {name!r}")
