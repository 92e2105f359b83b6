"""Who changed what, in ``smart_cron_audit_log``: task edits, pauses, applies, acknowledgements.

Entries are only ever added; they are read newest first and paged by id, which grows with time.
"""

from __future__ import annotations

from builtins import list as _list
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection, Engine, RowMapping

from smartcron.store.schema import audit_log as a

MAX_ACTOR = 128
MAX_ACTION = 64
MAX_TARGET = 255


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    details: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "details": self.details,
        }


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One entry to write; ``record_many`` writes several in one transaction."""

    actor: str
    action: str
    target: str | None
    details: dict[str, Any] | None = None


def insert_records(conn: Connection, records: Sequence[AuditRecord], *, now: datetime) -> None:
    """Write entries on ``conn``, inside the caller's transaction (so a change and its entry commit together)."""
    if not records:
        return
    rows = [
        {
            "at": now,
            # Clipped rather than refused: an audit entry must never make the change it records fail.
            "actor": record.actor[:MAX_ACTOR],
            "action": record.action[:MAX_ACTION],
            "target": record.target[:MAX_TARGET] if record.target is not None else None,
            "details": record.details or None,
        }
        for record in records
    ]
    conn.execute(insert(a), rows)


class AuditRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(
        self, actor: str, action: str, target: str | None, details: dict[str, Any] | None, *, now: datetime
    ) -> None:
        self.record_many([AuditRecord(actor, action, target, details)], now=now)

    def record_many(self, records: Sequence[AuditRecord], *, now: datetime) -> None:
        if records:
            with self._engine.begin() as conn:
                insert_records(conn, records, now=now)

    def list(self, limit: int = 100, before_id: int | None = None, *, target: str | None = None) -> _list[AuditEntry]:
        """Newest first; ``before_id`` pages back, ``target`` narrows to one object (a task name)."""
        query = select(a).order_by(a.c.id.desc()).limit(max(0, limit))
        if before_id is not None:
            query = query.where(a.c.id < before_id)
        if target is not None:
            query = query.where(a.c.target == target)
        with self._engine.connect() as conn:
            return [_entry(row) for row in conn.execute(query).mappings()]


def _entry(row: RowMapping) -> AuditEntry:
    return AuditEntry(
        id=int(row["id"]),
        at=row["at"],
        actor=row["actor"],
        action=row["action"],
        target=row["target"],
        details=row["details"],
    )
