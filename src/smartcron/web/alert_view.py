"""What the alert center says about each alert beyond its message: the error line of the run that
raised it, a link to that run, and what became of the mail (sent when and to whom, due, failed, or
never, and why)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from smartcron.domain.alerts import Alert, Notification, NotificationState
from smartcron.domain.enums import Severity
from smartcron.store import Store

ERROR_LINE_CHARS = 200


@dataclass(frozen=True, slots=True)
class Delivery:
    what: str
    """``mailed``, ``sent`` (a channel other than email), ``mail due``, ``mail failed``, ``mails at``
    (a high alert waiting out its delay), ``not mailed``."""
    at: datetime | None = None
    to: str = ""


@dataclass(frozen=True, slots=True)
class AlertFacts:
    error: str | None
    execution_id: int | None
    delivery: Delivery
    silenced_until: datetime | None = None
    """The end of the latest silence in force that covers the alert."""


def error_line(details: dict[str, object] | None) -> str | None:
    """The last non-empty line of the run's output, or the reason it was recorded with."""
    if not details:
        return None
    tail = details.get("output_tail")
    if isinstance(tail, str):
        lines = [line.strip() for line in tail.splitlines() if line.strip()]
        if lines:
            return lines[-1][:ERROR_LINE_CHARS]
    reason = details.get("reason")
    return reason[:ERROR_LINE_CHARS] if isinstance(reason, str) and reason else None


def delivery_of(alert: Alert, message: Notification | None, silenced_until: datetime | None = None) -> Delivery:
    if silenced_until is not None and alert.active and (message is None or message.state is not NotificationState.SENT):
        return Delivery("silenced until", silenced_until, "not mailed meanwhile")
    if message is not None:
        to = ", ".join(message.recipients) if message.channel == "email" else message.channel
        if message.state is NotificationState.SENT:
            return Delivery("mailed" if message.channel == "email" else "sent", message.sent_at, to)
        if message.state is NotificationState.FAILED:
            return Delivery("mail failed", message.next_attempt_at, (message.last_error or "")[:ERROR_LINE_CHARS])
        return Delivery("mail due", message.next_attempt_at, to)
    if alert.severity is Severity.LOW:
        return Delivery("not mailed", to="low alerts are only stored")
    if alert.active and alert.notify_after is not None and alert.notified_at is None:
        return Delivery("mails at", alert.notify_after, "unless it recovers first")
    return Delivery("not mailed")


def alert_facts(store: Store, alerts: Sequence[Alert], *, now: datetime) -> dict[int, AlertFacts]:
    """The facts of each of ``alerts``, by alert id (one query for all their messages, one for the
    silences in force at ``now``)."""
    messages = store.notifications.latest_for_alerts([alert.id for alert in alerts])
    silences = store.silences.active(now) if any(alert.active for alert in alerts) else []
    found = {}
    for alert in alerts:
        execution = (alert.details or {}).get("execution_id")
        covering = [item.until for item in silences if alert.active and item.matches(alert.kind, alert.task_id)]
        silenced_until = max(covering) if covering else None
        found[alert.id] = AlertFacts(
            error_line(alert.details),
            execution if isinstance(execution, int) else None,
            delivery_of(alert, messages.get(alert.id), silenced_until),
            silenced_until,
        )
    return found


def open_alert_count(store: Store) -> int:
    """Active alerts (open or acknowledged), for the count beside Alerts in the navigation."""
    return sum(store.alerts.count_open_by_severity().values())
