"""Fixtures for the dashboard: a SMARTCRON_HOME with a migrated SQLite store, users of every
role, and a logged-in test client per role."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from smartcron.clock import SystemClock
from smartcron.config import Settings
from smartcron.domain.enums import Role
from smartcron.domain.task import TaskSpec
from smartcron.services.setup import initialise
from smartcron.store import Store, open_store
from smartcron.web import accounts as accounts_module
from smartcron.web.accounts import Accounts
from smartcron.web.app import create_app
from tests.conftest import utc

PASSWORD = "correct-horse-battery"
NOW = utc(2026, 3, 1, 12)
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real argon2, with test-sized cost: the production cost (~0.5 s a hash) is the point in
    production and only slowness here."""
    monkeypatch.setattr(accounts_module, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def web_store(settings: Settings) -> Iterator[Store]:
    initialise(settings)
    store = open_store(settings)
    accounts = Accounts(store, actor="test")
    for role in Role:
        accounts.add_user(role.value, password=PASSWORD, role=role, now=NOW)
    yield store
    store.close()


def add_task(store: Store, name: str, **fields: object) -> int:
    spec = TaskSpec(name=name, command=("true",), schedule="*/5 * * * *", **fields)  # type: ignore[arg-type]
    return store.tasks.add(spec, now=NOW, next_run_at=utc(2030, 1, 1)).id


@pytest.fixture
def app(settings: Settings, web_store: Store) -> FastAPI:
    return create_app(settings, web_store, clock=SystemClock())


def csrf_of(html: str) -> str:
    found = CSRF_INPUT.search(html)
    assert found, "page has no CSRF field"
    return found.group(1)


def log_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the session's CSRF token."""
    token = csrf_of(client.get("/login").text)
    answer = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/").text)


@pytest.fixture
def anonymous(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def _client_for(app: FastAPI, role: Role) -> Iterator[tuple[TestClient, str]]:
    with TestClient(app) as client:
        yield client, log_in(client, role.value)


@pytest.fixture
def admin(app: FastAPI) -> Iterator[tuple[TestClient, str]]:
    yield from _client_for(app, Role.ADMIN)


@pytest.fixture
def operator(app: FastAPI) -> Iterator[tuple[TestClient, str]]:
    yield from _client_for(app, Role.OPERATOR)


@pytest.fixture
def viewer(app: FastAPI) -> Iterator[tuple[TestClient, str]]:
    yield from _client_for(app, Role.VIEWER)


@pytest.fixture
def log_dir(settings: Settings) -> Path:
    return Path(settings.log_dir)


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium (never a browser Playwright downloads), one per test."""
    from playwright.sync_api import sync_playwright

    from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
