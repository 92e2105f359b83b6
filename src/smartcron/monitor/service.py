"""The health monitor: one pass of every check, the repairs, metrics, the scorecard, and alerts.

``smartcron health`` runs one pass from its crontab line every 5 minutes; the runner daemon runs
the same pass in a background thread. A pass never raises for a failed check: an unreachable
database is itself a result (``database`` fails, the checks that need it are skipped).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from smartcron import __version__
from smartcron.config import Settings
from smartcron.domain.enums import CheckStatus, Severity
from smartcron.domain.execution import Execution
from smartcron.domain.health import CheckResult, worst_status
from smartcron.monitor import checks
from smartcron.monitor.metrics import record_metrics
from smartcron.monitor.nodes import check_clock_skew, check_lost_nodes, node_views
from smartcron.monitor.repair import Repaired, RunRepairer
from smartcron.monitor.scorecard import scorecard
from smartcron.monitor.wrapped import check_wrapped_tasks
from smartcron.runner.scheduling.connectivity import read_status_files
from smartcron.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """Which alert a check raises: at FAIL always, at WARN only when ``on_warn`` is set."""

    kind: str
    on_fail: Severity
    on_warn: Severity | None = None


ALERTS: dict[str, AlertPolicy] = {
    "runner_heartbeat": AlertPolicy("runner_down", Severity.CRITICAL),
    "disk_data": AlertPolicy("disk_space_data", Severity.CRITICAL, Severity.HIGH),
    "disk_logs": AlertPolicy("disk_space_logs", Severity.CRITICAL, Severity.HIGH),
    "memory": AlertPolicy("memory", Severity.HIGH, Severity.LOW),
    "cpu": AlertPolicy("cpu_load", Severity.HIGH, Severity.LOW),
    "log_dir_size": AlertPolicy("log_dir_size", Severity.HIGH, Severity.LOW),
    "clock_skew": AlertPolicy("clock_skew", Severity.HIGH, Severity.HIGH),
    "lost_nodes": AlertPolicy("node_lost", Severity.HIGH, Severity.HIGH),
    "wrapped_tasks": AlertPolicy("wrapped_late", Severity.HIGH, Severity.HIGH),
}
"""The database check has none: when it fails there is nowhere to store an alert (errors.log has it)."""
SILENT_HANG_ALERT = "hung"
"""Raised per task for a run with no timeout far past its usual duration (``monitor.repair``)."""


@dataclass(frozen=True, slots=True)
class HealthReport:
    at: datetime
    checks: list[CheckResult]
    repaired: list[Repaired] = field(default_factory=list)

    @property
    def database_reachable(self) -> bool:
        return any(r.name == "database" and r.status is not CheckStatus.FAIL for r in self.checks)

    @property
    def worst(self) -> CheckStatus:
        return worst_status(result.status for result in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "worst": self.worst.value,
            "checks": [result.to_dict() for result in self.checks],
        }


def runner_database_states(settings: Settings) -> list[CheckResult]:
    """With the database unreachable from here: what this machine's runners last said of theirs."""
    results = []
    for state in read_status_files(settings.run_dir):
        who = f"{state.get('role', 'runner')} {state.get('node', '?')} (pid {state.get('pid', '?')})"
        if state.get("database") == "unreachable":
            message = f"{who}: database unreachable since {state.get('since')}: {state.get('reason')}"
            results.append(CheckResult("runner_database", CheckStatus.FAIL, None, message))
        else:
            results.append(CheckResult("runner_database", CheckStatus.OK, None, f"{who}: database reachable"))
    return results


class HealthMonitor:
    def __init__(self, store: Store, settings: Settings, *, readers: checks.SystemReaders | None = None) -> None:
        self.store = store
        self.settings = settings
        self.readers = readers or checks.SystemReaders()

    def run(self, now: datetime) -> HealthReport:
        """Run every check, repair dead, hung and stale runs, store results and metrics, and raise
        or resolve alerts."""
        settings = self.settings
        snapshot = checks.read_snapshot(settings, self.readers)
        system = [
            checks.check_disk("disk_data", settings.data_dir, snapshot.disk_data_percent, settings),
            checks.check_disk("disk_logs", settings.log_dir, snapshot.disk_logs_percent, settings),
            checks.check_memory(snapshot, settings),
            checks.check_cpu(snapshot, settings),
            checks.check_log_dir(snapshot, settings),
        ]
        database = checks.check_database(self.store)
        if database.status is CheckStatus.FAIL:
            log.error("health: %s", database.message)
            return HealthReport(now, [database, *runner_database_states(settings), *system])

        self.store.nodes.beat(settings.node, "health", now=now, pid=os.getpid(), version=__version__)
        heartbeats = self.store.nodes.all()
        runner = checks.check_runner_heartbeat(heartbeats, now, settings)
        repairs = RunRepairer(self.store, settings).run(now, heartbeats)
        views = node_views(self.store, settings, self.store.database_now())
        cluster = [check_clock_skew(views), check_lost_nodes(views), check_wrapped_tasks(self.store, settings, now)]
        results = [database, runner, *system, *repairs.checks, *cluster]
        self.store.health.record(results, at=now, node=settings.node)
        record_metrics(self.store, settings, now, snapshot=snapshot, readers=self.readers, heartbeats=heartbeats)

        self._alert(results, repairs.repaired, now)
        self._alert_silent_hangs(repairs.silent, now)
        # Indicators come after the results are stored: some read what this very run found.
        measured = {result.name for result in results}
        indicators = [result for result in scorecard(self.store, settings, now) if result.name not in measured]
        report = HealthReport(now, results + indicators, repairs.repaired)
        self._log(report)
        return report

    def _alert(self, results: Sequence[CheckResult], repaired: Sequence[Repaired], now: datetime) -> None:
        try:
            from smartcron.alerts.service import AlertService
        except ModuleNotFoundError:  # pragma: no cover - the alerts package is part of smartcron
            return
        alerts = AlertService(self.store, self.settings)
        for result in results:
            policy = ALERTS.get(result.name)
            if policy is None:
                continue
            severity = policy.on_fail if result.status is CheckStatus.FAIL else None
            if result.status is CheckStatus.WARN:
                severity = policy.on_warn
            if severity is None:
                alerts.resolve(policy.kind, now=now)
            else:
                alerts.raise_alert(policy.kind, severity, result.message, now=now, details={"value": result.value})
        # A run the monitor ended is a finished run like any other: the alert service decides,
        # from the task's priority and retries, whether it deserves an alert.
        finished = [(item.task, item.execution) for item in repaired if item.task is not None]
        if finished:
            alerts.on_executions_finished(finished, now)
        alerts.evaluate_rules(now)

    def _alert_silent_hangs(self, silent: Sequence[Execution], now: datetime) -> None:
        """One HIGH alert per task whose run, with no timeout, runs far past its usual duration."""
        if not silent:
            return
        from smartcron.alerts.service import AlertService

        alerts = AlertService(self.store, self.settings)
        for row in silent:
            minutes = (now - row.started_at).total_seconds() / 60 if row.started_at else 0.0
            message = (f"{row.task_name} run {row.id} has run {minutes:.0f} min, far past its usual duration, "
                       "and has no timeout: it may be hung (left running)")  # fmt: skip
            alerts.raise_alert(SILENT_HANG_ALERT, Severity.HIGH, message, now=now, task_id=row.task_id)

    @staticmethod
    def _log(report: HealthReport) -> None:
        for result in report.checks:
            if result.status is CheckStatus.OK:
                continue
            level = logging.ERROR if result.status is CheckStatus.FAIL else logging.WARNING
            log.log(level, "%s %s: %s", result.name, result.status.value, result.message, extra={"action": "health"})
        log.info("health run: worst %s over %d checks", report.worst.value, len(report.checks))
