"""The runner's calls into alerting and health monitoring.

Alerts never stand in the runner's way: recording a finished run calls the alert service (database
writes only) from the recorder thread, sending happens in a background thread of the daemon (or
once at the end of a tick), and an error in either is logged and forgotten (an unreachable
database is not logged here at all: ``connectivity.DatabaseStatus`` says so once). The packages
are imported on first use, so the runner works (without alerts) where they are not installed.

One alert cannot go through the database: that the database is unreachable. ``send_outage_alert``
sends it straight through the configured channels (SMTP, apprise), not through the outbox.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from smartcron.config import Settings
from smartcron.domain.enums import Severity
from smartcron.domain.execution import Execution
from smartcron.domain.task import Task
from smartcron.runner.scheduling.connectivity import is_unreachable
from smartcron.store import Store

log = logging.getLogger(__name__)


def optional_attribute(module_name: str, attribute: str) -> Any | None:
    """``module.attribute``, or None when that module does not exist (a part not installed)."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            return None
        raise
    return getattr(module, attribute, None)


def _construct(module_name: str, attribute: str, *args: Any, **kwargs: Any) -> Any | None:
    """An instance of an optional part, or None when it is absent or cannot be set up (logged)."""
    part = optional_attribute(module_name, attribute)
    if part is None:
        return None
    try:
        return part(*args, **kwargs)
    except Exception:
        log.exception("%s.%s cannot be set up; going on without it", module_name, attribute, extra={"action": "alert"})
        return None


class AlertHook:
    """Tells the alert service about final rows (failures, missed slots, recoveries).

    ``due`` is set when a message may be owed at once (see ``AlertService``): the daemon's sender
    waits on it."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.due = threading.Event()
        self._service = _construct("smartcron.alerts.service", "AlertService", store, settings, on_due=self.due.set)

    def finished(self, runs: Sequence[tuple[Task, Execution]], now: datetime) -> None:
        if self._service is None or not runs:
            return
        try:
            self._service.on_executions_finished(list(runs), now)
        except Exception as exc:
            _log_failure(exc, f"alert service failed on {len(runs)} finished run(s)")

    def evaluate_rules(self, now: datetime) -> None:
        if self._service is None:
            return
        try:
            self._service.evaluate_rules(now)
        except Exception as exc:
            _log_failure(exc, "alert rules failed")

    def raise_system(self, kind: str, severity: Severity, message: str, now: datetime) -> None:
        """An alert about the runner itself (a clock jump), not about one task."""
        if self._service is None:
            return
        try:
            self._service.raise_alert(kind, severity, message, now=now)
        except Exception as exc:
            _log_failure(exc, f"could not raise the {kind} alert")


def _log_failure(exc: BaseException, what: str) -> None:
    if is_unreachable(exc):
        log.debug("%s: the database is unreachable", what, extra={"action": "alert"})
    else:
        log.exception(what, extra={"action": "alert"})


class AlertSender:
    """Sends due notifications through the alert dispatcher (one instance, reused every pass)."""

    def __init__(self, store: Store, settings: Settings, *, node: str) -> None:
        self._dispatcher = _construct("smartcron.alerts.dispatcher", "Dispatcher", store, settings, node=node)

    def send(self, now: datetime) -> int:
        """Returns how many notifications were sent (0 when alerts are absent or failed)."""
        if self._dispatcher is None:
            return 0
        try:
            return int(self._dispatcher.send_pending(now))
        except Exception as exc:
            _log_failure(exc, "sending alerts failed")
            return 0


def run_health_checks(store: Store, settings: Settings, now: datetime) -> None:
    monitor_class = optional_attribute("smartcron.monitor.service", "HealthMonitor")
    if monitor_class is None:
        return
    try:
        monitor_class(store, settings).run(now)
    except Exception as exc:
        _log_failure(exc, "health checks failed")


def send_outage_alert(settings: Settings, *, node: str, since: datetime, reason: str, back: bool = False) -> int:
    """Tell the configured channels that this node cannot reach its database (or, ``back``, that
    it can again), without the database; returns how many channels took the message."""
    channels_module = optional_attribute("smartcron.alerts.channels", "build_channels")
    message_class = optional_attribute("smartcron.alerts.channels", "OutgoingMessage")
    if channels_module is None or message_class is None:
        return 0
    channels, _ = channels_module(settings)
    when = since.strftime("%Y-%m-%d %H:%M:%S %Z")
    if back:
        subject = f"[smartcron] RESOLVED: database reachable again from {node}"
        body = f"Runner {node} reaches its database again (it was unreachable since {when}).\n"
    else:
        subject = f"[smartcron] CRITICAL: database unreachable from {node}"
        body = (
            f"Runner {node} cannot reach its database since {when}: {reason}\n\n"
            "Running tasks keep running and are still supervised; their results wait in the runner's\n"
            "spool and are written when the database is back. No new run starts until then.\n"
        )
    message = message_class(subject=subject, body=body, recipients=tuple(settings.alert_email_to), reference=None)
    delivered = 0
    for channel in channels:
        if channel.addressed and not message.recipients:
            continue
        try:
            results = channel.deliver([message])
        except Exception:
            log.exception("could not send the outage alert through %s", channel.label, extra={"action": "notify"})
            continue
        if results and results[0].ok:
            delivered += 1
        else:
            log.warning("the outage alert did not go through %s", channel.label, extra={"action": "notify"})
    return delivered
