"""The runner's calls into alerting and health monitoring.

Alerts never stand in the runner's way: recording a finished run calls the alert service (database
writes only) from the recorder thread, sending happens in a background thread of the daemon (or
once at the end of a tick), and an error in either is logged and forgotten. The packages are
imported on first use, so the runner works (without alerts) where they are not installed.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from smartcron.config import Settings
from smartcron.domain.execution import Execution
from smartcron.domain.task import Task
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


class AlertHook:
    """Tells the alert service about final rows (failures, missed slots, recoveries)."""

    def __init__(self, store: Store, settings: Settings) -> None:
        service_class = optional_attribute("smartcron.alerts.service", "AlertService")
        self._service = service_class(store, settings) if service_class else None

    def finished(self, runs: Sequence[tuple[Task, Execution]], now: datetime) -> None:
        if self._service is None or not runs:
            return
        try:
            self._service.on_executions_finished(list(runs), now)
        except Exception:
            log.exception("alert service failed on %d finished run(s)", len(runs), extra={"action": "alert"})

    def evaluate_rules(self, now: datetime) -> None:
        if self._service is None:
            return
        try:
            self._service.evaluate_rules(now)
        except Exception:
            log.exception("alert rules failed", extra={"action": "alert"})


class AlertSender:
    """Sends due notifications through the alert dispatcher (one instance, reused every pass)."""

    def __init__(self, store: Store, settings: Settings, *, node: str) -> None:
        dispatcher_class = optional_attribute("smartcron.alerts.dispatcher", "Dispatcher")
        self._dispatcher = dispatcher_class(store, settings, node=node) if dispatcher_class else None

    def send(self, now: datetime) -> int:
        """Returns how many notifications were sent (0 when alerts are absent or failed)."""
        if self._dispatcher is None:
            return 0
        try:
            return int(self._dispatcher.send_pending(now))
        except Exception:
            log.exception("sending alerts failed", extra={"action": "notify"})
            return 0


def run_health_checks(store: Store, settings: Settings, now: datetime) -> None:
    monitor_class = optional_attribute("smartcron.monitor.service", "HealthMonitor")
    if monitor_class is None:
        return
    try:
        monitor_class(store, settings).run(now)
    except Exception:
        log.exception("health checks failed", extra={"action": "health"})
