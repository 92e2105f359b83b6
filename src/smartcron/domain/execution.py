"""One run of one task for one slot and attempt, as recorded in ``smart_cron_executions``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from smartcron.domain.enums import ErrorCategory, ExecutionStatus, Trigger


@dataclass(frozen=True, slots=True)
class Execution:
    id: int
    task_id: int
    task_name: str
    scheduled_for: datetime
    attempt: int
    trigger: Trigger
    status: ExecutionStatus
    reason: str | None = None
    exit_code: int | None = None
    signal: int | None = None
    error_category: ErrorCategory | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: int | None = None
    cpu_user_ms: int | None = None
    cpu_sys_ms: int | None = None
    max_rss_kb: int | None = None
    output: str | None = None
    output_bytes: int | None = None
    truncated: bool = False
    pid: int | None = None
    pgid: int | None = None
    proc_start: int | None = None
    node: str | None = None
    lease_token: str | None = None
    lease_expires_at: datetime | None = None
    retry_of: int | None = None
    max_rss_kb_below: int | None = None
    """Set instead of ``max_rss_kb`` when the peak is only known to lie below this many KiB."""
    cancel_requested_at: datetime | None = None
    cancel_requested_by: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a finished run ended, as the runner reports it to the store."""

    status: ExecutionStatus
    finished_at: datetime
    exit_code: int | None = None
    signal: int | None = None
    reason: str | None = None
    error_category: ErrorCategory | None = None
    duration_ms: int | None = None
    cpu_user_ms: int | None = None
    cpu_sys_ms: int | None = None
    max_rss_kb: int | None = None
    output: str | None = None
    output_bytes: int | None = None
    truncated: bool = False
    max_rss_kb_below: int | None = None
    """When the peak is only known to lie below this many KiB (``max_rss_kb`` then None)."""
