"""Alert policy (DESIGN 4), pure: severity, when a message is owed, storm control, retry backoff.

Nothing here reads a clock or a database; every decision takes ``now`` and the data it needs.
The lifecycle of an alert is open -> acknowledged -> resolved; one alert stays open per
(task, kind) and repeats raise its ``count``. ``notify_after`` is the single "a message is owed
from this moment" field the dispatcher watches (first mail, reminder, or the "resolved" mail).
"""

from __future__ import annotations

import signal as signal_module
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from smartcron.domain.enums import AlertState, ErrorCategory, ExecutionStatus, Priority, Severity, Trigger
from smartcron.domain.execution import Execution

TASK_FAILED = "task_failed"
"""Kind of the alert a task's final failed attempt raises; its next success resolves it."""
MISSED = "missed"
"""Kind of the one alert that summarises slots missed while no runner could start them."""
RESOLVED_BY_SUCCESS = (TASK_FAILED, MISSED)

SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.LOW: 2}
STORM_WINDOW = timedelta(minutes=1)
"""Alerts announced within this window count toward the digest threshold; digests are this far apart."""


class NotificationKind(StrEnum):
    ALERT = "alert"
    """The first message about an alert."""
    REMINDER = "reminder"
    """The alert is still open (not acknowledged) a re-notify interval after the last message."""
    RESOLVED = "resolved"
    """An alert that was announced has been resolved."""
    DIGEST = "digest"
    """Many alerts in one message (storm control)."""
    TEST = "test"
    """``smartcron alerts test``."""
    REPORT = "report"
    """A report mailed by maintenance."""


class NotificationState(StrEnum):
    PENDING = "pending"
    """Waiting until ``next_attempt_at``; any dispatcher may claim it then."""
    SENDING = "sending"
    """Claimed by ``claimed_by`` until ``claimed_until``; after that another dispatcher may retry it."""
    SENT = "sent"
    """Accepted by the channel."""
    FAILED = "failed"
    """Given up: a permanent error, or the channel stayed down past the retry horizon."""


class DeliveryMode(StrEnum):
    INDIVIDUAL = "individual"
    """Few alerts: one message per alert and channel."""
    DIGEST = "digest"
    """A storm: one message per channel (and recipient group) listing the alerts."""
    HOLD = "hold"
    """A storm already got a digest within the storm window: the next one waits for the window."""


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    kind: str
    task_id: int | None
    severity: Severity
    state: AlertState
    message: str
    count: int
    first_seen: datetime
    last_seen: datetime
    details: dict[str, Any] | None = None
    task_name: str | None = None
    notify_after: datetime | None = None
    notified_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None
    snoozed_until: datetime | None = None
    """No message about the alert (first, reminder) is sent before this: a person snoozed it."""

    @property
    def active(self) -> bool:
        """Open or acknowledged: shown among the active alerts of the dashboard."""
        return self.state is not AlertState.RESOLVED

    def snoozed_at(self, now: datetime) -> bool:
        """Snoozed and the snooze has not ended at ``now``."""
        return self.active and self.snoozed_until is not None and self.snoozed_until > now

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "task_id": self.task_id,
            "task": self.task_name,
            "severity": self.severity.value,
            "state": self.state.value,
            "message": self.message,
            "count": self.count,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "notify_after": self.notify_after,
            "notified_at": self.notified_at,
            "acknowledged_at": self.acknowledged_at,
            "acknowledged_by": self.acknowledged_by,
            "resolved_at": self.resolved_at,
            "snoozed_until": self.snoozed_until,
            "details": self.details or {},
        }


@dataclass(frozen=True, slots=True)
class Notification:
    """One message for one channel, as a row in ``smart_cron_notifications``."""

    id: int
    alert_id: int | None
    kind: NotificationKind
    channel: str
    recipients: tuple[str, ...]
    subject: str
    body: str
    state: NotificationState
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    claimed_by: str | None = None
    claimed_until: datetime | None = None
    last_error: str | None = None
    sent_at: datetime | None = None


# -- severity and timing ---------------------------------------------------------------------------


def severity_for(priority: int, notify_on_failure: bool) -> Severity:
    """DESIGN 4's table: priority 1 + notify = critical, 2 + notify = high, otherwise low."""
    if not notify_on_failure:
        return Severity.LOW
    if priority == Priority.CRITICAL:
        return Severity.CRITICAL
    if priority == Priority.HIGH:
        return Severity.HIGH
    return Severity.LOW


def first_message_at(severity: Severity, first_seen: datetime, high_delay: float) -> datetime | None:
    """When the first message about a new alert is owed: critical at once, high after the delay
    (the task may recover meanwhile), low never."""
    if severity is Severity.CRITICAL:
        return first_seen
    if severity is Severity.HIGH:
        return first_seen + timedelta(seconds=high_delay)
    return None


def more_severe(a: Severity, b: Severity) -> bool:
    return SEVERITY_RANK[a] < SEVERITY_RANK[b]


def open_key(kind: str, task_id: int | None) -> str:
    """The unique key of the one open alert per (task, kind); ``-`` for alerts about no task."""
    return f"{kind}|{task_id if task_id is not None else '-'}"


def owed_kind(alert: Alert) -> NotificationKind | None:
    """Which message an alert owes once its ``notify_after`` has come."""
    if alert.notify_after is None:
        return None
    if alert.state is AlertState.RESOLVED:
        return NotificationKind.RESOLVED
    if alert.state is AlertState.OPEN:
        return NotificationKind.ALERT if alert.notified_at is None else NotificationKind.REMINDER
    return None  # acknowledged: a person is on it; no reminders


# -- which runs raise an alert -----------------------------------------------------------------------

_DELIBERATE_KILL_WORDS = ("replace", "operator", "shutdown", "lease")
"""Reasons of ``killed`` runs that someone or something meant: not a failure of the task.

A replaced run (overlap = replace), an operator's kill, a runner shutting down past its grace,
and a node that lost its lease (another node retries the run) all say nothing about the task."""


def is_deliberate_kill(reason: str | None) -> bool:
    text = (reason or "").lower()
    return any(word in text for word in _DELIBERATE_KILL_WORDS)


def is_final_failure(execution: Execution, retries: int) -> bool:
    """A failed run that no further attempt will follow: the moment to alert.

    Earlier attempts stay quiet, so a flaky task that succeeds on its retry wakes nobody.
    """
    status = execution.status
    if not status.is_failure:
        return False
    if status is ExecutionStatus.KILLED and is_deliberate_kill(execution.reason):
        return False
    if execution.trigger is Trigger.MANUAL:  # manual runs get no retries (domain.retry)
        return True
    return execution.attempt >= retries or execution.error_category is ErrorCategory.FATAL


def describe_outcome(execution: Execution, timeout: int | None = None) -> str:
    """What happened, in a few words: ``failed (exit 1)``, ``timed out after 300 s``."""
    status = execution.status
    if status is ExecutionStatus.TIMEOUT:
        return f"timed out after {timeout} s" if timeout else "timed out"
    if status is ExecutionStatus.ABANDONED:
        return "was abandoned (its runner died and the run was cut short)"
    if status is ExecutionStatus.UNKNOWN_OUTCOME:
        return "ended while no runner watched it (outcome unknown)"
    if status is ExecutionStatus.SUPERSEDED:
        return "was superseded (its node lost the run's lease)"
    if status is ExecutionStatus.KILLED:
        return f"was killed ({execution.reason})" if execution.reason else "was killed"
    if status is ExecutionStatus.MISSED:
        return "missed its slot"
    if execution.signal:
        return f"failed (killed by {signal_name(execution.signal)})"
    if execution.exit_code is not None:
        if execution.exit_code in (126, 127) and execution.error_category is ErrorCategory.FATAL:
            return f"could not start (exit {execution.exit_code})"
        return f"failed (exit {execution.exit_code})"
    if execution.reason:
        return f"failed ({execution.reason})"
    return "failed"


def signal_name(number: int) -> str:
    try:
        return signal_module.Signals(number).name
    except ValueError:
        return f"signal {number}"


# -- storm control and retries --------------------------------------------------------------------


def delivery_mode(
    *, due: int, announced_recently: int, last_digest_at: datetime | None, now: datetime, threshold: int
) -> DeliveryMode:
    """Storm control: more than ``threshold`` alerts in one pass or one storm window get a digest.

    ``announced_recently`` counts alerts already announced within the window; once a digest went
    out, further alerts of the storm wait for the window to pass and go out in the next digest, so
    a storm costs at most ``threshold`` single messages plus one digest per window and channel.
    """
    if due == 0:
        return DeliveryMode.HOLD
    if due + announced_recently <= threshold:
        return DeliveryMode.INDIVIDUAL
    if last_digest_at is not None and now - last_digest_at < STORM_WINDOW:
        return DeliveryMode.HOLD
    return DeliveryMode.DIGEST


RETRY_BASE_SECONDS = 5.0
RETRY_CAP_SECONDS = 300.0
GIVE_UP_AFTER = timedelta(hours=24)


def next_attempt_at(*, attempts: int, created_at: datetime, now: datetime) -> datetime | None:
    """Exponential backoff while a channel is down (5 s, 10 s, 20 s ... capped at 5 min).

    ``attempts`` counts the tries made so far. None: stop trying; a message a day late helps
    nobody and the alert itself stays on the dashboard.
    """
    if now - created_at >= GIVE_UP_AFTER:
        return None
    delay = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return now + timedelta(seconds=delay)
