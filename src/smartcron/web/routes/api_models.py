"""Shapes of the JSON API's answers (they are also its OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from smartcron.domain.alert_rules import AlertRule, RuleKind
from smartcron.domain.alerts import Alert
from smartcron.domain.enums import AlertState, Severity
from smartcron.domain.execution import Execution
from smartcron.domain.task import Task
from smartcron.web.routes import api_examples as examples
from smartcron.web.routes.api_examples import example


class TaskOut(BaseModel):
    model_config = example(examples.TASK)

    name: str
    category: str
    description: str
    schedule: str
    timezone: str | None
    enabled: bool
    paused: bool
    builtin: bool
    priority: int
    next_run_at: datetime | None
    last_status: str | None
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_duration_ms: int | None
    last_success_at: datetime | None
    runs_7d: int
    success_rate_7d: float | None

    @classmethod
    def of(cls, task: Task, runs_7d: int, successes_7d: int) -> TaskOut:
        return cls(
            name=task.name,
            category=task.spec.category,
            description=task.spec.description,
            schedule=task.spec.schedule,
            timezone=task.spec.timezone,
            enabled=task.spec.enabled,
            paused=task.paused,
            builtin=task.builtin,
            priority=task.spec.priority,
            next_run_at=task.next_run_at,
            last_status=task.last_status.value if task.last_status else None,
            last_started_at=task.last_started_at,
            last_finished_at=task.last_finished_at,
            last_duration_ms=task.last_duration_ms,
            last_success_at=task.last_success_at,
            runs_7d=runs_7d,
            success_rate_7d=successes_7d / runs_7d if runs_7d else None,
        )


class TaskPage(BaseModel):
    model_config = example(examples.TASK_PAGE)

    items: list[TaskOut]
    total: int
    offset: int
    limit: int


class FireTimeOut(BaseModel):
    utc: datetime
    local: str
    dst_change: str | None


class TaskDetail(BaseModel):
    model_config = example(examples.TASK_DETAIL)

    task: TaskOut
    spec: dict[str, Any]
    schedule_in_words: str
    next_runs: list[FireTimeOut]
    next_runs_unavailable: str | None


class ExecutionOut(BaseModel):
    model_config = example(examples.EXECUTION)

    id: int
    task: str
    task_id: int
    scheduled_for: datetime
    attempt: int
    trigger: str
    status: str
    reason: str | None
    exit_code: int | None
    signal: int | None
    error_category: str | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    cpu_user_ms: int | None
    cpu_sys_ms: int | None
    max_rss_kb: int | None
    max_rss_kb_below: int | None = Field(
        default=None, description="set instead of max_rss_kb when the peak is only known to lie below this many KiB"
    )
    output_preview: str | None
    output_bytes: int | None
    truncated: bool
    node: str | None
    retry_of: int | None
    cancel_requested_at: datetime | None
    cancel_requested_by: str | None

    @classmethod
    def of(cls, run: Execution) -> ExecutionOut:
        return cls(
            id=run.id,
            task=run.task_name,
            task_id=run.task_id,
            scheduled_for=run.scheduled_for,
            attempt=run.attempt,
            trigger=run.trigger.value,
            status=run.status.value,
            reason=run.reason,
            exit_code=run.exit_code,
            signal=run.signal,
            error_category=run.error_category.value if run.error_category else None,
            started_at=run.started_at,
            finished_at=run.finished_at,
            duration_ms=run.duration_ms,
            cpu_user_ms=run.cpu_user_ms,
            cpu_sys_ms=run.cpu_sys_ms,
            max_rss_kb=run.max_rss_kb,
            max_rss_kb_below=run.max_rss_kb_below,
            output_preview=run.output,
            output_bytes=run.output_bytes,
            truncated=run.truncated,
            node=run.node,
            retry_of=run.retry_of,
            cancel_requested_at=run.cancel_requested_at,
            cancel_requested_by=run.cancel_requested_by,
        )


class ExecutionPage(BaseModel):
    model_config = example(examples.EXECUTION_PAGE)

    items: list[ExecutionOut]
    next_before: int | None
    """Pass as ``before`` for the next (older) page; null on the last page."""


class LogOut(BaseModel):
    model_config = example(examples.LOG)

    execution_id: int
    found: bool
    truncated: bool
    text: str


class AlertOut(BaseModel):
    model_config = example(examples.ALERT)

    id: int
    kind: str
    task: str | None
    severity: str
    state: str
    message: str
    count: int
    first_seen: datetime
    last_seen: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    snoozed_until: datetime | None
    """No message about the alert is sent before this (null when it is not snoozed)."""
    silenced_until: datetime | None = Field(
        default=None, description="a silence of its task or rule holds its messages back until then (open alerts)"
    )

    @classmethod
    def of(cls, alert: Alert, *, silenced_until: datetime | None = None) -> AlertOut:
        return cls(
            id=alert.id,
            kind=alert.kind,
            task=alert.task_name,
            severity=alert.severity.value,
            state=alert.state.value,
            message=alert.message,
            count=alert.count,
            first_seen=alert.first_seen,
            last_seen=alert.last_seen,
            acknowledged_at=alert.acknowledged_at,
            acknowledged_by=alert.acknowledged_by,
            resolved_at=alert.resolved_at,
            snoozed_until=alert.snoozed_until if alert.active else None,
            silenced_until=silenced_until if alert.state is AlertState.OPEN else None,
        )


class SnoozeIn(BaseModel):
    """How long to snooze an alert: ``duration`` or ``until``, one of them (1 min to 30 days)."""

    model_config = ConfigDict(extra="forbid")

    duration: Annotated[str, Field(max_length=32)] | float | None = Field(
        default=None, description="`30m`, `2h`, `1d`, or seconds as a number"
    )
    until: datetime | None = Field(default=None, description="the end of the snooze, ISO 8601 with an offset")


Amount = Annotated[str, Field(max_length=32)] | float


class RuleIn(BaseModel):
    """A custom alert rule, as `smartcron alerts rules add` takes it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=128, description="letters, digits and `_ . -`")
    kind: RuleKind
    threshold: Amount = Field(
        description="a duration (`90s`, `15m`, `2h`, `1d`, or seconds) for long_run, short_run and no_success; "
        "a percentage for failure_rate"
    )
    task: str | None = Field(default=None, max_length=128, description="only this task (default: every task)")
    window: Amount | None = Field(default=None, description="failure_rate: the time window (default 1h)")
    min_runs: int | None = Field(
        default=None, ge=1, le=10**6, description="failure_rate: runs needed in the window (default 3)"
    )
    severity: Severity = Severity.HIGH


class RuleOut(BaseModel):
    model_config = example(examples.RULE)

    id: int
    name: str
    kind: str
    task: str | None
    threshold: float
    window_seconds: int | None
    min_runs: int | None
    severity: str
    enabled: bool
    description: str
    created_at: datetime

    @classmethod
    def of(cls, rule: AlertRule) -> RuleOut:
        return cls(**rule.to_dict())


class CheckOut(BaseModel):
    name: str
    status: str
    value: float | None
    message: str
    at: datetime
    node: str | None


class HeartbeatOut(BaseModel):
    node: str
    role: str
    heartbeat_at: datetime
    age_seconds: float


class IndicatorOut(BaseModel):
    name: str
    status: str
    value: float | None
    message: str


class HealthOut(BaseModel):
    model_config = example(examples.HEALTH)

    checks: list[CheckOut]
    heartbeats: list[HeartbeatOut]
    scorecard: list[IndicatorOut] | None
    scorecard_unavailable: str | None


class PointOut(BaseModel):
    at: datetime
    value: float | None


class SeriesOut(BaseModel):
    model_config = example(examples.SERIES)

    name: str
    step_seconds: int
    points: list[PointOut]


class BucketOut(BaseModel):
    start: datetime
    runs: int
    failures: int
    failure_rate: float | None
    avg_duration_ms: float | None


class ActivityOut(BaseModel):
    model_config = example(examples.ACTIVITY)

    bucket_seconds: int
    buckets: list[BucketOut]


class QueuedOut(BaseModel):
    model_config = example(examples.QUEUED)

    task: str
    execution_id: int


class TaskStateOut(BaseModel):
    model_config = example(examples.TASK_STATE)

    task: str
    paused: bool
    next_run_at: datetime | None
