"""Turning what happened to a process into the outcome recorded for its run."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from smartcron.domain.enums import ErrorCategory, ExecutionStatus
from smartcron.domain.execution import Execution, Outcome
from smartcron.domain.retry import Verdict, classify_exit
from smartcron.domain.task import Task
from smartcron.runner.process.supervisor import ProcessResult
from smartcron.store.execution_rows import REASON_LENGTH


def outcome_of(result: ProcessResult, fatal_exit_codes: tuple[int, ...], *, retry_unknown: bool = False) -> Outcome:
    verdict = classify_exit(
        exit_code=result.exit_code,
        signal=result.signal,
        timed_out=result.timed_out,
        killed_reason=result.killed_reason,
        spawn_error=result.spawn_error,
        fatal_exit_codes=fatal_exit_codes,
        retry_unknown=retry_unknown,
    )
    if result.abandoned_reason:  # its spawner died: the run was ended without anybody seeing how it went
        verdict = Verdict(ExecutionStatus.ABANDONED, ErrorCategory.RECOVERABLE, result.abandoned_reason)
    return Outcome(
        status=verdict.status,
        finished_at=result.finished_at,
        exit_code=result.exit_code,
        signal=result.signal,
        reason=verdict.reason[:REASON_LENGTH] if verdict.reason else None,
        error_category=verdict.category,
        duration_ms=result.duration_ms,
        cpu_user_ms=result.cpu_user_ms,
        cpu_sys_ms=result.cpu_sys_ms,
        max_rss_kb=result.max_rss_kb,
        max_rss_kb_below=result.max_rss_kb_below,
        output=result.output,
        output_bytes=result.output_bytes,
        truncated=result.truncated,
    )


def failed_to_start(now: datetime, message: str) -> Outcome:
    """The runner itself could not start the process (not the command's fault): recoverable."""
    return Outcome(
        ExecutionStatus.FAILED,
        now,
        reason=f"cannot start: {message}"[:REASON_LENGTH],
        error_category=ErrorCategory.RECOVERABLE,
        duration_ms=0,
    )


def abandoned(row: Execution, now: datetime, reason: str) -> Outcome:
    """Its runner died and the run was cut short (recovery killed what was left of it): another
    attempt may be made."""
    return Outcome(
        ExecutionStatus.ABANDONED,
        now,
        reason=reason[:REASON_LENGTH],
        error_category=ErrorCategory.RECOVERABLE,
        duration_ms=milliseconds_since(row, now),
    )


def unknown_outcome(row: Execution, task: Task, now: datetime, reason: str) -> Outcome:
    """Its process ended while no runner watched it: retried only where the task allows it."""
    return Outcome(
        ExecutionStatus.UNKNOWN_OUTCOME,
        now,
        reason=reason[:REASON_LENGTH],
        error_category=ErrorCategory.RECOVERABLE if task.spec.retry_unknown_outcome else None,
        duration_ms=milliseconds_since(row, now),
    )


def killed(row: Execution, now: datetime, reason: str) -> Outcome:
    return Outcome(ExecutionStatus.KILLED, now, reason=reason, duration_ms=milliseconds_since(row, now))


def milliseconds_since(row: Execution, now: datetime) -> int | None:
    return max(0, int((now - row.started_at).total_seconds() * 1000)) if row.started_at else None


def as_finished(row: Execution, outcome: Outcome) -> Execution:
    """The row as it reads once ``outcome`` is written (for alerts, without a read back)."""
    return replace(
        row,
        status=outcome.status,
        finished_at=outcome.finished_at,
        exit_code=outcome.exit_code,
        signal=outcome.signal,
        reason=outcome.reason,
        error_category=outcome.error_category,
        duration_ms=outcome.duration_ms,
        cpu_user_ms=outcome.cpu_user_ms,
        cpu_sys_ms=outcome.cpu_sys_ms,
        max_rss_kb=outcome.max_rss_kb,
        max_rss_kb_below=outcome.max_rss_kb_below,
        output=outcome.output,
        output_bytes=outcome.output_bytes,
        truncated=outcome.truncated,
        lease_token=None,
        lease_expires_at=None,
    )
