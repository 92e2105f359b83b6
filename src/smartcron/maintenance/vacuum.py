"""Weekly database upkeep (DESIGN 6), each database its own way.

* SQLite: ``ANALYZE``, ``VACUUM`` (gives the space of deleted rows back to the file system), and
  ``PRAGMA wal_checkpoint(TRUNCATE)`` (folds the write-ahead log into the database and empties it).
* PostgreSQL: ``VACUUM (ANALYZE)`` per table, outside a transaction as it must be.
* MySQL/MariaDB: ``ANALYZE TABLE`` and ``OPTIMIZE TABLE`` per table (InnoDB rebuilds the table).

Table by table where the database allows it, so a progress bar moves and the runner's writes only
wait for one table at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from smartcron.store import Store
from smartcron.store.schema import metadata

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
TABLES = [table.name for table in metadata.sorted_tables]


@dataclass(slots=True)
class VacuumReport:
    dialect: str
    statements: list[str] = field(default_factory=list)
    size_before: int | None = None
    size_after: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "dialect": self.dialect,
            "statements": self.statements,
            "size_before": self.size_before,
            "size_after": self.size_after,
        }


def vacuum_steps(dialect: str) -> list[str]:
    """The statements upkeep runs on ``dialect``, in order."""
    if dialect == "sqlite":
        return ["ANALYZE", "VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"]
    if dialect == "postgresql":
        return [f'VACUUM (ANALYZE) "{name}"' for name in TABLES]
    return [f"{verb} TABLE `{name}`" for name in TABLES for verb in ("ANALYZE", "OPTIMIZE")]


def vacuum_database(store: Store, *, progress: Progress | None = None) -> VacuumReport:
    report = VacuumReport(store.dialect, size_before=store.health.database_size_bytes())
    steps = vacuum_steps(store.dialect)
    if store.dialect == "sqlite":
        # The driver connection directly: VACUUM refuses to run inside a transaction, and the
        # engine opens one around every statement it runs.
        raw = store.engine.raw_connection()
        try:
            for statement in steps:
                raw.cursor().execute(statement).fetchall()
                _done(report, statement, progress)
        finally:
            raw.close()
    else:
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for statement in steps:
                result = conn.execute(text(statement))
                if result.returns_rows:  # MySQL reports each table's outcome as rows
                    result.fetchall()
                _done(report, statement, progress)
    report.size_after = store.health.database_size_bytes()
    log.info(
        "database upkeep: %d statements, %s -> %s bytes",
        len(report.statements),
        report.size_before,
        report.size_after,
        extra={"action": "vacuum"},
    )
    return report


def _done(report: VacuumReport, statement: str, progress: Progress | None) -> None:
    report.statements.append(statement)
    if progress:
        progress(statement)
