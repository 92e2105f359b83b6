from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from smartcron.store import Store
from smartcron.store.migrate import current_revision, head_revision
from smartcron.store.schema import metadata


def test_migrations_build_exactly_the_schema_the_code_declares(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    # MySQL cannot express partial indexes; the live-row index is a plain one there.
    assert [d for d in diff if "ix_smart_cron_executions_live" not in str(d)] == []


def test_upgrade_is_idempotent_and_reaches_head(store: Store) -> None:
    store.upgrade()
    store.upgrade()
    assert current_revision(store.engine) == head_revision(store.engine)
