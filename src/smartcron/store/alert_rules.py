"""Custom alert rules in ``smart_cron_alert_rules``, and the run counts the failure-rate rule reads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Engine, RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Select

from smartcron.domain.alert_rules import AlertRule, RuleKind, RunCounts
from smartcron.domain.alerts import is_deliberate_kill
from smartcron.domain.enums import ExecutionStatus, Severity
from smartcron.errors import ConflictError, NotFoundError
from smartcron.store.schema import alert_rules as r
from smartcron.store.schema import executions as e
from smartcron.store.schema import tasks as t

RuleList = list[AlertRule]


def _rules_with_task() -> Select[Any]:
    return select(r, t.c.name.label("task_name")).select_from(r.outerjoin(t, t.c.id == r.c.task_id))


def row_to_rule(row: RowMapping) -> AlertRule:
    return AlertRule(
        id=int(row["id"]),
        name=row["name"],
        kind=RuleKind(row["kind"]),
        threshold=float(row["threshold"]),
        severity=Severity(row["severity"]),
        task_id=row["task_id"],
        task_name=row["task_name"],
        window_seconds=row["window_seconds"],
        min_runs=row["min_runs"],
        enabled=bool(row["enabled"]),
        created_at=row["created_at"],
    )


FINISHED_RUN_STATUSES = (
    ExecutionStatus.SUCCESS.value,
    ExecutionStatus.FAILED.value,
    ExecutionStatus.TIMEOUT.value,
    ExecutionStatus.KILLED.value,
    ExecutionStatus.ABANDONED.value,
)


class AlertRuleRepository:
    """Custom rules by name (unique)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(
        self,
        name: str,
        kind: RuleKind,
        threshold: float,
        *,
        severity: Severity,
        now: datetime,
        task_id: int | None = None,
        window_seconds: int | None = None,
        min_runs: int | None = None,
    ) -> AlertRule:
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(r).values(
                        name=name,
                        kind=kind.value,
                        task_id=task_id,
                        threshold=threshold,
                        window_seconds=window_seconds,
                        min_runs=min_runs,
                        severity=severity.value,
                        enabled=True,
                        created_at=now,
                    )
                )
        except IntegrityError:
            raise ConflictError(f"rule name {name!r}: a rule with this name already exists") from None
        return self.get(name)

    def remove(self, name: str) -> None:
        with self._engine.begin() as conn:
            if conn.execute(delete(r).where(r.c.name == name)).rowcount == 0:
                raise NotFoundError(f"no alert rule named {name!r}")

    def set_enabled(self, name: str, enabled: bool) -> AlertRule:
        with self._engine.begin() as conn:
            if conn.execute(update(r).where(r.c.name == name).values(enabled=enabled)).rowcount == 0:
                raise NotFoundError(f"no alert rule named {name!r}")
        return self.get(name)

    def get(self, name: str) -> AlertRule:
        with self._engine.connect() as conn:
            row = conn.execute(_rules_with_task().where(r.c.name == name)).mappings().first()
        if row is None:
            raise NotFoundError(f"no alert rule named {name!r}")
        return row_to_rule(row)

    def list(self, *, enabled_only: bool = False) -> RuleList:
        query = _rules_with_task().order_by(r.c.name)
        if enabled_only:
            query = query.where(r.c.enabled.is_(True))
        with self._engine.connect() as conn:
            return [row_to_rule(row) for row in conn.execute(query).mappings()]

    def run_counts(self, since: datetime, *, task_ids: Sequence[int] | None = None) -> dict[int, RunCounts]:
        """Runs that finished since ``since`` per task, and how many of them failed.

        Deliberate kills (replaced, by an operator, shutdown) are not runs of the task's own
        doing and are left out; missed and skipped slots never ran.
        """
        query = (
            select(e.c.task_id, e.c.status, e.c.reason, func.count())
            .where(e.c.finished_at >= since, e.c.status.in_(FINISHED_RUN_STATUSES))
            .group_by(e.c.task_id, e.c.status, e.c.reason)
        )
        if task_ids is not None:
            query = query.where(e.c.task_id.in_(list(task_ids)))
        totals: dict[int, list[int]] = {}
        with self._engine.connect() as conn:
            for task_id, status, reason, n in conn.execute(query):
                if status == ExecutionStatus.KILLED.value and is_deliberate_kill(reason):
                    continue
                entry = totals.setdefault(int(task_id), [0, 0])
                entry[0] += int(n)
                if status != ExecutionStatus.SUCCESS.value:
                    entry[1] += int(n)
        return {task_id: RunCounts(finished, failed) for task_id, (finished, failed) in totals.items()}
