"""Custom rules: long run (while it runs), failure rate, no success (dead man's switch), short run."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from smartcron.alerts.dispatcher import Dispatcher
from smartcron.alerts.rules import add_rule, remove_rule
from smartcron.alerts.service import AlertService
from smartcron.config import Settings
from smartcron.domain.enums import AlertState, ExecutionStatus, Severity, Trigger
from smartcron.domain.execution import Outcome
from smartcron.domain.task import Task
from smartcron.errors import NotFoundError, UserError
from smartcron.store import Store
from smartcron.store.executions import Finish, SlotClaim, Start
from tests.alerts.conftest import SmtpServer, add_task, mail_settings, record_run
from tests.conftest import utc

NOW = utc(2026, 11, 26, 20, 0)


@pytest.fixture
def service(sqlite_store: Store, settings: Settings) -> AlertService:
    return AlertService(sqlite_store, settings)


def start_run(store: Store, task: Task, *, at: timedelta = timedelta(0)) -> int:
    [row] = store.executions.claim([SlotClaim(task.id, NOW + at, Trigger.SCHEDULE)], node="n", token="t", now=NOW + at)
    store.executions.begin([row.id], node="n", token="t", now=NOW + at, lease_until=NOW + timedelta(hours=9))
    store.executions.attach([Start(row.id, task.id, NOW + at, 4242, 4242, None)], token="t")
    return row.id


def test_a_long_run_rule_fires_while_the_run_is_still_going_and_mails_it(
    home: Path, smtp: SmtpServer, sqlite_store: Store
) -> None:
    settings = mail_settings(home, smtp)
    service = AlertService(sqlite_store, settings)
    dispatcher = Dispatcher(sqlite_store, settings, node="n")
    task = add_task(sqlite_store, "month_end", priority=2, now=NOW)
    add_rule(sqlite_store, name="month-end-slow", kind="long_run", threshold="10m", task="month_end",
             severity="critical", now=NOW)  # fmt: skip
    execution_id = start_run(sqlite_store, task)

    service.evaluate_rules(NOW + timedelta(minutes=9))
    assert sqlite_store.alerts.list() == []

    for minute in (11, 12, 13):
        service.evaluate_rules(NOW + timedelta(minutes=minute))
        dispatcher.send_pending(NOW + timedelta(minutes=minute))
    [alert] = sqlite_store.alerts.list()
    assert sqlite_store.executions.get(execution_id).status is ExecutionStatus.RUNNING
    assert alert.count == 1 and alert.severity is Severity.CRITICAL
    assert alert.message == "payroll/month_end has been running for 11 min (rule month-end-slow: longer than 10 min)"
    [mail] = smtp.received
    assert mail.subject == f"[smartcron CRITICAL] {alert.message}"


def test_a_long_run_alert_is_resolved_when_the_run_ends(service: AlertService, sqlite_store: Store) -> None:
    task = add_task(sqlite_store, "month_end", priority=2, now=NOW)
    add_rule(sqlite_store, name="slow", kind="long_run", threshold="60", now=NOW)
    execution_id = start_run(sqlite_store, task)
    service.evaluate_rules(NOW + timedelta(minutes=2))
    sqlite_store.executions.finish(
        [Finish(execution_id, task.id, Outcome(ExecutionStatus.SUCCESS, NOW + timedelta(minutes=3)))], token=None
    )
    service.evaluate_rules(NOW + timedelta(minutes=4))
    [alert] = sqlite_store.alerts.list()
    assert alert.state is AlertState.RESOLVED


def test_failure_rate_rule_needs_enough_runs_in_the_window(service: AlertService, sqlite_store: Store) -> None:
    task = add_task(sqlite_store, "pos_sync", priority=2, now=NOW)
    add_rule(sqlite_store, name="flaky", kind="failure_rate", threshold="50%", window="1h", min_runs=4, now=NOW)
    for status in (ExecutionStatus.FAILED, ExecutionStatus.FAILED, ExecutionStatus.SUCCESS):
        record_run(sqlite_store, task, status, now=NOW)
    service.evaluate_rules(NOW)
    assert sqlite_store.alerts.list() == []  # 3 runs: too few to judge

    record_run(sqlite_store, task, ExecutionStatus.FAILED, now=NOW)
    service.evaluate_rules(NOW)
    [alert] = sqlite_store.alerts.list()
    assert "3 of 4 runs failed within 1 h (75%" in alert.message

    service.evaluate_rules(NOW + timedelta(hours=2))  # the failures left the window
    assert sqlite_store.alerts.list()[0].state is AlertState.RESOLVED


def test_no_success_rule_is_a_dead_mans_switch_that_a_success_resolves(
    service: AlertService, sqlite_store: Store
) -> None:
    task = add_task(sqlite_store, "nightly_backup", priority=1, now=NOW)
    add_rule(sqlite_store, name="backup-alive", kind="no_success", threshold="26h", task="nightly_backup", now=NOW)
    service.evaluate_rules(NOW + timedelta(hours=25))
    assert sqlite_store.alerts.list() == []

    service.evaluate_rules(NOW + timedelta(hours=27))
    service.evaluate_rules(NOW + timedelta(hours=28))
    [alert] = sqlite_store.alerts.list()
    assert alert.count == 1 and "no successful run for 1 d 3 h" in alert.message

    later = NOW + timedelta(hours=29)
    service.on_execution_finished(task, record_run(sqlite_store, task, ExecutionStatus.SUCCESS, now=later), later)
    assert sqlite_store.alerts.get(alert.id).state is AlertState.RESOLVED


def test_short_run_rule_flags_a_suspiciously_quick_success(service: AlertService, sqlite_store: Store) -> None:
    task = add_task(sqlite_store, "bank_import", priority=2, now=NOW)
    add_rule(sqlite_store, name="too-quick", kind="short_run", threshold="5s", now=NOW)
    quick = record_run(sqlite_store, task, ExecutionStatus.SUCCESS, now=NOW, duration_ms=200)
    service.on_execution_finished(task, quick, NOW)
    [alert] = sqlite_store.alerts.list()
    assert alert.message == "payroll/bank_import finished in 0.2 s (rule too-quick: shorter than 5 s)"

    normal = record_run(sqlite_store, task, ExecutionStatus.SUCCESS, now=NOW, duration_ms=60_000)
    service.on_execution_finished(task, normal, NOW)
    assert sqlite_store.alerts.get(alert.id).state is AlertState.RESOLVED


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "bad name"}, "rule name 'bad name'"),
        ({"kind": "sometimes"}, "rule kind 'sometimes': expected one of long_run"),
        ({"threshold": "soon"}, "threshold: expected a duration such as 90s"),
        ({"threshold": "0"}, "threshold: expected a duration"),
        ({"kind": "failure_rate", "threshold": "150"}, "threshold: expected a percentage"),
        ({"kind": "failure_rate", "threshold": "20", "window": "10s"}, "window: at least 60 s"),
        ({"window": "1h"}, "window and min_runs apply to failure_rate rules only"),
        ({"severity": "urgent"}, "severity 'urgent'"),
    ],
)
def test_a_bad_rule_is_refused_with_one_line_naming_the_field(
    sqlite_store: Store, fields: dict[str, str], message: str
) -> None:
    values = {"name": "r", "kind": "long_run", "threshold": "1h"} | fields
    with pytest.raises(UserError, match=message):
        add_rule(sqlite_store, now=NOW, **values)  # type: ignore[arg-type]
    assert sqlite_store.alert_rules.list() == []


def test_a_rule_for_an_unknown_task_is_refused(sqlite_store: Store) -> None:
    with pytest.raises(NotFoundError, match="no task named 'ghost'"):
        add_rule(sqlite_store, name="r", kind="long_run", threshold="1h", task="ghost", now=NOW)


def test_removing_a_rule_resolves_the_alerts_it_raised(service: AlertService, sqlite_store: Store) -> None:
    task = add_task(sqlite_store, "month_end", priority=2, now=NOW)
    add_rule(sqlite_store, name="slow", kind="long_run", threshold="60", now=NOW)
    start_run(sqlite_store, task)
    service.evaluate_rules(NOW + timedelta(minutes=5))
    remove_rule(sqlite_store, "slow", now=NOW + timedelta(minutes=6))
    assert [a.state for a in sqlite_store.alerts.list()] == [AlertState.RESOLVED]
