"""Chores that every node could do but one should: health checks, custom alert rules.

Each period of a chore is a slot, claimed like a task's slot by inserting its row
(``smart_cron_chore_slots``, primary key (chore, slot)): the node whose insert wins does the chore
for that period, the others skip it. Rows older than a day are deleted by retention.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.engine import Engine

from smartcron.store.schema import chore_slots as c
from smartcron.store.slots import insert_ignore


class ChoreRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def claim(self, chore: str, slot: datetime, *, node: str, now: datetime) -> bool:
        """True when this node won the chore's slot (and so does the chore for it)."""
        row = {"chore": chore, "slot": slot, "node": node, "claimed_at": now}
        with self._engine.begin() as conn:
            statement = insert_ignore(conn, c).values(row)
            if conn.dialect.insert_returning:  # psycopg reports no row count for a skipped insert
                return conn.execute(statement.returning(c.c.node)).first() is not None
            return bool(conn.execute(statement).rowcount == 1)

    def delete_before(self, cutoff: datetime) -> int:
        with self._engine.begin() as conn:
            return int(conn.execute(delete(c).where(c.c.slot < cutoff)).rowcount)
