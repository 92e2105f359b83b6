"""Silencing the alerts of a task or of a custom rule for a while, from the dashboard, the API or
the command line: one check, one audit entry (``alert.silence`` / ``alert.unsilence``, target
``silence ID``). The dispatcher decides what a silence holds back
(:meth:`smartcron.alerts.dispatcher.Dispatcher.queue_due`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from smartcron.alerts.messages import safe_line
from smartcron.domain.silences import Silence
from smartcron.errors import UserError
from smartcron.services.alert_actions import period_end
from smartcron.store import Store

MIN_SILENCE = timedelta(minutes=1)
MAX_SILENCE = timedelta(days=90)
MAX_REASON = 255


def silence_target(silence_id: int) -> str:
    """How the audit log names a silence."""
    return f"silence {silence_id}"


def silence_alerts(
    store: Store,
    *,
    by: str,
    task: str | None = None,
    rule: str | None = None,
    duration: str | float | None = None,
    until: datetime | None = None,
    reason: str | None = None,
) -> Silence:
    """No message about the alerts of ``task``, of ``rule``, or of ``rule`` on ``task``, until the
    silence ends (``duration`` or ``until``: 1 minute to 90 days). Alerts are still raised, stored
    and shown. ``UserError`` naming the field, ``NotFoundError`` for no such task or rule."""
    if not task and not rule:
        raise UserError("task: give a task or a rule (or both) to silence")
    if reason is not None and len(reason) > MAX_REASON:
        raise UserError(f"reason: at most {MAX_REASON} characters")
    now = store.database_now()
    end = period_end(now=now, duration=duration, until=until, least=MIN_SILENCE, most=MAX_SILENCE, what="silence")
    task_id = store.tasks.get(task).id if task else None
    rule_id = store.alert_rules.get(rule).id if rule else None
    silence = store.silences.add(
        task_id=task_id,
        rule_id=rule_id,
        until=end,
        reason=safe_line(reason, MAX_REASON) if reason else None,
        created_by=by,
        now=now,
    )
    details = {"task": task or None, "rule": rule or None, "until": silence.until.isoformat(), "reason": silence.reason}
    store.audit.record(by, "alert.silence", silence_target(silence.id), details, now=now)
    return silence


def remove_silence(store: Store, silence_id: int, *, by: str) -> Silence:
    """End a silence now: alerts it held back that are still open get their message at once.
    ``NotFoundError`` for no such silence."""
    now = store.database_now()
    silence = store.silences.remove(silence_id)
    details = {"task": silence.task_name, "rule": silence.rule_name}
    store.audit.record(by, "alert.unsilence", silence_target(silence_id), details, now=now)
    return silence
