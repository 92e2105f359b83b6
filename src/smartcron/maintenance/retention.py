"""``smartcron maintenance cleanup``: old history out, in short transactions (DESIGN 6).

Each kind of row has its own retention setting: executions (``retention_executions_days``),
resolved alerts and sent notifications (``retention_alerts_days``), health results
(``retention_health_days``), metrics (``retention_metrics_days``; older than
``retention_metrics_raw_days`` reduced to hourly averages first). The audit log is kept. Deletes go
in chunks, each its own transaction, so SQLite's single write lock is never held for long and the
runner keeps recording runs while a cleanup works through millions of rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from smartcron.config import Settings
from smartcron.store import Store

log = logging.getLogger(__name__)

DEFAULT_CHUNK = 1000
Progress = Callable[[str, int], None]
"""Called after each chunk with the step's name and the rows it removed in that chunk."""


@dataclass(frozen=True, slots=True)
class RetentionReport:
    executions: int
    alerts: int
    health_checks: int
    metrics_deleted: int
    metrics_downsampled: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "executions": self.executions,
            "alerts": self.alerts,
            "health_checks": self.health_checks,
            "metrics_deleted": self.metrics_deleted,
            "metrics_downsampled": self.metrics_downsampled,
        }


def _drain(step: str, delete_chunk: Callable[[], int], progress: Progress | None) -> int:
    """Call ``delete_chunk`` until it deletes nothing; each call is one short transaction."""
    total = 0
    while removed := delete_chunk():
        total += removed
        if progress:
            progress(step, removed)
    return total


def apply_retention(
    store: Store, settings: Settings, now: datetime, *, chunk: int = DEFAULT_CHUNK, progress: Progress | None = None
) -> RetentionReport:
    """Delete what is past its retention at ``now``; returns how many rows of each kind went."""

    def days_ago(days: int) -> datetime:
        return now - timedelta(days=days)

    executions_cutoff = days_ago(settings.retention_executions_days)
    executions = _drain(
        "executions", lambda: store.executions.delete_finished_before(executions_cutoff, chunk=chunk), progress
    )
    alerts = _purge_alerts(store, settings, now)
    if progress and alerts:
        progress("alerts", alerts)
    health_cutoff = days_ago(settings.retention_health_days)
    health = _drain("health checks", lambda: store.health.delete_before(health_cutoff, chunk=chunk), progress)
    downsampled = store.metrics.downsample_before(days_ago(settings.retention_metrics_raw_days))
    if progress and downsampled:
        progress("metrics downsampled", downsampled)
    metrics_cutoff = days_ago(settings.retention_metrics_days)
    metrics = _drain("metrics", lambda: store.metrics.delete_before(metrics_cutoff, chunk=chunk), progress)
    report = RetentionReport(executions, alerts, health, metrics, downsampled)
    log.info("retention: %s", report.to_dict(), extra={"action": "cleanup"})
    return report


def _purge_alerts(store: Store, settings: Settings, now: datetime) -> int:
    """Resolved alerts and finished notifications: the alert service owns those rules."""
    from smartcron.alerts.service import AlertService

    return AlertService(store, settings).purge_before(now)
