"""Read-only figures over run history for the scorecard and the daily report.

Everything is aggregated in SQL over ``smart_cron_executions`` (indexed by ``finished_at``), so the
numbers stay cheap with a million rows. A *slot* is a first attempt with its retries
(``coalesce(retry_of, id)``): after retries it succeeded if any attempt succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.sql import ColumnElement

from smartcron.domain.enums import ExecutionStatus
from smartcron.domain.execution import Execution
from smartcron.store.executions import row_to_execution
from smartcron.store.schema import executions as e
from smartcron.store.schema import tasks as t

TASK_FAILURES = (ExecutionStatus.FAILED.value, ExecutionStatus.TIMEOUT.value, ExecutionStatus.ABANDONED.value)
"""Failures of the task itself; ``killed`` is left out, since runs are killed on purpose (replaced, by
an operator) far more often than by accident."""
LIVE = (ExecutionStatus.SCHEDULED.value, ExecutionStatus.RUNNING.value)


def _is_live() -> ColumnElement[bool]:
    # Rendered inline, not as parameters: only then can SQLite see that the partial index on live
    # rows applies (it compares the query's terms with the index's WHERE literally).
    return e.c.status.in_(bindparam("live_statuses", list(LIVE), expanding=True, literal_execute=True))


@dataclass(frozen=True, slots=True)
class SlotOutcomes:
    succeeded: int
    failed: int

    @property
    def decided(self) -> int:
        return self.succeeded + self.failed

    @property
    def success_rate(self) -> float | None:
        """Percent of decided slots that succeeded, None when no slot was decided."""
        return 100.0 * self.succeeded / self.decided if self.decided else None


@dataclass(frozen=True, slots=True)
class TaskDurations:
    task_id: int
    task_name: str
    category: str
    timeout: int
    runs: int
    average_ms: float
    max_ms: int


def _flag(condition: Any) -> Any:
    return func.max(case((condition, 1), else_=0))


class RunStatistics:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def slot_outcomes(self, since: datetime, until: datetime) -> SlotOutcomes:
        """Slots with an attempt that ended in [since, until), by outcome after retries. Slots with
        an attempt still scheduled or running are undecided and not counted.

        Rows are found by ``finished_at`` (indexed) plus the few live rows, never by a scan."""
        root = func.coalesce(e.c.retry_of, e.c.id)
        per_slot = (
            select(
                _flag(e.c.status == ExecutionStatus.SUCCESS.value).label("ok"),
                _flag(e.c.status.in_(TASK_FAILURES)).label("bad"),
                _flag(_is_live()).label("live"),
            )
            .where(or_(and_(e.c.finished_at >= since, e.c.finished_at < until), _is_live()))
            .group_by(root)
            # A slot counts in the window that saw one of its attempts end (live rows alone do not).
            .having(func.max(case((e.c.finished_at >= since, 1), else_=0)) == 1)
            .subquery()
        )
        query = select(
            func.coalesce(func.sum(per_slot.c.ok), 0),
            func.coalesce(
                func.sum(case(((per_slot.c.ok == 0) & (per_slot.c.bad == 1) & (per_slot.c.live == 0), 1), else_=0)), 0
            ),
        )
        with self._engine.connect() as conn:
            succeeded, failed = conn.execute(query).one()
        return SlotOutcomes(int(succeeded), int(failed))

    def status_counts(self, since: datetime, until: datetime) -> dict[ExecutionStatus, int]:
        """Runs that ended in [since, until), per final status."""
        query = (
            select(e.c.status, func.count())
            .where(e.c.finished_at >= since, e.c.finished_at < until)
            .group_by(e.c.status)
        )
        with self._engine.connect() as conn:
            return {ExecutionStatus(status): int(n) for status, n in conn.execute(query)}

    def failures(self, since: datetime, until: datetime, *, limit: int = 100) -> list[Execution]:
        """Runs that failed (failed, timeout, abandoned) in [since, until), newest first."""
        query = (
            select(e, t.c.name.label("task_name"))
            .join(t, t.c.id == e.c.task_id)
            .where(e.c.finished_at >= since, e.c.finished_at < until, e.c.status.in_(TASK_FAILURES))
            .order_by(e.c.finished_at.desc(), e.c.id.desc())
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [row_to_execution(r) for r in conn.execute(query).mappings()]

    def durations(self, since: datetime, until: datetime, *, limit: int | None = None) -> list[TaskDurations]:
        """Per task, duration of the runs that ended in [since, until) with a duration, slowest
        average first.

        Aggregated per task id first and joined with the tasks after: grouping the joined rows by
        the task's columns sorted every run in the window (twice as slow with 80,000 runs a week)."""
        per_task = (
            select(
                e.c.task_id,
                func.count().label("runs"),
                func.avg(e.c.duration_ms).label("average_ms"),
                func.max(e.c.duration_ms).label("max_ms"),
            )
            .where(e.c.finished_at >= since, e.c.finished_at < until, e.c.duration_ms.is_not(None))
            .group_by(e.c.task_id)
            .subquery()
        )
        query = (
            select(
                t.c.id, t.c.name, t.c.category, t.c.timeout, per_task.c.runs, per_task.c.average_ms, per_task.c.max_ms
            )
            .join(per_task, per_task.c.task_id == t.c.id)
            .order_by(per_task.c.average_ms.desc(), t.c.name)
        )
        if limit is not None:
            query = query.limit(limit)
        with self._engine.connect() as conn:
            return [
                TaskDurations(
                    int(r.id), r.name, r.category, int(r.timeout), int(r.runs), float(r.average_ms), int(r.max_ms)
                )
                for r in conn.execute(query)
            ]

    def usual_duration_ms(self, task_id: int, *, runs: int = 20) -> int | None:
        """The longest of the task's last ``runs`` successful runs (milliseconds), None without any:
        how long the task usually takes, as a yardstick for a run that has no timeout."""
        recent = (
            select(e.c.duration_ms)
            .where(e.c.task_id == task_id, e.c.status == ExecutionStatus.SUCCESS.value, e.c.duration_ms.is_not(None))
            .order_by(e.c.finished_at.desc())
            .limit(runs)
        )
        with self._engine.connect() as conn:
            durations = [int(value) for value in conn.execute(recent).scalars()]
        return max(durations) if durations else None
