"""Adding and removing custom alert rules, from the dashboard, the API or the command line: the
checks of :mod:`smartcron.alerts.rules`, one audit entry (target: the rule's name)."""

from __future__ import annotations

from smartcron.alerts.rules import add_rule, remove_rule
from smartcron.domain.alert_rules import AlertRule
from smartcron.domain.enums import Severity
from smartcron.store import Store


def add_alert_rule(
    store: Store,
    *,
    by: str,
    name: str,
    kind: str,
    threshold: str | float,
    task: str | None = None,
    window: str | float | None = None,
    min_runs: int | None = None,
    severity: str = Severity.HIGH.value,
) -> AlertRule:
    """Check and store a rule (``UserError`` naming the field; the name must be free)."""
    now = store.database_now()
    rule = add_rule(
        store,
        name=name,
        kind=kind,
        threshold=threshold,
        now=now,
        task=task,
        window=window,
        min_runs=min_runs,
        severity=severity,
    )
    store.audit.record(by, "rule.add", name, rule.to_dict() | {"created_at": None}, now=now)
    return rule


def remove_alert_rule(store: Store, name: str, *, by: str) -> AlertRule:
    """Remove a rule and resolve the alerts it raised; ``NotFoundError`` for no such rule."""
    now = store.database_now()
    rule = remove_rule(store, name, now=now)
    store.audit.record(by, "rule.remove", name, None, now=now)
    return rule


def set_alert_rule_enabled(store: Store, name: str, *, enabled: bool, by: str) -> AlertRule:
    """Turn a rule on or off (audited ``rule.enable`` / ``rule.disable``). A disabled rule is not
    evaluated, so the alerts it raised are resolved with it (nothing would resolve them while it
    is off); enabling it again judges afresh. ``NotFoundError`` for no such rule."""
    now = store.database_now()
    rule = store.alert_rules.set_enabled(name, enabled)
    if not enabled:
        for alert in store.alerts.open_of_kind(rule.alert_kind):
            store.alerts.resolve(rule.alert_kind, task_id=alert.task_id, now=now, message=None)
    store.audit.record(by, "rule.enable" if enabled else "rule.disable", name, None, now=now)
    return rule
