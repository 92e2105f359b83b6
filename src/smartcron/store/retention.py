"""Deleting old history in short transactions.

Every delete here removes at most ``chunk`` rows per call and returns how many it removed; callers
loop until it returns 0. A long delete would hold SQLite's only write lock and stall the runner,
so each chunk is its own transaction (DESIGN 6).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Table, delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.sql import ColumnElement

from smartcron.domain.enums import AlertState
from smartcron.store.engine import write_transaction
from smartcron.store.schema import alerts, notifications

DEFAULT_CHUNK = 2000
FINISHED_NOTIFICATION_STATES = ("sent", "failed")


def delete_chunk(
    engine: Engine, table: Table, condition: ColumnElement[bool], *, order_by: Column[datetime], chunk: int
) -> int:
    """Delete up to ``chunk`` rows of ``table`` matching ``condition``, oldest first."""
    if chunk < 1:
        raise ValueError("chunk must be at least 1")
    key = table.c.id
    with write_transaction(engine) as conn:
        ids = [int(r[0]) for r in conn.execute(select(key).where(condition).order_by(order_by).limit(chunk))]
        if not ids:
            return 0
        return int(conn.execute(delete(table).where(key.in_(ids))).rowcount)


class RetentionRepository:
    """Old alerts and notifications. Executions, health rows and metrics have their own repositories;
    the audit log is never deleted."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def delete_resolved_alerts_before(self, cutoff: datetime, *, chunk: int = DEFAULT_CHUNK) -> int:
        """Alerts resolved before ``cutoff`` (their notifications go with them). Open and
        acknowledged alerts are kept however old they are."""
        condition = (alerts.c.state == AlertState.RESOLVED.value) & (alerts.c.resolved_at < cutoff)
        return delete_chunk(self._engine, alerts, condition, order_by=alerts.c.resolved_at, chunk=chunk)

    def delete_notifications_before(self, cutoff: datetime, *, chunk: int = DEFAULT_CHUNK) -> int:
        """Notifications created before ``cutoff`` that are done (sent, or failed for good);
        pending ones are kept so that nothing waiting to be delivered disappears."""
        condition = notifications.c.state.in_(FINISHED_NOTIFICATION_STATES) & (notifications.c.created_at < cutoff)
        return delete_chunk(self._engine, notifications, condition, order_by=notifications.c.created_at, chunk=chunk)
