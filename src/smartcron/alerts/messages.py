"""The text people read: subjects and plain-text bodies of alert, reminder, resolved and digest
messages. Everything that came from a task (output, reasons, names) is made safe first: no control
characters except newline and tab, no terminal escapes, bounded length.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from smartcron.domain.alert_rules import format_duration
from smartcron.domain.alerts import TASK_FAILED, Alert, NotificationKind, signal_name
from smartcron.domain.enums import Severity
from smartcron.domain.task import Task

MAX_SUBJECT_CHARS = 200
MAX_OUTPUT_LINES = 30
MAX_OUTPUT_CHARS = 4000
MAX_DIGEST_ITEMS = 50
MAX_DETAIL_CHARS = 300

_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
# C0 controls except tab and newline, DEL, C1 controls, and the bidi overrides that can make
# text read differently from what it says.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def safe_text(text: str) -> str:
    """Text as it may appear in a message: terminal escapes removed, CR LF made LF, other control
    characters dropped."""
    text = _ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    return _UNSAFE.sub("", text)


def safe_line(text: str, limit: int = MAX_SUBJECT_CHARS) -> str:
    """One line (for a subject or a list entry): whitespace runs collapsed, bounded."""
    line = " ".join(safe_text(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def output_tail(output: str | None) -> str:
    """The last lines of a run's output, bounded in lines and characters."""
    if not output:
        return ""
    lines = safe_text(output).rstrip("\n").split("\n")[-MAX_OUTPUT_LINES:]
    text = "\n".join(lines)
    return text[-MAX_OUTPUT_CHARS:]


@dataclass(frozen=True, slots=True)
class MessageContext:
    """What every message needs besides the alert: where links point, whose clock people read."""

    web_base_url: str
    node: str
    timezone: str = "UTC"

    def task_url(self, task_name: str) -> str | None:
        if not self.web_base_url:
            return None
        return f"{self.web_base_url.rstrip('/')}/tasks/{quote(task_name, safe='')}"

    def alerts_url(self) -> str | None:
        return f"{self.web_base_url.rstrip('/')}/alerts" if self.web_base_url else None


def zone_of(task: Task | None, context: MessageContext) -> ZoneInfo:
    try:
        return ZoneInfo((task.spec.timezone if task else None) or context.timezone)
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


def local(when: datetime | str | None, zone: ZoneInfo) -> str:
    if when is None:
        return "-"
    if isinstance(when, str):
        try:
            parsed = datetime.fromisoformat(when)
        except ValueError:
            return safe_line(when, 40)
        return local(parsed, zone)
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def subject_for(alert: Alert, kind: NotificationKind) -> str:
    """``[smartcron CRITICAL] payroll/payroll_auto_start failed (exit 1)``."""
    severity = alert.severity.value.upper()
    if kind is NotificationKind.RESOLVED:
        what = alert.message
        if alert.kind == TASK_FAILED and alert.task_name:
            category = (alert.details or {}).get("category")
            what = f"{category}/{alert.task_name} recovered" if category else f"{alert.task_name} recovered"
        return safe_line(f"[smartcron RESOLVED] {what}")
    if kind is NotificationKind.REMINDER:
        return safe_line(f"[smartcron {severity}] still open: {alert.message} ({alert.count}x)")
    return safe_line(f"[smartcron {severity}] {alert.message}")


def body_for(alert: Alert, kind: NotificationKind, task: Task | None, context: MessageContext) -> str:
    zone = zone_of(task, context)
    details = alert.details or {}
    lines: list[str] = [safe_text(alert.message), ""]
    if kind is NotificationKind.RESOLVED:
        lines[0] = f"Resolved: {safe_text(alert.message)}"
        lines += _field("Resolved at", local(alert.resolved_at, zone))
    elif kind is NotificationKind.REMINDER:
        lines[0] = f"Still open: {safe_text(alert.message)}"
    if task is not None:
        lines += _field("Task", task.name)
        lines += _field("Category", task.spec.category)
    lines += _field("Severity", alert.severity.value.upper())
    if alert.kind == TASK_FAILED:
        lines += _failure_fields(details, zone)
    else:
        lines += _field("Kind", alert.kind)
        lines += _extra_fields(details)
    lines += _field("Occurrences", f"{alert.count} since {local(alert.first_seen, zone)}")
    if alert.count > 1:
        lines += _field("Last seen", local(alert.last_seen, zone))
    if task is not None and task.next_run_at is not None:
        lines += _field("Next run", f"{local(task.next_run_at, zone)} ({zone.key})")
    if task is not None and (url := context.task_url(task.name)):
        lines += _field("Dashboard", url)
    lines += _field("Alert id", str(alert.id))
    tail = output_tail(details.get("output_tail"))
    if tail and kind is not NotificationKind.RESOLVED:
        lines += ["", "Last lines of output:"] + [f"  | {line}" for line in tail.split("\n")]
    if kind is not NotificationKind.RESOLVED:
        lines += ["", f"Acknowledge: smartcron alerts ack {alert.id}"]
    return "\n".join(lines + _signature(context)) + "\n"


def _field(label: str, value: str) -> list[str]:
    return [f"{label + ':':<14}{safe_line(value, 500)}"]


def what_happened(details: dict[str, Any]) -> str:
    status = details.get("status")
    if status == "timeout":
        limit = details.get("timeout")
        return f"timed out after {limit} s and was terminated" if limit else "timed out and was terminated"
    if status == "abandoned":
        return "abandoned: its runner died and the run was cut short"
    if status == "unknown_outcome":
        return "outcome unknown: the process ended while no runner watched it"
    if status == "superseded":
        return "superseded: its node stopped renewing the run's lease and another node took over"
    if status == "killed":
        return f"killed ({details.get('reason') or 'no reason recorded'})"
    if details.get("signal"):
        return f"killed by signal {signal_name(int(details['signal']))}"
    code = details.get("exit_code")
    if code is not None:
        if details.get("error_category") == "fatal" and code in (126, 127):
            return f"could not start (exit {code}: {'not executable' if code == 126 else 'command not found'})"
        return f"exited with code {code}"
    return str(details.get("reason") or status or "failed")


def _failure_fields(details: dict[str, Any], zone: ZoneInfo) -> list[str]:
    lines = _field("What happened", what_happened(details))
    if details.get("error_category"):
        lines += _field("Error type", f"{details['error_category']} (fatal errors are not retried)")
    if details.get("attempt") is not None:
        attempts = int(details["attempt"]) + 1
        lines += _field("Attempts", f"{attempts} (retries allowed: {details.get('retries', 0)})")
    if details.get("duration_ms") is not None:
        lines += _field("Duration", format_duration(int(details["duration_ms"]) / 1000))
    if details.get("scheduled_for"):
        lines += _field("Scheduled for", local(details["scheduled_for"], zone))
    if details.get("execution_id") is not None:
        lines += _field("Execution", f"{details['execution_id']} (smartcron logs {details['execution_id']})")
    return lines


def _extra_fields(details: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for key, value in sorted(details.items())[:12]:
        if key == "output_tail" or value is None or isinstance(value, dict | list):
            continue
        lines += _field(key.replace("_", " ").capitalize(), safe_line(str(value), MAX_DETAIL_CHARS))
    return lines


def _signature(context: MessageContext) -> list[str]:
    return ["", "-- ", f"smartcron on {safe_line(context.node, 64)}"]


# -- digests ----------------------------------------------------------------------------------------


def digest_subject(items: Sequence[tuple[Alert, NotificationKind]]) -> str:
    new = [alert for alert, kind in items if kind is not NotificationKind.RESOLVED]
    resolved = len(items) - len(new)
    parts: list[str] = []
    if new:
        per_severity = [
            f"{sum(1 for x in new if x.severity is s)} {s.value}" for s in Severity if any(x.severity is s for x in new)
        ]
        parts.append(f"{len(new)} alerts ({', '.join(per_severity)})")
    if resolved:
        parts.append(f"{resolved} resolved")
    return safe_line(f"[smartcron DIGEST] {', '.join(parts)}")


def digest_body(items: Sequence[tuple[Alert, NotificationKind]], context: MessageContext) -> str:
    """One message for a storm: the most severe first, at most ``MAX_DIGEST_ITEMS`` lines."""
    zone = ZoneInfo(context.timezone) if context.timezone else ZoneInfo("UTC")
    ordered = sorted(
        items, key=lambda x: (x[1] is NotificationKind.RESOLVED, x[0].severity != Severity.CRITICAL, x[0].id)
    )
    lines = [f"{len(items)} alerts changed at once, so they come in one message.", ""]
    for alert, kind in ordered[:MAX_DIGEST_ITEMS]:
        label = "RESOLVED" if kind is NotificationKind.RESOLVED else alert.severity.value.upper()
        when = local(alert.last_seen, zone)
        count = f", {alert.count}x" if alert.count > 1 else ""
        lines.append(f"- [{label}] {safe_line(alert.message, 160)} (alert {alert.id}{count}, {when})")
    hidden = len(ordered) - MAX_DIGEST_ITEMS
    if hidden > 0:
        lines.append(f"... and {hidden} more.")
    where = context.alerts_url()
    lines += ["", f"All alerts: {where}" if where else "All alerts: smartcron alerts list"]
    return "\n".join(lines + _signature(context)) + "\n"


def test_message(context: MessageContext, now: datetime) -> tuple[str, str]:
    zone = ZoneInfo(context.timezone) if context.timezone else ZoneInfo("UTC")
    subject = "[smartcron TEST] alert delivery works"
    body = (
        f"This is a test message from smartcron, sent at {local(now, zone)}.\n"
        "If you can read it, alerts reach you through this channel.\n"
    )
    return subject, body + "\n".join(_signature(context)) + "\n"
