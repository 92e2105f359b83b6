"""A small summary of what the dashboard shows, read in one go so a live page can tell cheaply
whether anything changed (``/events``).

Every figure comes from a primary key, the live-rows index, or an indexed column, so reading a
snapshot stays a few index lookups however many runs the history holds. Nothing here is a rule
about what a change means: :mod:`smartcron.web.live_events` decides that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from smartcron.errors import StoreUnavailableError
from smartcron.store.execution_rows import LIVE_ROWS
from smartcron.store.schema import alerts as a
from smartcron.store.schema import executions as e
from smartcron.store.schema import health_checks as h
from smartcron.store.schema import nodes as n
from smartcron.store.schema import tasks as t


@dataclass(frozen=True, slots=True)
class StateSnapshot:
    """What changes when a run starts or ends, an alert is raised, acknowledged or resolved, a
    health run is recorded, a task is edited, or a node beats."""

    max_execution_id: int
    # (status, count, sum of ids) of the live rows: a run moving from scheduled to running, or
    # ending, changes these even when the newest id stays the same.
    live_runs: tuple[tuple[str, int, int], ...]
    last_finished_at: datetime | None
    # (state, count) of every alert not resolved, and the newest alert's id.
    alert_states: tuple[tuple[str, int], ...]
    max_alert_id: int
    max_health_id: int
    task_count: int
    tasks_updated_at: datetime | None
    heartbeats: tuple[tuple[str, str, datetime], ...]  # (name, role, heartbeat_at)


class ChangeRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def snapshot(self) -> StateSnapshot:
        """The snapshot now; StoreUnavailableError when the database cannot be read."""
        try:
            with self._engine.connect() as conn:
                return _read(conn)
        except DBAPIError as exc:
            raise StoreUnavailableError(f"database unreachable: {exc.orig or exc}") from exc


def _read(conn: Connection) -> StateSnapshot:
    max_execution_id = conn.execute(select(func.coalesce(func.max(e.c.id), 0))).scalar_one()
    live = conn.execute(
        select(e.c.status, func.count(), func.coalesce(func.sum(e.c.id), 0))
        .where(LIVE_ROWS)
        .group_by(e.c.status)
        .order_by(e.c.status)
    ).all()
    last_finished_at = conn.execute(select(func.max(e.c.finished_at))).scalar()
    alert_states = conn.execute(
        select(a.c.state, func.count()).where(a.c.state != "resolved").group_by(a.c.state).order_by(a.c.state)
    ).all()
    max_alert_id = conn.execute(select(func.coalesce(func.max(a.c.id), 0))).scalar_one()
    max_health_id = conn.execute(select(func.coalesce(func.max(h.c.id), 0))).scalar_one()
    task_count, tasks_updated_at = conn.execute(select(func.count(), func.max(t.c.updated_at))).one()
    heartbeats = conn.execute(select(n.c.name, n.c.role, n.c.heartbeat_at).order_by(n.c.name, n.c.role)).all()
    return StateSnapshot(
        max_execution_id=int(max_execution_id),
        live_runs=tuple((str(s), int(c), int(total)) for s, c, total in live),
        last_finished_at=last_finished_at,
        alert_states=tuple((str(s), int(c)) for s, c in alert_states),
        max_alert_id=int(max_alert_id),
        max_health_id=int(max_health_id),
        task_count=int(task_count),
        tasks_updated_at=tasks_updated_at,
        heartbeats=tuple((str(name), str(role), at) for name, role, at in heartbeats),
    )
