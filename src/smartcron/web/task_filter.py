"""The home page's "what is wrong" filters: failing, late or missed, running and paused tasks, as
SQL conditions on the task table (its last-run summary columns), and their counts."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, exists, func, literal_column, or_, select
from sqlalchemy.sql import ColumnElement

from smartcron.domain.enums import ExecutionStatus
from smartcron.errors import UserError
from smartcron.store import Store
from smartcron.store.executions import LIVE as LIVE_STATUSES
from smartcron.store.schema import executions as e
from smartcron.store.schema import tasks as t

LATE_AFTER = timedelta(minutes=2)
"""A task whose next slot is this far past is late: a tick runner claims a slot within its minute,
a daemon within a second, so two minutes past means no runner took it."""


class TaskFilter(enum.Enum):
    """A status filter of the task grid (``/?status=...``)."""

    FAILING = "failing"
    """The last run failed (failed, timeout, killed, abandoned, unknown outcome, superseded)."""
    LATE = "late"
    """Active, and its last slot was missed or its next slot is more than ``LATE_AFTER`` past."""
    RUNNING = "running"
    """A run of it is running now."""
    PAUSED = "paused"
    """Paused by an operator."""

    @property
    def label(self) -> str:
        return "late or missed" if self is TaskFilter.LATE else self.value

    @classmethod
    def parse(cls, value: str | None) -> TaskFilter | None:
        if not value:
            return None
        try:
            return cls(value)
        except ValueError:
            known = ", ".join(f.value for f in cls)
            raise UserError(f"status {value[:40]!r}: expected one of {known}") from None


FAILURE_VALUES = tuple(s.value for s in ExecutionStatus if s.is_failure)


def _running_now() -> ColumnElement[bool]:
    # Literal values, as queries._running: SQLite then uses the partial index of live rows.
    live: list[ColumnElement[str]] = [literal_column(f"'{status}'") for status in LIVE_STATUSES]
    running: ColumnElement[str] = literal_column(f"'{ExecutionStatus.RUNNING.value}'")
    return exists().where(e.c.task_id == t.c.id, e.c.status.in_(live), e.c.status == running)


def condition(wanted: TaskFilter, now: datetime) -> ColumnElement[bool]:
    """The tasks ``wanted`` selects, as a WHERE term on the task table."""
    if wanted is TaskFilter.FAILING:
        return t.c.last_status.in_(FAILURE_VALUES)
    if wanted is TaskFilter.LATE:
        active = and_(t.c.enabled.is_(True), t.c.paused.is_(False))
        overdue = and_(t.c.next_run_at.is_not(None), t.c.next_run_at < now - LATE_AFTER)
        return and_(active, or_(t.c.last_status == ExecutionStatus.MISSED.value, overdue))
    if wanted is TaskFilter.RUNNING:
        return _running_now()
    return t.c.paused.is_(True)


@dataclass(frozen=True, slots=True)
class Summary:
    """How many tasks each filter selects, in the order the home page shows them."""

    counts: dict[TaskFilter, int]
    total: int

    def items(self) -> list[tuple[TaskFilter, int]]:
        return [(wanted, self.counts.get(wanted, 0)) for wanted in TaskFilter]


def summary(store: Store, now: datetime) -> Summary:
    """The counts behind the home page's summary, in one query over the task table."""
    columns = [func.count()] + [func.sum(case((condition(w, now), 1), else_=0)) for w in TaskFilter]
    with store.engine.connect() as conn:
        row = conn.execute(select(*columns).select_from(t)).one()
    return Summary(counts={w: int(row[i + 1] or 0) for i, w in enumerate(TaskFilter)}, total=int(row[0]))
