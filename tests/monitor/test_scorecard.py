"""The seed's success indicators, computed from what the store holds, on every database."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from smartcron.config import Settings
from smartcron.domain.enums import CheckStatus, ExecutionStatus, Severity, Trigger
from smartcron.domain.execution import Outcome
from smartcron.domain.health import CheckResult
from smartcron.monitor import scorecard as sc
from smartcron.monitor.metrics import DATABASE_SIZE_MB
from smartcron.store import Store
from smartcron.store.executions import Finish, SlotClaim
from tests.conftest import utc
from tests.monitor.conftest import add_task

NOW = utc(2026, 3, 2, 12, 0)
_tokens = itertools.count()


def finished_run(
    store: Store,
    task_id: int,
    slot: datetime,
    status: ExecutionStatus,
    *,
    attempt: int = 0,
    retry_of: int | None = None,
    duration_ms: int | None = 1000,
) -> int:
    [row] = store.executions.claim(
        [SlotClaim(task_id, slot, Trigger.RETRY if attempt else Trigger.SCHEDULE, attempt=attempt, retry_of=retry_of)],
        node="n",
        token=f"t{next(_tokens)}",
        now=slot,
    )
    if status is not ExecutionStatus.SCHEDULED:
        outcome = Outcome(status, slot + timedelta(milliseconds=duration_ms or 0), duration_ms=duration_ms)
        store.executions.finish([Finish(row.id, task_id, outcome)], token=None)
    return row.id


def record(store: Store, at: datetime, *results: CheckResult) -> None:
    store.health.record(list(results), at=at, node="n")


def ok(name: str, value: float | None = 0.0) -> CheckResult:
    return CheckResult(name, CheckStatus.OK, value, name)


def test_success_rate_counts_a_slot_as_success_when_a_retry_succeeded(store: Store, settings: Settings) -> None:
    task = add_task(store, now=NOW)
    for n in range(1, 99):  # 98 slots that succeeded at once
        finished_run(store, task, NOW - timedelta(minutes=10 * n), ExecutionStatus.SUCCESS)
    slot = NOW - timedelta(hours=2, seconds=30)
    first = finished_run(store, task, slot, ExecutionStatus.FAILED)
    finished_run(store, task, slot, ExecutionStatus.SUCCESS, attempt=1, retry_of=first)
    lost = NOW - timedelta(hours=3, seconds=30)
    root = finished_run(store, task, lost, ExecutionStatus.TIMEOUT)
    finished_run(store, task, lost, ExecutionStatus.FAILED, attempt=1, retry_of=root)
    pending = NOW - timedelta(hours=4, seconds=30)
    root = finished_run(store, task, pending, ExecutionStatus.FAILED)
    finished_run(store, task, pending, ExecutionStatus.SCHEDULED, attempt=1, retry_of=root)
    finished_run(store, task, NOW - timedelta(hours=5, seconds=30), ExecutionStatus.KILLED)
    finished_run(store, task, NOW - timedelta(hours=30), ExecutionStatus.FAILED)  # outside the day

    outcomes = store.run_stats.slot_outcomes(NOW - timedelta(days=1), NOW)
    result = sc.success_rate(store, settings, NOW)

    assert (outcomes.succeeded, outcomes.failed) == (99, 1)
    assert (result.status, result.value) == (CheckStatus.OK, 99.0)


def test_success_rate_below_99_percent_warns(store: Store, settings: Settings) -> None:
    task = add_task(store, now=NOW)
    for minute in range(1, 50):
        finished_run(store, task, NOW - timedelta(minutes=minute), ExecutionStatus.SUCCESS)
    finished_run(store, task, NOW - timedelta(minutes=55), ExecutionStatus.ABANDONED)

    result = sc.success_rate(store, settings, NOW)

    assert (result.status, result.value) == (CheckStatus.WARN, 98.0)
    assert "1 failed" in result.message


def test_average_duration_over_half_the_timeout_warns_naming_the_task(store: Store, settings: Settings) -> None:
    quick = add_task(store, "quick", now=NOW, timeout=100)
    slow = add_task(store, "slow", now=NOW, timeout=100)
    for minute, (fast_ms, slow_ms) in enumerate([(10_000, 40_000), (20_000, 70_000)], start=1):
        finished_run(store, quick, NOW - timedelta(minutes=minute), ExecutionStatus.SUCCESS, duration_ms=fast_ms)
        finished_run(store, slow, NOW - timedelta(minutes=minute), ExecutionStatus.SUCCESS, duration_ms=slow_ms)

    durations = {
        d.task_name: (d.runs, d.average_ms, d.max_ms) for d in store.run_stats.durations(NOW - timedelta(days=7), NOW)
    }
    result = sc.durations_within_timeout(store, settings, NOW)

    assert durations == {"slow": (2, 55_000.0, 70_000), "quick": (2, 15_000.0, 20_000)}
    assert (result.status, result.value) == (CheckStatus.WARN, 1.0)
    assert "slow (55 s of 100 s)" in result.message and "quick" not in result.message


def test_disabled_tasks_warn_but_paused_ones_do_not(store: Store, settings: Settings) -> None:
    add_task(store, "on", now=NOW)
    add_task(store, "held", now=NOW)
    store.tasks.set_flags("held", now=NOW, paused=True)
    assert sc.tasks_enabled(store, settings, NOW).status is CheckStatus.OK

    add_task(store, "off", now=NOW, enabled=False)
    result = sc.tasks_enabled(store, settings, NOW)

    assert (result.status, result.value) == (CheckStatus.WARN, 1.0)
    assert "off" in result.message


def test_health_every_five_minutes_needs_runs_covering_the_whole_hour(store: Store, settings: Settings) -> None:
    for minute in range(0, 61, 5):
        record(store, NOW - timedelta(minutes=minute), ok("database"))
    assert sc.health_every_five_minutes(store, settings, NOW).status is CheckStatus.OK

    gap = sc.health_every_five_minutes(store, settings, NOW + timedelta(minutes=10))

    assert (gap.status, gap.value) == (CheckStatus.WARN, 10.0)


def test_health_every_five_minutes_on_a_new_installation_counts_from_its_first_health_run(
    store: Store, settings: Settings
) -> None:
    assert sc.health_every_five_minutes(store, settings, NOW).status is CheckStatus.WARN  # none ever ran
    record(store, NOW - timedelta(minutes=12), ok("database"))
    record(store, NOW - timedelta(minutes=7), ok("database"))
    record(store, NOW - timedelta(minutes=2), ok("database"))

    young = sc.health_every_five_minutes(store, settings, NOW)
    stalled = sc.health_every_five_minutes(store, settings, NOW + timedelta(minutes=10))

    assert (young.status, young.value) == (CheckStatus.OK, 5.0)
    assert young.message == "3 health runs since the first one 12 min ago, never more than 5 min apart"
    assert (stalled.status, stalled.value) == (CheckStatus.WARN, 12.0)


def test_runner_every_minute_reads_the_heartbeat_ages_health_recorded(store: Store, settings: Settings) -> None:
    for minute, age in [(50, 12.0), (25, 48.0), (0, 30.0)]:
        record(store, NOW - timedelta(minutes=minute), ok("runner_heartbeat", age))
    steady = sc.runner_every_minute(store, settings, NOW)
    assert (steady.status, steady.value) == (CheckStatus.OK, 48.0)

    record(store, NOW + timedelta(minutes=5), CheckResult("runner_heartbeat", CheckStatus.OK, 100.0, "late"))
    late = sc.runner_every_minute(store, settings, NOW + timedelta(minutes=5))

    assert (late.status, late.value) == (CheckStatus.WARN, 100.0)


def test_database_growth_per_day_from_recorded_sizes(store: Store, settings: Settings) -> None:
    assert sc.database_growth(store, settings, NOW).value is None
    store.metrics.record({DATABASE_SIZE_MB: 100.0}, at=NOW - timedelta(days=2), node="n")
    store.metrics.record({DATABASE_SIZE_MB: 104.0}, at=NOW, node="n")

    steady = sc.database_growth(store, settings, NOW)
    fast = sc.database_growth(store, replace(settings, health_db_growth_warn_mb=1.0), NOW)

    assert (steady.status, steady.value) == (CheckStatus.OK, 2.0)
    assert fast.status is CheckStatus.WARN


def test_dead_or_hung_runs_found_by_the_last_health_run_warn(store: Store, settings: Settings) -> None:
    assert sc.no_dead_or_hung(store, settings, NOW).status is CheckStatus.WARN  # never checked
    record(store, NOW - timedelta(minutes=5), ok("dead_tasks"), ok("hung_tasks"))
    assert sc.no_dead_or_hung(store, settings, NOW).status is CheckStatus.OK

    record(store, NOW, CheckResult("dead_tasks", CheckStatus.WARN, 2.0, "marked 2 dead"), ok("hung_tasks"))
    result = sc.no_dead_or_hung(store, settings, NOW)

    assert (result.status, result.value, result.message) == (CheckStatus.WARN, 2.0, "marked 2 dead")


def test_an_open_critical_alert_warns_until_acknowledged(store: Store, settings: Settings) -> None:
    from smartcron.alerts.service import AlertService

    alerts = AlertService(store, settings)
    alerts.raise_alert("disk_space_data", Severity.HIGH, "disk filling", now=NOW)
    assert sc.no_critical_alert(store, settings, NOW).status is CheckStatus.OK
    critical = alerts.raise_alert("runner_down", Severity.CRITICAL, "runner down", now=NOW)

    assert (sc.no_critical_alert(store, settings, NOW).status, sc.no_critical_alert(store, settings, NOW).value) == (
        CheckStatus.WARN,
        1.0,
    )
    alerts.acknowledge(critical.id, by="ops", now=NOW)
    assert sc.no_critical_alert(store, settings, NOW).status is CheckStatus.OK


def test_the_scorecard_lists_every_indicator_in_the_seeds_order(store: Store, settings: Settings) -> None:
    names = [result.name for result in sc.scorecard(store, settings, NOW)]

    assert names == [
        "runner_every_minute",
        "health_every_5_minutes",
        "tasks_enabled",
        "success_rate",
        "durations_within_timeout",
        "log_dir_size",
        "database_growth",
        "no_dead_or_hung",
        "no_critical_alert",
    ]


@pytest.mark.parametrize("size_mb", [10.0, 2000.0])
def test_log_size_indicator_reports_the_last_measurement(store: Store, settings: Settings, size_mb: float) -> None:
    status = CheckStatus.OK if size_mb < settings.health_log_dir_max_mb else CheckStatus.WARN
    record(store, NOW, CheckResult("log_dir_size", status, size_mb, "measured"))

    result = sc.logs_under_limit(store, settings, NOW)

    assert (result.status, result.value) == (status, size_mb)
