"""The rows of ``smart_cron_executions`` as Python values: what the runner hands the store (a claim,
a start, a finish) and how a row becomes an :class:`~smartcron.domain.execution.Execution`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import literal_column, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.sql import Select

from smartcron.domain.enums import ErrorCategory, ExecutionStatus, Trigger
from smartcron.domain.execution import Execution, Outcome
from smartcron.store.schema import executions as e
from smartcron.store.schema import tasks as t

REASON_LENGTH = 255
"""The width of the ``reason`` column."""
LIVE = (ExecutionStatus.SCHEDULED.value, ExecutionStatus.RUNNING.value)
FAILURES = tuple(status.value for status in ExecutionStatus if status.is_failure)
# Spelled with literals, exactly as the partial index's WHERE: SQLite uses a partial index only when
# the query repeats its condition, and bound parameters do not count.
LIVE_ROWS = e.c.status.in_([literal_column(f"'{value}'") for value in LIVE])


@dataclass(frozen=True, slots=True)
class SlotClaim:
    """A row to insert for (task, slot, attempt). ``status`` is ``scheduled`` for a run to start,
    or a final status (``missed``, ``skipped``) for a slot that is only recorded."""

    task_id: int
    scheduled_for: datetime
    trigger: Trigger
    status: ExecutionStatus = ExecutionStatus.SCHEDULED
    attempt: int = 0
    reason: str | None = None
    retry_of: int | None = None


@dataclass(frozen=True, slots=True)
class Start:
    execution_id: int
    task_id: int
    started_at: datetime
    pid: int
    pgid: int
    proc_start: int | None


@dataclass(frozen=True, slots=True)
class LiveRow:
    """A live row as far as deciding overlap needs it."""

    id: int
    task_id: int
    status: ExecutionStatus


@dataclass(frozen=True, slots=True)
class Finish:
    execution_id: int
    task_id: int
    outcome: Outcome


def row_to_execution(row: RowMapping) -> Execution:
    return Execution(
        id=int(row["id"]),
        task_id=int(row["task_id"]),
        task_name=row["task_name"],
        scheduled_for=row["scheduled_for"],
        attempt=int(row["attempt"]),
        trigger=Trigger(row["trigger"]),
        status=ExecutionStatus(row["status"]),
        reason=row["reason"],
        exit_code=row["exit_code"],
        signal=row["signal"],
        error_category=ErrorCategory(row["error_category"]) if row["error_category"] else None,
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        duration_ms=row["duration_ms"],
        cpu_user_ms=row["cpu_user_ms"],
        cpu_sys_ms=row["cpu_sys_ms"],
        max_rss_kb=row["max_rss_kb"],
        output=row["output"],
        output_bytes=row["output_bytes"],
        truncated=bool(row["truncated"]),
        pid=row["pid"],
        pgid=row["pgid"],
        proc_start=row["proc_start"],
        node=row["node"],
        lease_token=row["lease_token"],
        lease_expires_at=row["lease_expires_at"],
        retry_of=row["retry_of"],
        max_rss_kb_below=row["max_rss_kb_below"],
        cancel_requested_at=row["cancel_requested_at"],
        cancel_requested_by=row["cancel_requested_by"],
    )


def with_task_name() -> Select[Any]:
    return select(e, t.c.name.label("task_name")).join(t, t.c.id == e.c.task_id)


def outcome_values(outcome: Outcome) -> dict[str, Any]:
    return {
        "status": outcome.status.value,
        "finished_at": outcome.finished_at,
        "exit_code": outcome.exit_code,
        "signal": outcome.signal,
        "reason": outcome.reason,
        "error_category": outcome.error_category.value if outcome.error_category else None,
        "duration_ms": outcome.duration_ms,
        "cpu_user_ms": outcome.cpu_user_ms,
        "cpu_sys_ms": outcome.cpu_sys_ms,
        "max_rss_kb": outcome.max_rss_kb,
        "max_rss_kb_below": outcome.max_rss_kb_below,
        "output": outcome.output,
        "output_bytes": outcome.output_bytes,
        "truncated": outcome.truncated or None,
        # The run is over: supervision fields only mattered while it was alive.
        "pgid": None,
        "proc_start": None,
        "lease_token": None,
        "lease_expires_at": None,
    }
