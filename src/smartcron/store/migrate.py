"""Alembic, driven from code: ``smartcron db upgrade`` and ``smartcron init`` call ``upgrade``.

Every command checks the schema first (``ensure_current``), ``smartcron tick`` every minute; that
check needs no Alembic (whose import costs a tick more than all its queries): the database's
revision is one SELECT on ``alembic_version``, the code's head is read from the revision files.
Alembic itself is imported only to migrate, or when the files are not a single line of revisions.

Several nodes share one database, so a node whose code is older or newer than the schema refuses
to start, with one line saying which to upgrade; and ``upgrade`` takes a database-wide lock
(PostgreSQL advisory lock, MySQL ``GET_LOCK``, a lock file beside a SQLite database) and looks
at the revision again once it holds it, so two nodes upgrading at once run the migration once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Engine

from smartcron.revisions import MIGRATIONS, head_from_files, known_revisions

if TYPE_CHECKING:
    from alembic.config import Config

VERSION_TABLE = "alembic_version"


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


LOCK_NAME = "smartcron-migrate"
LOCK_WAIT_SECONDS = 600


@contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    """Hold the installation's migration lock (see the module docstring)."""
    dialect = engine.dialect.name
    if dialect == "sqlite":
        database = engine.url.database or ""
        if not database or database == ":memory:":
            yield
            return
        import fcntl

        with open(f"{database}.migrate.lock", "a+b") as lock_file:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)
        return
    with engine.connect() as conn:
        if dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_lock(hashtext(:name))"), {"name": LOCK_NAME})
        else:
            got = conn.execute(text("SELECT GET_LOCK(:name, :wait)"), {"name": LOCK_NAME, "wait": LOCK_WAIT_SECONDS})
            if got.scalar() != 1:
                from smartcron.errors import StoreError

                raise StoreError("another node has been migrating the database for 10 minutes; try again later")
        conn.commit()
        try:
            yield
        finally:
            unlock = (
                "SELECT pg_advisory_unlock(hashtext(:name))"
                if dialect == "postgresql"
                else "SELECT RELEASE_LOCK(:name)"
            )
            conn.execute(text(unlock), {"name": LOCK_NAME})
            conn.commit()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate to ``revision`` under the migration lock (nothing to do when already there)."""
    from alembic import command

    with migration_lock(engine):
        if revision == "head" and current_revision(engine) == head_revision(engine):
            return
        command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None when it has no smartcron schema."""
    with engine.connect() as conn:
        if not engine.dialect.has_table(conn, VERSION_TABLE):
            return None
        value = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()  # noqa: S608 - a constant
    return str(value) if value is not None else None


def head_revision(engine: Engine | None = None) -> str | None:
    """The newest revision this code ships (``engine`` is not needed; kept for callers)."""
    head = head_from_files()
    if head is not None:
        return head
    from alembic.script import ScriptDirectory  # branches, or files it must parse itself

    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def ensure_current(engine: Engine) -> None:
    """Refuse to work on a database whose schema is missing or older than this code."""
    from smartcron import __version__
    from smartcron.errors import StoreError

    current = current_revision(engine)
    head = head_revision(engine)
    if current is None:
        raise StoreError(
            f"the database {engine.url.render_as_string(hide_password=True)} has no smartcron schema; "
            "run `smartcron init` (or `smartcron db upgrade`)"
        )
    if current != head and current not in known_revisions():
        raise StoreError(
            f"the database schema is at {current}, newer than this smartcron ({__version__}, schema {head}) "
            "knows: another node upgraded it; upgrade smartcron here too"
        )
    if current != head:
        raise StoreError(
            f"the database schema is at {current}, this smartcron needs {head}; run `smartcron db upgrade`"
        )
