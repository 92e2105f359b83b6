"""What a person does to an alert, from the dashboard, the API or the command line: acknowledge,
resolve, snooze. One function each, one rule, one audit entry (target ``alert ID``)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from smartcron.alerts.service import AlertService
from smartcron.config import Settings
from smartcron.domain.alert_rules import format_duration, parse_duration
from smartcron.domain.alerts import Alert
from smartcron.errors import UserError
from smartcron.store import Store

MIN_SNOOZE = timedelta(minutes=1)
MAX_SNOOZE = timedelta(days=30)


def alert_target(alert_id: int) -> str:
    """How the audit log names an alert."""
    return f"alert {alert_id}"


def acknowledge_alert(store: Store, settings: Settings, alert_id: int, *, by: str) -> Alert:
    """Someone is on it: no more reminders. ``UserError`` for a resolved alert."""
    now = store.database_now()
    alert = AlertService(store, settings).acknowledge(alert_id, by=by, now=now)
    store.audit.record(by, "alert.ack", alert_target(alert_id), {"kind": alert.kind}, now=now)
    return alert


def resolve_alert(store: Store, settings: Settings, alert_id: int, *, by: str) -> Alert:
    """Resolve by hand (a success of the task would resolve its failure alert anyway). Resolving a
    resolved alert changes nothing and is still answered with the alert."""
    now = store.database_now()
    alert = AlertService(store, settings).resolve_by_id(alert_id, now=now, by=by)
    store.audit.record(by, "alert.resolve", alert_target(alert_id), {"kind": alert.kind}, now=now)
    return alert


def snooze_until(*, now: datetime, duration: str | float | None = None, until: datetime | None = None) -> datetime:
    """When a snooze asked for as ``duration`` (``2h``, ``90m``, seconds) or ``until`` ends;
    exactly one of them, between :data:`MIN_SNOOZE` and :data:`MAX_SNOOZE` from ``now``."""
    return period_end(now=now, duration=duration, until=until, least=MIN_SNOOZE, most=MAX_SNOOZE, what="snooze")


def period_end(
    *,
    now: datetime,
    duration: str | float | None,
    until: datetime | None,
    least: timedelta,
    most: timedelta,
    what: str,
) -> datetime:
    """When a period (a snooze, a silence) asked for as ``duration`` or ``until`` ends: exactly one
    of them, between ``least`` and ``most`` from ``now``; ``UserError`` naming the field."""
    if (duration is None) == (until is None):
        raise UserError(f"{what}: give a duration or an end time (until), one of the two")
    bounds = f"a {what} lasts from {format_duration(least.total_seconds())} to {format_duration(most.total_seconds())}"
    if until is not None:
        if until.tzinfo is None:
            raise UserError("until: give a time zone (e.g. 2026-03-01T14:00:00Z)")
        end = until.astimezone(UTC)
        if not now + least <= end <= now + most:
            raise UserError(f"until: {bounds} from now")
        return end
    seconds = duration if isinstance(duration, int | float) else parse_duration(str(duration))
    if seconds is None or not math.isfinite(seconds):
        raise UserError(f"duration: {str(duration)[:40]!r} is not a duration (e.g. 30m, 2h, 1d)")
    if not least.total_seconds() <= seconds <= most.total_seconds():
        raise UserError(f"duration: {bounds}")
    return now + timedelta(seconds=seconds)


def snooze_alert(
    store: Store,
    alert_id: int,
    *,
    by: str,
    duration: str | float | None = None,
    until: datetime | None = None,
) -> Alert:
    """No message about the alert (first or reminder) until the snooze ends; then its reminders
    resume (one is sent at once if it is owed). The alert stays active and shown. ``UserError``
    for a bad or unbounded time, ``ConflictError`` for a resolved alert."""
    now = store.database_now()
    end = snooze_until(now=now, duration=duration, until=until)
    alert = store.alerts.snooze(alert_id, until=end)
    stored = alert.snoozed_until or end  # as the database keeps it (milliseconds on SQLite)
    store.audit.record(
        by, "alert.snooze", alert_target(alert_id), {"kind": alert.kind, "until": stored.isoformat()}, now=now
    )
    return alert
