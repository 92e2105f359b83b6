"""Shared fixtures.

``store`` runs a test on every database: SQLite always, PostgreSQL and MariaDB when reachable.
In CI (``CI=true``) an unreachable database fails the run instead of skipping.
Each pytest-xdist worker gets its own database, migrated once; every test starts with empty tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, text
from sqlalchemy.engine import Engine

from smartcron.config import Settings, load_settings
from smartcron.store import Store
from smartcron.store.engine import create_store_engine
from smartcron.store.schema import metadata

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_ADMIN_URL = os.environ.get("SMARTCRON_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
MY_ADMIN_URL = os.environ.get("SMARTCRON_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1:3306/test")
BACKENDS = ("sqlite", "postgresql", "mariadb")


RUN_ID = uuid.uuid4().hex[:8]


def _worker() -> str:
    """Unique per pytest process, so parallel runs (and workers) never share a server database."""
    return f"{RUN_ID}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"


def _unavailable(backend: str, exc: Exception) -> None:
    message = f"{backend} is not reachable ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})"
    if IN_CI:
        pytest.fail(f"{message}; CI needs it", pytrace=False)
    pytest.skip(message)


def _server_database_url(backend: str, name: str) -> str:
    """Create (or recreate) a database named ``name`` on the server; return its URL."""
    admin_url = PG_ADMIN_URL if backend == "postgresql" else MY_ADMIN_URL
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if backend == "postgresql":
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            else:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
                conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
    finally:
        admin.dispose()
    base = admin_url.rsplit("/", 1)[0]
    return f"{base}/{name}"


def make_database_url(backend: str, tmp_dir: Path, suffix: str = "") -> str:
    """A fresh, empty database for ``backend``; skips (or fails in CI) if the server is down."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_dir / f'smartcron{suffix}.db'}"
    name = f"sct_{_worker()}{suffix}".lower()
    try:
        return _server_database_url(backend, name)
    except Exception as exc:
        _unavailable(backend, exc)
        raise


@pytest.fixture(scope="session")
def _migrated_urls() -> Iterator[dict[str, str]]:
    urls: dict[str, str] = {}
    yield urls
    for backend, url in urls.items():
        if backend != "sqlite":
            drop_server_database(backend, url.rsplit("/", 1)[1])


def drop_server_database(backend: str, name: str) -> None:
    admin = create_engine(PG_ADMIN_URL if backend == "postgresql" else MY_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if backend == "postgresql":
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            else:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    finally:
        admin.dispose()


def _migrated_engine(backend: str, cache: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Engine:
    if backend not in cache:
        url = make_database_url(backend, tmp_path_factory.mktemp(f"db-{backend}"))
        engine = create_store_engine(url)
        Store(engine).upgrade()
        engine.dispose()
        cache[backend] = url
    return create_store_engine(cache[backend])


def wipe(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(delete(table))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(backend: str, _migrated_urls: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A migrated, empty store on each of SQLite, PostgreSQL and MariaDB."""
    engine = _migrated_engine(backend, _migrated_urls, tmp_path_factory)
    wipe(engine)
    s = Store(engine)
    yield s
    s.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """A migrated SQLite store, for tests that are not about database differences."""
    s = Store(create_store_engine(f"sqlite:///{tmp_path / 'smartcron.db'}"))
    s.upgrade()
    yield s
    s.close()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated SMARTCRON_HOME with nothing else of the environment leaking in."""
    for key in list(os.environ):
        if key.startswith("SMARTCRON_") and not key.startswith("SMARTCRON_TEST_"):
            monkeypatch.delenv(key)
    path = tmp_path / "home"
    monkeypatch.setenv("SMARTCRON_HOME", str(path))
    monkeypatch.setenv("SMARTCRON_TIMEZONE", "UTC")
    return path


@pytest.fixture
def settings(home: Path) -> Settings:
    return load_settings()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]
