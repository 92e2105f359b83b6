"""The daily report and the 6 pm error summary: what they count, and the email."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

from smartcron.config import Settings
from smartcron.domain.enums import ExecutionStatus
from smartcron.maintenance.report import daily_report, error_summary, render_text, yesterday
from smartcron.services.setup import initialise
from smartcron.store import Store, open_store
from tests.alerts.conftest import SmtpServer, add_task, record_run, smtp  # noqa: F401  (fixture)
from tests.conftest import utc
from tests.monitor.conftest import QUIET
from tests.monitor.test_health_cli import smartcron

NOW = utc(2026, 3, 5, 18, 0)  # 07:00 on 6 March in Auckland


def test_yesterday_is_the_previous_local_day(settings: Settings) -> None:
    auckland = replace(settings, timezone="Pacific/Auckland")

    since, until = yesterday(NOW, auckland)

    assert (since, until) == (utc(2026, 3, 4, 11), utc(2026, 3, 5, 11))  # NZDT, UTC+13


def test_the_daily_report_counts_yesterdays_runs_failures_and_slowest_tasks(store: Store, settings: Settings) -> None:
    settings = replace(settings, timezone="Pacific/Auckland")
    bank = add_task(store, "bank_import", priority=1, now=NOW)
    sync = add_task(store, "vend_sync", priority=2, now=NOW)
    in_day = utc(2026, 3, 5, 2)
    for n in range(3):
        record_run(store, sync, ExecutionStatus.SUCCESS, now=in_day + timedelta(minutes=n), duration_ms=1000 * (n + 1))
    failed = record_run(store, bank, ExecutionStatus.FAILED, now=in_day, exit_code=3, duration_ms=9000)
    record_run(store, bank, ExecutionStatus.FAILED, now=utc(2026, 3, 4, 2), exit_code=3)  # the day before

    report = daily_report(store, settings, NOW, readers=QUIET)

    assert report.title == "smartcron daily report for 2026-03-05"
    assert report.runs == {"failed": 1, "success": 3}
    assert [x.id for x in report.failures] == [failed.id] and report.failure_count == 1
    assert [(d.task_name, d.runs, d.max_ms) for d in report.slowest] == [
        ("bank_import", 1, 9000),
        ("vend_sync", 3, 3000),
    ]
    assert report.disk["data_used_percent"] == 40.0
    text = render_text(report, settings)
    assert "Runs: 4 (1 failed, 3 success)" in text and "bank_import  failed" in text
    assert json.loads(json.dumps(report.to_dict()))["failures"][0]["exit_code"] == 3


def test_the_error_summary_covers_the_last_24_hours(store: Store, settings: Settings) -> None:
    task = add_task(store, "payroll", priority=1, now=NOW)
    recent = record_run(store, task, ExecutionStatus.TIMEOUT, now=NOW - timedelta(hours=23))
    record_run(store, task, ExecutionStatus.FAILED, now=NOW - timedelta(hours=25))

    report = error_summary(store, settings, NOW)

    assert [x.id for x in report.failures] == [recent.id]
    assert report.slowest == [] and report.disk == {}


def test_the_error_summary_is_mailed_through_the_alert_dispatcher(settings: Settings, smtp: SmtpServer) -> None:  # noqa: F811
    initialise(settings)
    store = open_store(settings)
    try:
        from smartcron.clock import utcnow

        task = add_task(store, "bank_import", priority=1, now=utcnow())
        record_run(store, task, ExecutionStatus.FAILED, now=utcnow() - timedelta(hours=1), exit_code=4)
    finally:
        store.close()

    done = smartcron(
        "maintenance",
        "report",
        "--errors",
        "--email",
        SMARTCRON_SMTP_HOST="127.0.0.1",
        SMARTCRON_SMTP_PORT=str(smtp.port),
        SMARTCRON_ALERT_EMAIL_TO="ops@example.com,boss@example.com",
    )

    assert done.returncode == 0, done.stderr
    assert "email: mailed to ops@example.com, boss@example.com" in done.stdout
    [message] = smtp.received
    assert message.subject.startswith("smartcron error summary")
    assert sorted(message.recipients) == ["boss@example.com", "ops@example.com"]
    assert "bank_import  failed" in message.body


def test_without_a_mail_server_the_report_says_it_was_not_mailed(settings: Settings) -> None:
    initialise(settings)

    done = smartcron("maintenance", "report", "--email", "--json")

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["email"].startswith("not mailed")
