"""Users and API tokens behave the same on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import pytest

from smartcron.domain.enums import Role
from smartcron.errors import ConflictError, NotFoundError
from smartcron.store import Store
from tests.conftest import utc

NOW = utc(2026, 3, 1, 12)


def test_a_user_is_added_found_listed_and_removed(store: Store) -> None:
    added = store.users.add("alice", password_hash="$argon2id$x", role=Role.OPERATOR, now=NOW)
    assert (added.username, added.role, added.created_at, added.last_login_at) == ("alice", Role.OPERATOR, NOW, None)
    assert store.users.find_by_id(added.id) == added
    store.users.add("bob", password_hash="$argon2id$y", role=Role.VIEWER, now=NOW)
    assert [u.username for u in store.users.list()] == ["alice", "bob"]
    assert store.users.count() == 2
    store.users.remove("alice")
    assert store.users.find("alice") is None
    with pytest.raises(NotFoundError):
        store.users.remove("alice")


def test_a_taken_user_name_is_refused(store: Store) -> None:
    store.users.add("alice", password_hash="h", role=Role.VIEWER, now=NOW)
    with pytest.raises(ConflictError, match="already exists"):
        store.users.add("alice", password_hash="h2", role=Role.ADMIN, now=NOW)
    assert store.users.get("alice").role is Role.VIEWER


def test_password_role_and_last_login_are_updated(store: Store) -> None:
    user = store.users.add("alice", password_hash="old", role=Role.VIEWER, now=NOW)
    store.users.set_password("alice", "new")
    store.users.set_role("alice", Role.ADMIN)
    store.users.record_login(user.id, now=utc(2026, 3, 2))
    found = store.users.get("alice")
    assert (found.password_hash, found.role, found.last_login_at) == ("new", Role.ADMIN, utc(2026, 3, 2))
    with pytest.raises(NotFoundError):
        store.users.set_password("nobody", "x")


def test_tokens_are_found_by_digest_touched_and_revoked(store: Store) -> None:
    token = store.tokens.add("ci", token_hash="ab" * 32, role=Role.OPERATOR, now=NOW)
    assert store.tokens.by_hash("ab" * 32) == token
    assert store.tokens.by_hash("cd" * 32) is None
    store.tokens.touch(token.id, now=utc(2026, 3, 3))
    assert store.tokens.list()[0].last_used_at == utc(2026, 3, 3)
    with pytest.raises(ConflictError, match="already exists"):
        store.tokens.add("ci", token_hash="ef" * 32, role=Role.VIEWER, now=NOW)
    store.tokens.revoke("ci")
    assert store.tokens.list() == []
    with pytest.raises(NotFoundError):
        store.tokens.revoke("ci")
