"""Alembic, driven from code: ``smartcron db upgrade`` and ``smartcron init`` call ``upgrade``.

Every command checks the schema first (``ensure_current``), ``smartcron tick`` every minute; that
check needs no Alembic (whose import costs a tick more than all its queries): the database's
revision is one SELECT on ``alembic_version``, the code's head is read from the revision files.
Alembic itself is imported only to migrate, or when the files are not a single line of revisions.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"

_REVISION = re.compile(r"^revision(?:\s*:\s*[^=]+)?\s*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision(?:\s*:\s*[^=]+)?\s*=\s*(.+)$", re.MULTILINE)
_QUOTED = re.compile(r"['\"]([^'\"]+)['\"]")


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

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
    head = _head_from_files()
    if head is not None:
        return head
    from alembic.script import ScriptDirectory  # branches, or files it must parse itself

    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


@cache
def _head_from_files() -> str | None:
    """The one revision no other revision names as its parent; None unless exactly one exists."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision = _REVISION.search(source)
        down = _DOWN_REVISION.search(source)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        parents.update(_QUOTED.findall(down.group(1)))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


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
