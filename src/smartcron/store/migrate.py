"""Alembic, driven from code: ``smartcron db upgrade`` and ``smartcron init`` call ``upgrade``."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def ensure_current(engine: Engine) -> None:
    """Refuse to work on a database whose schema is missing or older than this code."""
    from smartcron.errors import StoreError

    current = current_revision(engine)
    head = head_revision(engine)
    if current is None:
        raise StoreError(
            f"the database {engine.url.render_as_string(hide_password=True)} has no smartcron schema; "
            "run `smartcron init` (or `smartcron db upgrade`)"
        )
    if current != head:
        raise StoreError(
            f"the database schema is at {current}, this smartcron needs {head}; run `smartcron db upgrade`"
        )
