"""The schema check every command makes first, without Alembic on its path."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from smartcron.errors import StoreError
from smartcron.store import Store, migrate
from smartcron.store.engine import create_store_engine
from smartcron.store.migrate import MIGRATIONS, current_revision, ensure_current, head_revision
from tests.conftest import drop_server_database, make_database_url


@contextmanager
def schema_at(store: Store, revision: str) -> Iterator[None]:
    """The database claims ``revision`` for the duration (restored after: the database is shared)."""
    real = current_revision(store.engine)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    try:
        yield
    finally:
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": real})


def test_the_head_read_from_the_revision_files_is_alembics() -> None:
    assert head_revision() == ScriptDirectory(str(MIGRATIONS)).get_current_head()


def test_a_current_schema_passes(store: Store) -> None:
    ensure_current(store.engine)


def test_an_older_schema_is_refused_with_the_command_that_upgrades_it(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every revision ever shipped stays in the files: an older one is one the code knows.
    monkeypatch.setattr(migrate, "known_revisions", lambda: frozenset({"0000", head_revision()}))
    with schema_at(store, "0000"), pytest.raises(StoreError, match=r"schema is at 0000.*smartcron db upgrade"):
        ensure_current(store.engine)


def test_a_newer_schema_than_this_node_knows_is_refused_saying_to_upgrade_the_node(store: Store) -> None:
    with schema_at(store, "9999"), pytest.raises(StoreError) as info:
        ensure_current(store.engine)
    assert "schema is at 9999, newer than this smartcron" in info.value.message
    assert "upgrade smartcron here too" in info.value.message


def test_nodes_upgrading_at_once_migrate_once_and_both_succeed(backend: str, tmp_path: Path) -> None:
    url = make_database_url(backend, tmp_path, "_race")
    stores = [Store(create_store_engine(url)) for _ in range(3)]
    try:
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda s: s.upgrade(), stores))  # raises if any of them failed
        assert current_revision(stores[0].engine) == head_revision()
        ensure_current(stores[0].engine)
    finally:
        for one in stores:
            one.close()
        if backend != "sqlite":
            drop_server_database(backend, url.rsplit("/", 1)[1])


def test_a_database_without_the_schema_is_refused_with_the_command_that_creates_it(tmp_path: Path) -> None:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        assert current_revision(engine) is None
        with pytest.raises(StoreError, match=r"has no smartcron schema; run `smartcron init`"):
            ensure_current(engine)
    finally:
        engine.dispose()


def test_checking_the_schema_does_not_import_alembic(sqlite_store: Store) -> None:
    # A fresh interpreter: this one has imported Alembic already (the fixtures migrate with it).
    check = (
        "import sys; from smartcron.store.engine import create_store_engine;"
        "from smartcron.store.migrate import ensure_current;"
        f"ensure_current(create_store_engine({sqlite_store.url!r}));"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)

    assert done.stdout.strip() == "[]"
