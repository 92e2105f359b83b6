"""The schema check every command makes first, without Alembic on its path."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from smartcron.errors import StoreError
from smartcron.store import Store
from smartcron.store.engine import create_store_engine
from smartcron.store.migrate import MIGRATIONS, current_revision, ensure_current, head_revision


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


def test_an_older_schema_is_refused_with_the_command_that_upgrades_it(store: Store) -> None:
    with schema_at(store, "0000"), pytest.raises(StoreError, match=r"schema is at 0000.*smartcron db upgrade"):
        ensure_current(store.engine)


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
