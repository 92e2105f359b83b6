"""One health pass: checks, thresholds, alerts raised and resolved, results and metrics stored."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from smartcron.config import Settings
from smartcron.domain.enums import AlertState, CheckStatus, Severity
from smartcron.domain.health import CheckResult
from smartcron.monitor import metrics
from smartcron.monitor.service import HealthMonitor
from smartcron.store import Store
from smartcron.store.engine import create_store_engine
from tests.conftest import utc
from tests.monitor.conftest import QUIET, readers

NOW = utc(2026, 3, 2, 9, 0)


def by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {result.name: result for result in results}


def open_alert(store: Store, kind: str) -> tuple[Severity, str] | None:
    for alert in store.alerts.list(state=AlertState.OPEN, limit=100):
        if alert.kind == kind:
            return alert.severity, alert.message
    return None


def runner_alive(store: Store) -> None:
    store.nodes.beat("runner-host", "runner", now=NOW - timedelta(seconds=10))


@pytest.mark.parametrize(
    ("used", "status", "alert"),
    [
        (79.9, CheckStatus.OK, None),
        (80.0, CheckStatus.WARN, Severity.HIGH),
        (89.9, CheckStatus.WARN, Severity.HIGH),
        (90.0, CheckStatus.FAIL, Severity.CRITICAL),
        (99.5, CheckStatus.FAIL, Severity.CRITICAL),
    ],
)
def test_disk_use_warns_at_80_and_fails_at_90_percent(
    sqlite_store: Store, settings: Settings, used: float, status: CheckStatus, alert: Severity | None
) -> None:
    data_dir = settings.data_dir
    fake = readers(disk_used_percent=lambda path: used if path == data_dir else 10.0)
    runner_alive(sqlite_store)

    report = HealthMonitor(sqlite_store, settings, readers=fake).run(NOW)

    disk = by_name(report.checks)["disk_data"]
    assert (disk.status, disk.value) == (status, used)
    assert by_name(report.checks)["disk_logs"].status is CheckStatus.OK
    raised = open_alert(sqlite_store, "disk_space_data")
    assert (raised[0] if raised else None) is alert
    assert (report.worst is CheckStatus.FAIL) == (status is CheckStatus.FAIL)


def test_disk_thresholds_follow_the_settings(sqlite_store: Store, settings: Settings) -> None:
    strict = replace(settings, health_disk_warn_percent=50.0, health_disk_critical_percent=60.0)
    runner_alive(sqlite_store)

    report = HealthMonitor(sqlite_store, strict, readers=readers(disk_used_percent=lambda _p: 55.0)).run(NOW)

    assert by_name(report.checks)["disk_logs"].status is CheckStatus.WARN


def test_a_disk_alert_is_resolved_when_space_is_freed(sqlite_store: Store, settings: Settings) -> None:
    runner_alive(sqlite_store)
    HealthMonitor(sqlite_store, settings, readers=readers(disk_used_percent=lambda _p: 95.0)).run(NOW)
    assert open_alert(sqlite_store, "disk_space_logs") is not None

    HealthMonitor(sqlite_store, settings, readers=QUIET).run(NOW + timedelta(minutes=5))

    assert open_alert(sqlite_store, "disk_space_logs") is None


def test_runner_down_alert_is_raised_after_two_minutes_of_silence_and_resolved_when_it_returns(
    store: Store, settings: Settings
) -> None:
    monitor = HealthMonitor(store, settings, readers=QUIET)
    store.nodes.beat("box", "runner", now=NOW)

    quiet = monitor.run(NOW + timedelta(seconds=120))
    assert by_name(quiet.checks)["runner_heartbeat"].status is CheckStatus.OK
    assert open_alert(store, "runner_down") is None

    down = monitor.run(NOW + timedelta(seconds=121))
    heartbeat = by_name(down.checks)["runner_heartbeat"]
    assert (heartbeat.status, heartbeat.value) == (CheckStatus.FAIL, 121.0)
    raised = open_alert(store, "runner_down")
    assert raised is not None and raised[0] is Severity.CRITICAL and "runner down" in raised[1]
    assert down.worst is CheckStatus.FAIL

    still_down = monitor.run(NOW + timedelta(minutes=7))
    assert by_name(still_down.checks)["runner_heartbeat"].status is CheckStatus.FAIL
    assert [a.count for a in store.alerts.list(limit=10) if a.kind == "runner_down"] == [2]

    store.nodes.beat("box", "tick", now=NOW + timedelta(minutes=9, seconds=50))
    back = monitor.run(NOW + timedelta(minutes=10))
    assert by_name(back.checks)["runner_heartbeat"].status is CheckStatus.OK
    assert open_alert(store, "runner_down") is None
    [alert] = [a for a in store.alerts.list(limit=10) if a.kind == "runner_down"]
    assert alert.state is AlertState.RESOLVED


def test_a_health_heartbeat_alone_does_not_count_as_a_runner(sqlite_store: Store, settings: Settings) -> None:
    sqlite_store.nodes.beat("box", "health", now=NOW)

    report = HealthMonitor(sqlite_store, settings, readers=QUIET).run(NOW)

    heartbeat = by_name(report.checks)["runner_heartbeat"]
    assert (heartbeat.status, heartbeat.value) == (CheckStatus.FAIL, None)


def test_memory_cpu_and_log_size_warn_past_their_thresholds(sqlite_store: Store, settings: Settings) -> None:
    runner_alive(sqlite_store)
    busy = readers(
        memory_percent=lambda: 95.0,
        load_average=lambda: (4.5, 3.0, 2.0),
        cpu_count=lambda: 2,
        directory_size=lambda _p: 2000 * 1024 * 1024,
    )
    Path(settings.log_dir).mkdir(parents=True, exist_ok=True)

    results = by_name(HealthMonitor(sqlite_store, settings, readers=busy).run(NOW).checks)

    assert (results["memory"].status, results["memory"].value) == (CheckStatus.WARN, 95.0)
    assert results["cpu"].status is CheckStatus.WARN and "load 4.50" in results["cpu"].message
    assert (results["log_dir_size"].status, results["log_dir_size"].value) == (CheckStatus.WARN, 2000.0)
    assert open_alert(sqlite_store, "memory") == (Severity.LOW, results["memory"].message)


def test_each_run_stores_its_results_heartbeat_and_metrics(store: Store, settings: Settings) -> None:
    runner_alive(store)

    report = HealthMonitor(store, settings, readers=readers(cpu_percent=lambda: 12.5)).run(NOW)

    stored = {r.name: r for r in store.health.latest()}
    measured = {"database", "runner_heartbeat", "disk_data", "disk_logs", "memory", "cpu", "log_dir_size"}
    assert measured | {"dead_tasks", "hung_tasks", "stale_runs", "clock_skew", "lost_nodes", "wrapped_tasks"} == set(
        stored
    )
    assert all(r.at == NOW and r.node == settings.node for r in stored.values())
    assert {r.name for r in report.checks} >= set(stored) | {"success_rate", "no_critical_alert"}
    beat = store.nodes.get(settings.node, "health")
    assert beat is not None and beat.heartbeat_at == NOW
    cpu = store.metrics.latest(metrics.CPU_PERCENT)
    assert cpu is not None and (cpu.at, cpu.value) == (NOW, 12.5)
    assert set(store.metrics.names()) >= {
        metrics.CPU_PERCENT,
        metrics.MEMORY_PERCENT,
        metrics.DISK_DATA_PERCENT,
        metrics.DISK_LOGS_PERCENT,
        metrics.LOAD1,
        metrics.LOG_DIR_MB,
        metrics.DATABASE_SIZE_MB,
    }


def test_runner_memory_is_sampled_from_this_nodes_runner(sqlite_store: Store, settings: Settings) -> None:
    sqlite_store.nodes.beat(settings.node, "runner", now=NOW, pid=4321)
    asked: list[int] = []

    def rss(pid: int) -> float:
        asked.append(pid)
        return 77.0

    HealthMonitor(sqlite_store, settings, readers=readers(process_rss_mb=rss)).run(NOW)

    rss_point = sqlite_store.metrics.latest(metrics.RUNNER_RSS_MB)
    assert asked == [4321] and rss_point is not None and rss_point.value == 77.0


def test_an_unreachable_database_fails_the_run_and_skips_what_needs_it(settings: Settings) -> None:
    store = Store(create_store_engine("postgresql+psycopg://nobody@127.0.0.1:1/none"))

    report = HealthMonitor(store, settings, readers=QUIET).run(NOW)

    results = by_name(report.checks)
    assert results["database"].status is CheckStatus.FAIL
    assert "unreachable" in results["database"].message
    assert "disk_data" in results and "runner_heartbeat" not in results
    assert report.worst is CheckStatus.FAIL and not report.database_reachable
