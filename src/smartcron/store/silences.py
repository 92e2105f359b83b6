"""Silences in ``smart_cron_silences`` (see :mod:`smartcron.domain.silences`); a silence goes with
its task or rule (foreign keys cascade)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select
from sqlalchemy.engine import Engine, RowMapping
from sqlalchemy.sql import ColumnElement, Select

from smartcron.domain.alert_rules import rule_alert_kind
from smartcron.domain.silences import Silence
from smartcron.errors import NotFoundError
from smartcron.store.schema import alert_rules as r
from smartcron.store.schema import alerts as a
from smartcron.store.schema import silences as s
from smartcron.store.schema import tasks as t

SilenceList = list[Silence]


def _silences() -> Select[Any]:
    return select(s, t.c.name.label("task_name"), r.c.name.label("rule_name"), r.c.kind.label("rule_kind")).select_from(
        s.outerjoin(t, t.c.id == s.c.task_id).outerjoin(r, r.c.id == s.c.rule_id)
    )


def _row(row: RowMapping) -> Silence:
    rule_id = row["rule_id"]
    return Silence(
        id=int(row["id"]),
        task_id=row["task_id"],
        task_name=row["task_name"],
        rule_id=rule_id,
        rule_name=row["rule_name"],
        rule_alert_kind=rule_alert_kind(row["rule_kind"], rule_id) if rule_id is not None else None,
        until=row["until"],
        reason=row["reason"],
        created_by=row["created_by"],
        created_at=row["created_at"],
    )


def silenced_alert(silences: Sequence[Silence]) -> ColumnElement[bool] | None:
    """An SQL condition true for the alerts that one of ``silences`` covers (None: no silence)."""
    terms: list[ColumnElement[bool]] = []
    for silence in silences:
        parts: list[ColumnElement[bool]] = []
        if silence.task_id is not None:
            parts.append(a.c.task_id == silence.task_id)
        if silence.rule_alert_kind is not None:
            parts.append(a.c.kind == silence.rule_alert_kind)
        if not parts:
            return a.c.id.is_not(None)  # a silence of everything
        terms.append(and_(*parts))
    return or_(*terms) if terms else None


class SilenceRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(
        self,
        *,
        task_id: int | None,
        rule_id: int | None,
        until: datetime,
        reason: str | None,
        created_by: str,
        now: datetime,
    ) -> Silence:
        with self._engine.begin() as conn:
            result = conn.execute(
                insert(s).values(
                    task_id=task_id,
                    rule_id=rule_id,
                    until=until,
                    reason=reason,
                    created_by=created_by[:128],
                    created_at=now,
                )
            )
            new_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        return self.get(new_id)

    def get(self, silence_id: int) -> Silence:
        with self._engine.connect() as conn:
            row = conn.execute(_silences().where(s.c.id == silence_id)).mappings().first()
        if row is None:
            raise NotFoundError(f"no silence with id {silence_id}")
        return _row(row)

    def active(self, now: datetime) -> SilenceList:
        """Silences that have not ended at ``now``, ending soonest first."""
        return self._list(_silences().where(s.c.until > now))

    def list(self, *, now: datetime, include_ended: bool = False, limit: int = 200) -> SilenceList:
        query = _silences() if include_ended else _silences().where(s.c.until > now)
        return self._list(query.limit(limit))

    def _list(self, query: Select[Any]) -> SilenceList:
        with self._engine.connect() as conn:
            return [_row(row) for row in conn.execute(query.order_by(s.c.until, s.c.id)).mappings()]

    def remove(self, silence_id: int) -> Silence:
        """Delete a silence (``NotFoundError`` for no such silence); returns it as it was."""
        silence = self.get(silence_id)
        with self._engine.begin() as conn:
            conn.execute(delete(s).where(s.c.id == silence_id))
        return silence

    def delete_ended_before(self, cutoff: datetime) -> int:
        with self._engine.begin() as conn:
            return int(conn.execute(delete(s).where(s.c.until < cutoff)).rowcount)
