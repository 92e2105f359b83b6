"""The runner's calls into alerting and health monitoring.

Alerts never stand in the runner's way: recording a finished run calls the alert service (database
writes only) from the recorder thread, sending happens in a background thread of the daemon (or
once at the end of a tick), and an error in either is logged and forgotten. The packages are
imported on first use, so the runner works (without alerts) where they are not installed.
"""

from __future__ import annotations

import importlib
import logging
import threading
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
        self._dispatcher = _construct("smartcron.alerts.dispatcher", "Dispatcher", store, settings, node=node)

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
