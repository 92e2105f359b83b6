"""The alert service: turns what happened (a finished run, a failed health check, a broken rule)
into alert rows. It only writes to the database and never sends anything: the dispatcher reads
the alerts that owe a message and delivers them, so a slow mail server never slows a caller.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from smartcron.alerts.messages import output_tail, safe_line
from smartcron.alerts.rules import RuleEvaluator
from smartcron.domain.alert_rules import AlertRule, RuleKind, ends_short_run, short_run
from smartcron.domain.alerts import (
    MISSED,
    RESOLVED_BY_SUCCESS,
    TASK_FAILED,
    Alert,
    NotificationKind,
    describe_outcome,
    first_message_at,
    is_final_failure,
    more_severe,
    severity_for,
)
from smartcron.domain.enums import AlertState, ExecutionStatus, Severity
from smartcron.domain.execution import Execution
from smartcron.domain.task import Task

if TYPE_CHECKING:
    from smartcron.config import Settings
    from smartcron.store import Store

log = logging.getLogger("smartcron.alerts")
RULES_CACHE_SECONDS = 30.0
"""How long the finish path trusts its copy of the custom rules; a new rule applies this late."""


def task_label(task: Task) -> str:
    return f"{task.spec.category}/{task.name}"


def failure_details(task: Task, execution: Execution) -> dict[str, Any]:
    """What the failure message needs, kept on the alert (the last occurrence wins)."""
    return {
        "category": task.spec.category,
        "execution_id": execution.id,
        "status": execution.status.value,
        "exit_code": execution.exit_code,
        "signal": execution.signal,
        "reason": execution.reason,
        "error_category": execution.error_category.value if execution.error_category else None,
        "attempt": execution.attempt,
        "retries": task.spec.retries,
        "timeout": task.spec.timeout,
        "duration_ms": execution.duration_ms,
        "scheduled_for": execution.scheduled_for.isoformat(),
        "finished_at": execution.finished_at.isoformat() if execution.finished_at else None,
        "output_tail": output_tail(execution.output) or None,
        "truncated": execution.truncated,
    }


class AlertService:
    """Raises, repeats and resolves alerts (database writes only; sending is the dispatcher's).

    ``on_due`` is called whenever a message may be owed at once: an alert whose first message is
    due now (critical) was opened or escalated, or an alert was resolved. A runner passes a wake-up
    for its sender, so a critical failure is mailed within milliseconds, not at the next poll."""

    def __init__(self, store: Store, settings: Settings, *, on_due: Callable[[], None] | None = None) -> None:
        self._store = store
        self._settings = settings
        self._on_due = on_due
        self._rules: list[AlertRule] = []
        self._rules_loaded_at: datetime | None = None

    # -- runs ------------------------------------------------------------------------------------

    def on_execution_finished(self, task: Task, execution: Execution, now: datetime) -> None:
        """Called by the runner after a run's final row is written. Database writes only."""
        self.on_executions_finished([(task, execution)], now)

    def on_executions_finished(self, finished: Sequence[tuple[Task, Execution]], now: datetime) -> None:
        """The batched form, for a runner that records results in batches.

        A final failed attempt raises or repeats the task's failure alert; missed slots raise
        one alert per task that summarises them; a success resolves the task's failure, missed and
        dead-man's-switch alerts. Earlier attempts that will be retried raise nothing.
        """
        short_rules = [rule for rule in self._cached_rules(now) if rule.kind is RuleKind.SHORT_RUN]
        successes: list[tuple[Task, Execution]] = []
        missed: dict[int, list[tuple[Task, Execution]]] = defaultdict(list)
        for task, execution in finished:
            if execution.status is ExecutionStatus.SUCCESS:
                successes.append((task, execution))
            elif execution.status is ExecutionStatus.MISSED:
                missed[task.id].append((task, execution))
            elif is_final_failure(execution, task.spec.retries):
                self._raise_failure(task, execution, now)
        for runs in missed.values():
            self._raise_missed(runs, now)
        if successes:
            self._resolve_after_success(successes, now)
        for rule in short_rules:
            self._check_short_runs(rule, successes, now)

    def _raise_failure(self, task: Task, execution: Execution, now: datetime) -> None:
        message = f"{task_label(task)} {describe_outcome(execution, task.spec.timeout)}"
        severity = severity_for(task.spec.priority, task.spec.notify_on_failure)
        self.raise_alert(
            TASK_FAILED, severity, message, now=now, task_id=task.id, details=failure_details(task, execution)
        )

    def _raise_missed(self, runs: Sequence[tuple[Task, Execution]], now: datetime) -> None:
        task, last = runs[-1]
        severity = severity_for(task.spec.priority, task.spec.notify_on_failure)
        details = {
            "category": task.spec.category,
            "last_missed_slot": last.scheduled_for.isoformat(),
            "reason": last.reason,
        }
        message = f"{task_label(task)} missed scheduled runs (no runner could start them in time)"
        self.raise_alert(MISSED, severity, message, now=now, task_id=task.id, details=details, increment=len(runs))

    def _resolve_after_success(self, successes: Sequence[tuple[Task, Execution]], now: datetime) -> None:
        dead_mans_switches = [rule for rule in self._cached_rules(now) if rule.kind is RuleKind.NO_SUCCESS]
        keys: set[tuple[str, int | None]] = set()
        for task, _execution in successes:
            keys.update((kind, task.id) for kind in RESOLVED_BY_SUCCESS)
            keys.update((rule.alert_kind, task.id) for rule in dead_mans_switches if rule.applies_to(task.id))
        open_now = self._store.alerts.open_keys(keys)  # a read: most successes have nothing open
        if open_now:
            resolved = self._store.alerts.resolve_many(open_now, now=now)
            for alert in resolved:
                log.info(
                    "alert %s resolved by a successful run: %s", alert.id, alert.message, extra={"action": "resolve"}
                )
            if resolved:
                self._due()

    def _check_short_runs(self, rule: AlertRule, successes: Sequence[tuple[Task, Execution]], now: datetime) -> None:
        for task, execution in successes:
            finding = short_run(rule, execution, task_label(task))
            if finding is not None:
                self.raise_alert(
                    rule.alert_kind, rule.severity, finding.message, now=now, task_id=task.id, details=finding.details
                )
            elif ends_short_run(rule, execution):
                self.resolve(rule.alert_kind, now=now, task_id=task.id)

    def _due(self) -> None:
        if self._on_due is not None:
            self._on_due()

    def _cached_rules(self, now: datetime) -> list[AlertRule]:
        stale = (
            self._rules_loaded_at is None or abs((now - self._rules_loaded_at).total_seconds()) > RULES_CACHE_SECONDS
        )
        if stale:
            self._rules = self._store.alert_rules.list(enabled_only=True)
            self._rules_loaded_at = now
        return self._rules

    # -- any alert -------------------------------------------------------------------------------

    def raise_alert(
        self,
        kind: str,
        severity: Severity,
        message: str,
        *,
        now: datetime,
        task_id: int | None = None,
        details: dict[str, Any] | None = None,
        increment: int = 1,
    ) -> Alert:
        """Open the (task, kind) alert or count one more occurrence of the open one.

        Critical alerts also go to errors.log. A repeat at a higher severity raises the alert's
        severity (and brings its first message forward); it never lowers it.
        """
        message = safe_line(message, 1000)
        notify_after = first_message_at(severity, now, self._settings.alert_high_delay)
        alert, created = self._store.alerts.raise_or_repeat(
            kind,
            task_id=task_id,
            severity=severity,
            message=message,
            now=now,
            notify_after=notify_after,
            details=details,
            increment=increment,
        )
        escalated = not created and more_severe(severity, alert.severity)
        if escalated:
            self._store.alerts.escalate(alert.id, severity, notify_after)
            alert = self._store.alerts.get(alert.id)
        if (created or escalated) and notify_after is not None and notify_after <= now:
            self._due()
        fields = {"action": "alert", "task": alert.task_name or "-"}
        if severity is Severity.CRITICAL:
            log.error("CRITICAL alert %s (%sx): %s", alert.id, alert.count, message, extra=fields)
        elif created:
            log.warning("%s alert %s: %s", severity.value, alert.id, message, extra=fields)
        return alert

    def resolve(self, kind: str, *, now: datetime, task_id: int | None = None, message: str | None = None) -> bool:
        """Resolve the open (task, kind) alert; False when none was open."""
        resolved = self._store.alerts.resolve(
            kind, task_id=task_id, now=now, message=safe_line(message, 1000) if message else None
        )
        if resolved is not None:
            log.info("alert %s resolved: %s", resolved.id, resolved.message, extra={"action": "resolve"})
            self._due()
        return resolved is not None

    def acknowledge(self, alert_id: int, *, by: str, now: datetime) -> Alert:
        """A person is on it: no reminders. ``NotFoundError`` for an unknown id, ``UserError`` for
        a resolved alert."""
        alert = self._store.alerts.acknowledge(alert_id, by=safe_line(by, 128) or "unknown", now=now)
        log.info("alert %s acknowledged by %s", alert.id, alert.acknowledged_by, extra={"action": "acknowledge"})
        return alert

    def resolve_by_id(self, alert_id: int, *, now: datetime, by: str | None = None) -> Alert:
        """Resolve by hand (the CLI, the dashboard). A resolved alert stays as it was."""
        before = self._store.alerts.get(alert_id)
        alert = self._store.alerts.resolve_by_id(alert_id, now=now)
        if before.state is not AlertState.RESOLVED:
            log.info("alert %s resolved by %s", alert.id, by or "hand", extra={"action": "resolve"})
        return alert

    def send_test(self, *, by: str, now: datetime) -> str:
        """Queue a test message for every configured channel (the dispatcher sends it); returns
        where it goes, for a person to read. ``alerts test`` sends directly instead."""
        from smartcron.alerts.channels import build_channels
        from smartcron.alerts.messages import MessageContext, test_message
        from smartcron.store.notifications import NewNotification

        channels, _problems = build_channels(self._settings)
        context = MessageContext(self._settings.web_base_url, self._settings.node, self._settings.timezone)
        subject, body = test_message(context, now)
        rows: list[NewNotification] = []
        targets: list[str] = []
        for channel in channels:
            recipients = tuple(self._settings.alert_email_to) if channel.addressed else ()
            if channel.addressed and not recipients:
                continue
            rows.append(NewNotification(NotificationKind.TEST, channel.id, subject, body, recipients))
            targets.append(f"{channel.label} to {', '.join(recipients)}" if recipients else channel.label)
        self._store.notifications.add(rows, now=now)
        log.info("test message queued by %s for %s", by, "; ".join(targets) or "no channel", extra={"action": "test"})
        return "; ".join(targets) if targets else "no channel is configured"

    def evaluate_rules(self, now: datetime) -> None:
        """Custom rules (long run, failure rate, no success); the daemon and health call this."""
        RuleEvaluator(self._store, self).evaluate(now)
        self._rules_loaded_at = None  # rules may have changed; the finish path reloads them

    def purge_before(self, now: datetime) -> int:
        """Retention for alerts and their messages (``retention_alerts_days``); returns rows deleted."""
        cutoff = now - timedelta(days=self._settings.retention_alerts_days)
        deleted = 0
        while count := self._store.notifications.delete_finished_before(cutoff):
            deleted += count
        while count := self._store.alerts.delete_resolved_before(cutoff):
            deleted += count
        return deleted
