"""Custom alert rules: adding and removing them (validated once, for the CLI and the web), and
evaluating them against the store.

A rule alert lives exactly as long as its condition: evaluation raises it when a task first breaks
the rule and resolves it when the task no longer does. A condition that simply continues is not a
new occurrence, so it does not raise the alert's count. Short-run rules are about single runs and
are checked as runs finish (``AlertService.on_executions_finished``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from smartcron.domain import alert_rules as policy
from smartcron.domain.alert_rules import (
    DEFAULT_MIN_RUNS,
    DEFAULT_WINDOW_SECONDS,
    RULE_NAME,
    AlertRule,
    RuleFinding,
    RuleKind,
    parse_duration,
)
from smartcron.domain.enums import ExecutionStatus, Severity
from smartcron.errors import UserError

if TYPE_CHECKING:
    from smartcron.alerts.service import AlertService
    from smartcron.store import Store

MIN_WINDOW_SECONDS = 60
MAX_DURATION_SECONDS = 366 * 86400


def _duration(text: str | float, what: str) -> float:
    seconds = float(text) if isinstance(text, int | float) else parse_duration(text)
    if seconds is None or not 0 < seconds <= MAX_DURATION_SECONDS:
        raise UserError(f"{what}: expected a duration such as 90s, 15m, 2h or 1d, got {text!r}")
    return seconds


def _percent(text: str | float) -> float:
    try:
        value = float(text) if isinstance(text, int | float) else float(text.strip().rstrip("%"))
    except ValueError:
        value = -1.0
    if not 0 <= value < 100:
        raise UserError(f"threshold: expected a percentage from 0 to 99.9 for failure_rate, got {text!r}")
    return value


def add_rule(
    store: Store,
    *,
    name: str,
    kind: str,
    threshold: str | float,
    now: datetime,
    task: str | None = None,
    window: str | float | None = None,
    min_runs: int | None = None,
    severity: str = Severity.HIGH.value,
) -> AlertRule:
    """Validate and store a rule. Every problem is a ``UserError`` naming the field."""
    if not RULE_NAME.match(name):
        raise UserError(f"rule name {name!r}: use letters, digits, '.', '_' and '-' (at most 128)")
    try:
        rule_kind = RuleKind(kind)
    except ValueError:
        choices = ", ".join(k.value for k in RuleKind)
        raise UserError(f"rule kind {kind!r}: expected one of {choices}") from None
    try:
        rule_severity = Severity(severity)
    except ValueError:
        raise UserError(f"severity {severity!r}: expected critical, high or low") from None
    window_seconds: int | None = None
    if rule_kind is RuleKind.FAILURE_RATE:
        value = _percent(threshold)
        window_seconds = round(_duration(window, "window")) if window is not None else DEFAULT_WINDOW_SECONDS
        if window_seconds < MIN_WINDOW_SECONDS:
            raise UserError(f"window: at least {MIN_WINDOW_SECONDS} s, got {window!r}")
        min_runs = DEFAULT_MIN_RUNS if min_runs is None else min_runs
        if min_runs < 1:
            raise UserError(f"min_runs: expected 1 or more, got {min_runs}")
    else:
        value = _duration(threshold, "threshold")
        if window is not None or min_runs is not None:
            raise UserError(f"window and min_runs apply to failure_rate rules only, not {rule_kind.value}")
    task_id = store.tasks.get(task).id if task else None
    return store.alert_rules.add(
        name,
        rule_kind,
        value,
        severity=rule_severity,
        now=now,
        task_id=task_id,
        window_seconds=window_seconds,
        min_runs=min_runs,
    )


def remove_rule(store: Store, name: str, *, now: datetime) -> AlertRule:
    """Remove a rule and resolve the alerts it raised (nothing would ever resolve them again)."""
    rule = store.alert_rules.get(name)
    store.alert_rules.remove(name)
    for alert in store.alerts.open_of_kind(rule.alert_kind):
        store.alerts.resolve(rule.alert_kind, task_id=alert.task_id, now=now, message=None)
    return rule


class RuleEvaluator:
    def __init__(self, store: Store, service: AlertService) -> None:
        self._store = store
        self._service = service

    def evaluate(self, now: datetime) -> None:
        rules = [
            rule for rule in self._store.alert_rules.list(enabled_only=True) if rule.kind is not RuleKind.SHORT_RUN
        ]
        if not rules:
            return
        tasks = self._store.tasks.list()
        labels = {task.id: f"{task.spec.category}/{task.name}" for task in tasks}
        running = (
            self._store.executions.live(status=ExecutionStatus.RUNNING)
            if any(rule.kind is RuleKind.LONG_RUN for rule in rules)
            else []
        )
        for rule in rules:
            findings: Mapping[int, RuleFinding]
            if rule.kind is RuleKind.LONG_RUN:
                findings = policy.long_runs(rule, running, labels, now)
            elif rule.kind is RuleKind.NO_SUCCESS:
                findings = policy.no_success(rule, tasks, now)
            else:
                since = now - timedelta(seconds=rule.window_seconds or DEFAULT_WINDOW_SECONDS)
                scope = [rule.task_id] if rule.task_id is not None else None
                counts = self._store.alert_rules.run_counts(since, task_ids=scope)
                findings = policy.failure_rates(rule, counts, labels)
            self.apply(rule, findings, now)

    def apply(self, rule: AlertRule, findings: Mapping[int, RuleFinding], now: datetime) -> None:
        """Raise the alert for tasks newly breaking the rule; resolve it for tasks that stopped."""
        open_for = {alert.task_id for alert in self._store.alerts.open_of_kind(rule.alert_kind)}
        for task_id, finding in findings.items():
            if task_id not in open_for:
                self._service.raise_alert(
                    rule.alert_kind, rule.severity, finding.message, now=now, task_id=task_id, details=finding.details
                )
        for stopped in open_for - set(findings):
            self._service.resolve(rule.alert_kind, now=now, task_id=stopped)
