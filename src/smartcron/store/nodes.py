"""Heartbeats of runners, ticks and health monitors in ``smart_cron_nodes``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine

from smartcron.store.engine import retry_on_deadlock
from smartcron.store.schema import nodes as n


@dataclass(frozen=True, slots=True)
class Heartbeat:
    name: str
    role: str
    pid: int | None
    started_at: datetime | None
    heartbeat_at: datetime
    version: str | None
    info: dict[str, Any] | None
    drain_requested_at: datetime | None = None
    drain_requested_by: str | None = None


class NodeRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def beat(
        self,
        name: str,
        role: str,
        *,
        now: datetime,
        pid: int | None = None,
        started_at: datetime | None = None,
        version: str | None = None,
        info: dict[str, Any] | None = None,
    ) -> None:
        """Record that ``name`` in ``role`` is alive at ``now`` (insert or update)."""
        values: dict[str, Any] = {"heartbeat_at": now}
        if pid is not None:
            values["pid"] = pid
        if started_at is not None:
            values["started_at"] = started_at
        if version is not None:
            values["version"] = version
        if info is not None:
            values["info"] = info
        retry_on_deadlock(lambda: self._upsert({"name": name, "role": role, **values}, values))

    def _upsert(self, row: dict[str, Any], changes: dict[str, Any]) -> None:
        # One atomic statement: many ticks starting at once all beat for the same (node, role).
        with self._engine.begin() as conn:
            dialect = conn.dialect.name
            # Imported here: only the dialect in use (each costs `smartcron tick` milliseconds).
            if dialect == "mysql":
                from sqlalchemy.dialects import mysql

                conn.execute(mysql.insert(n).values(**row).on_duplicate_key_update(**changes))
            elif dialect == "sqlite":
                from sqlalchemy.dialects import sqlite

                conn.execute(
                    sqlite.insert(n).values(**row).on_conflict_do_update(index_elements=["name", "role"], set_=changes)
                )
            else:
                from sqlalchemy.dialects import postgresql

                conn.execute(
                    postgresql.insert(n)
                    .values(**row)
                    .on_conflict_do_update(index_elements=["name", "role"], set_=changes)
                )

    def get(self, name: str, role: str) -> Heartbeat | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(n).where(n.c.name == name, n.c.role == role)).mappings().first()
        return Heartbeat(**dict(row)) if row else None

    def all(self, role: str | None = None) -> list[Heartbeat]:
        query = select(n).order_by(n.c.heartbeat_at.desc())
        if role:
            query = query.where(n.c.role == role)
        with self._engine.connect() as conn:
            return [Heartbeat(**dict(r)) for r in conn.execute(query).mappings()]

    def latest(self, role: str) -> Heartbeat | None:
        found = self.all(role)
        return found[0] if found else None

    def request_drain(self, name: str, *, by: str, now: datetime) -> int:
        """Ask runner ``name`` to drain (stop claiming, finish what runs, exit); returns how many of
        its rows (runner, tick) took the request (0: no such node)."""
        with self._engine.begin() as conn:
            return int(
                conn.execute(
                    update(n)
                    .where(n.c.name == name, n.c.role.in_(("runner", "tick")))
                    .values(drain_requested_at=now, drain_requested_by=by[:128])
                ).rowcount
            )

    def clear_drain(self, name: str) -> None:
        """A node that starts again is back in service."""
        with self._engine.begin() as conn:
            conn.execute(update(n).where(n.c.name == name).values(drain_requested_at=None, drain_requested_by=None))

    def forget(self, name: str, role: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(n).where(n.c.name == name, n.c.role == role))
