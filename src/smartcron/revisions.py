"""The schema revisions this code ships, read from the migration files without importing Alembic
or SQLAlchemy (a tick with nothing to do checks the schema in a few milliseconds)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

MIGRATIONS = Path(__file__).with_name("store") / "migrations"

_REVISION = re.compile(r"^revision(?:\s*:\s*[^=]+)?\s*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision(?:\s*:\s*[^=]+)?\s*=\s*(.+)$", re.MULTILINE)
_QUOTED = re.compile(r"['\"]([^'\"]+)['\"]")


@cache
def known_revisions() -> frozenset[str]:
    """Every revision this code ships."""
    found = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        revision = _REVISION.search(path.read_text(encoding="utf-8"))
        if revision is not None:
            found.add(revision.group(1))
    return frozenset(found)


@cache
def head_from_files() -> str | None:
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
