"""The seed's daily report (07:00: yesterday's runs, failures, slowest tasks, disk) and its 6 pm
error summary (failures of the last 24 hours), as text for a terminal or an email, and as JSON.

Mail goes through the alert dispatcher's outbox (a notification row of kind ``report``), so a mail
server that is down is retried like any alert message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from smartcron.config import Settings
from smartcron.domain.enums import ExecutionStatus
from smartcron.domain.execution import Execution
from smartcron.monitor.checks import MIB, SystemReaders, read_snapshot
from smartcron.store import Store
from smartcron.store.run_stats import TaskDurations

FAILURES_LISTED = 50
SLOWEST_LISTED = 10


@dataclass(frozen=True, slots=True)
class Report:
    title: str
    since: datetime
    until: datetime
    runs: dict[str, int]
    success_rate: float | None
    failures: list[Execution]
    slowest: list[TaskDurations] = field(default_factory=list)
    disk: dict[str, float | None] = field(default_factory=dict)

    @property
    def failure_count(self) -> int:
        return sum(n for status, n in self.runs.items() if ExecutionStatus(status).is_failure)

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "runs": self.runs,
            "success_rate": self.success_rate,
            "failures": [
                {
                    "id": x.id,
                    "task": x.task_name,
                    "status": x.status.value,
                    "exit_code": x.exit_code,
                    "reason": x.reason,
                    "finished_at": x.finished_at.isoformat() if x.finished_at else None,
                }
                for x in self.failures
            ],
            "slowest": [
                {"task": d.task_name, "runs": d.runs, "average_ms": round(d.average_ms), "max_ms": d.max_ms}
                for d in self.slowest
            ],
            "disk": self.disk,
        }


def _local_midnight(when: datetime, settings: Settings) -> datetime:
    local = when.astimezone(settings.tzinfo)
    return datetime.combine(local.date(), time(0), tzinfo=settings.tzinfo)


def yesterday(now: datetime, settings: Settings) -> tuple[datetime, datetime]:
    """Yesterday from midnight to midnight in the configured zone (23 or 25 hours on DST days)."""
    today = _local_midnight(now, settings)
    start = _local_midnight(today - timedelta(hours=12), settings)
    return start, today


def _disk(store: Store, settings: Settings, readers: SystemReaders) -> dict[str, float | None]:
    snapshot = read_snapshot(settings, readers)
    database = store.health.database_size_bytes()
    return {
        "data_used_percent": round(snapshot.disk_data_percent, 1),
        "logs_used_percent": round(snapshot.disk_logs_percent, 1),
        "log_dir_mb": round(snapshot.log_dir_bytes / MIB, 1),
        "database_mb": None if database is None else round(database / MIB, 1),
    }


def _build(store: Store, title: str, since: datetime, until: datetime) -> dict[str, Any]:
    return {
        "title": title,
        "since": since,
        "until": until,
        "runs": {status.value: n for status, n in sorted(store.run_stats.status_counts(since, until).items())},
        "success_rate": store.run_stats.slot_outcomes(since, until).success_rate,
        "failures": store.run_stats.failures(since, until, limit=FAILURES_LISTED),
    }


def daily_report(store: Store, settings: Settings, now: datetime, *, readers: SystemReaders | None = None) -> Report:
    since, until = yesterday(now, settings)
    day = since.date().isoformat()
    return Report(
        **_build(store, f"smartcron daily report for {day}", since, until),
        slowest=store.run_stats.durations(since, until, limit=SLOWEST_LISTED),
        disk=_disk(store, settings, readers or SystemReaders()),
    )


def error_summary(store: Store, settings: Settings, now: datetime) -> Report:
    since = now - timedelta(days=1)
    local = now.astimezone(settings.tzinfo).strftime("%Y-%m-%d %H:%M")
    return Report(**_build(store, f"smartcron error summary, 24 hours to {local}", since, now))


def render_text(report: Report, settings: Settings) -> str:
    zone = settings.tzinfo

    def local(when: datetime | None) -> str:
        return when.astimezone(zone).strftime("%Y-%m-%d %H:%M") if when else "-"

    total = sum(report.runs.values())
    lines = [report.title, f"{local(report.since)} to {local(report.until)} ({settings.timezone})", ""]
    counts = ", ".join(f"{n} {status}" for status, n in report.runs.items()) or "none"
    lines.append(f"Runs: {total} ({counts})")
    if report.success_rate is not None:
        lines.append(f"Success rate after retries: {report.success_rate:.2f} %")
    lines += ["", f"Failures: {report.failure_count}"]
    for x in report.failures:
        why = x.reason or (f"exit {x.exit_code}" if x.exit_code is not None else "")
        lines.append(f"  {local(x.finished_at)}  {x.task_name}  {x.status.value}  {why}  (run {x.id})".rstrip())
    if len(report.failures) < report.failure_count:
        lines.append(f"  ... and {report.failure_count - len(report.failures)} more")
    if report.slowest:
        lines += ["", "Slowest tasks (average, longest, runs):"]
        for d in report.slowest:
            lines.append(f"  {d.task_name}  {d.average_ms / 1000:.1f} s  {d.max_ms / 1000:.1f} s  {d.runs}")
    if report.disk:
        lines += ["", "Disk:"]
        for key, value in report.disk.items():
            lines.append(f"  {key.replace('_', ' ')}: {'-' if value is None else value}")
    return "\n".join(lines) + "\n"


def email_report(store: Store, settings: Settings, report: Report, now: datetime) -> str:
    """Queue the report for the configured recipients and send it; says what happened."""
    if not settings.smtp_host or not settings.alert_email_to:
        return "not mailed: no mail server or recipients configured ([smtp] host, [alert] email_to)"
    from smartcron.alerts.dispatcher import Dispatcher
    from smartcron.domain.alerts import NotificationKind, NotificationState
    from smartcron.store.notifications import NewNotification

    message = NewNotification(
        NotificationKind.REPORT, "email", report.title, render_text(report, settings), settings.alert_email_to
    )
    [notification_id] = store.notifications.add([message], now=now)
    Dispatcher(store, settings, node=settings.node).send_pending(now)
    sent = store.notifications.get(notification_id)
    if sent is not None and sent.state is NotificationState.SENT:
        return f"mailed to {', '.join(settings.alert_email_to)}"
    error = f": {sent.last_error}" if sent is not None and sent.last_error else ""
    return f"queued for {', '.join(settings.alert_email_to)}; the mail server did not take it yet{error}"
