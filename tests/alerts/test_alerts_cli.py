"""``smartcron alerts ...`` as a person and a script use it."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from smartcron.alerts.dispatcher import Dispatcher
from smartcron.alerts.service import AlertService
from smartcron.cli.main import main
from smartcron.config import Settings, load_settings
from smartcron.domain.enums import AlertState, ExecutionStatus
from smartcron.services.setup import initialise
from smartcron.store import Store, open_store
from tests.alerts.conftest import SmtpServer, add_task, record_run
from tests.conftest import utc

NOW = utc(2026, 11, 26, 20, 0)
SMARTCRON = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "smartcron"


@pytest.fixture
def db(settings: Settings) -> Iterator[Store]:
    initialise(settings)
    store = open_store(settings)
    yield store
    store.close()


@pytest.fixture
def mail_env(monkeypatch: pytest.MonkeyPatch, smtp: SmtpServer) -> SmtpServer:
    monkeypatch.setenv("SMARTCRON_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMARTCRON_SMTP_PORT", str(smtp.port))
    monkeypatch.setenv("SMARTCRON_ALERT_EMAIL_TO", "ops@example.com, boss@example.com")
    monkeypatch.setenv("SMARTCRON_ALERT_EMAIL_FROM", "cron@example.com")
    return smtp


def run(*args: str) -> tuple[int, str, str]:
    """The program as a shell runs it (errors become one line and an exit code), in-process."""
    runner = CliRunner()
    with runner.isolation() as (out, err, _):
        try:
            code = int(main(list(args)) or 0)  # what the console script passes to sys.exit
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue().decode(), err.getvalue().decode()


def failed_task_alert(store: Store, name: str = "payroll_auto_start", priority: int = 1) -> int:
    settings = load_settings()
    task = add_task(store, name, priority=priority, now=NOW)
    AlertService(store, settings).on_execution_finished(
        task, record_run(store, task, ExecutionStatus.FAILED, now=NOW), NOW
    )
    return store.alerts.list()[0].id


def test_list_shows_active_alerts_and_says_when_nothing_would_be_sent(db: Store) -> None:
    alert_id = failed_task_alert(db)
    code, out, err = run("alerts", "list")
    assert code == 0
    assert f"{alert_id}" in out and "critical" in out and "payroll/payroll_auto_start failed (exit 1)" in out
    assert err.startswith("note: no alert channel is configured")

    code, out, _ = run("alerts", "list", "--json")
    [item] = json.loads(out)
    assert (item["id"], item["severity"], item["state"], item["task"]) == (
        alert_id,
        "critical",
        "open",
        "payroll_auto_start",
    )


def test_resolved_alerts_are_listed_only_with_all(db: Store) -> None:
    alert_id = failed_task_alert(db)
    assert run("alerts", "resolve", str(alert_id))[:2] == (0, f"alert {alert_id} resolved\n")
    assert json.loads(run("alerts", "list", "--json")[1]) == []
    [item] = json.loads(run("alerts", "list", "--all", "--json")[1])
    assert item["state"] == "resolved"


def test_ack_records_who_and_a_resolved_alert_cannot_be_acknowledged(db: Store) -> None:
    alert_id = failed_task_alert(db)
    code, out, _ = run("alerts", "ack", str(alert_id), "--by", "maria")
    assert (code, out) == (0, f"alert {alert_id} acknowledged by maria\n")
    assert db.alerts.get(alert_id).state is AlertState.ACKNOWLEDGED
    assert [e.action for e in db.audit.list()][:1] == ["alert.ack"]

    run("alerts", "resolve", str(alert_id))
    assert run("alerts", "ack", str(alert_id)) == (2, "", f"smartcron: alert {alert_id} is already resolved\n")
    assert run("alerts", "show", "4711") == (2, "", "smartcron: no alert with id 4711\n")


def test_show_prints_the_alert_with_its_output_and_messages(db: Store, mail_env: SmtpServer) -> None:
    alert_id = failed_task_alert(db)
    Dispatcher(db, load_settings(), node="n").send_pending(NOW)
    code, out, _ = run("alerts", "show", str(alert_id))
    assert code == 0
    assert "  | ERROR: login refused" in out and "exit code:      1" in out
    assert "alert    " in out and "sent" in out
    data = json.loads(run("alerts", "show", str(alert_id), "--json")[1])
    assert [(n["kind"], n["state"], n["recipients"]) for n in data["notifications"]] == [
        ("alert", "sent", ["ops@example.com", "boss@example.com"])
    ]


def test_alerts_test_reports_each_channel_and_fails_when_one_fails(db: Store, mail_env: SmtpServer) -> None:
    code, out, _ = run("alerts", "test")
    assert (code, out) == (0, f"ok    email via 127.0.0.1:{mail_env.port} -> ops@example.com, boss@example.com\n")
    [mail] = mail_env.received
    assert mail.subject == "[smartcron TEST] alert delivery works"

    mail_env.stop()
    code, out, _ = run("alerts", "test")
    where = f"127.0.0.1:{mail_env.port}"
    assert (code, out) == (
        1,
        f"FAIL  email via {where} -> ops@example.com, boss@example.com: mail server {where}: "
        "[Errno 111] Connection refused\n",
    )


def test_alerts_test_without_any_channel_says_what_to_set(db: Store) -> None:
    code, out, _ = run("alerts", "test")
    assert code == 1
    assert "set SMARTCRON_SMTP_HOST and SMARTCRON_ALERT_EMAIL_TO, or SMARTCRON_ALERT_URLS" in out


def test_rules_can_be_added_listed_and_removed(db: Store) -> None:
    add_task(db, "month_end", priority=2, now=NOW)
    code, out, _ = run(
        "alerts", "rules", "add", "month-end-slow", "--kind", "long_run", "--threshold", "2h", "--task", "month_end"
    )
    assert (code, out) == (0, "added rule month-end-slow: task month_end: a run longer than 2 h\n")
    [rule] = json.loads(run("alerts", "rules", "list", "--json")[1])
    assert (rule["name"], rule["kind"], rule["threshold"], rule["task"]) == (
        "month-end-slow",
        "long_run",
        7200,
        "month_end",
    )
    assert run("alerts", "rules", "remove", "month-end-slow")[:2] == (0, "removed rule month-end-slow\n")
    assert run("alerts", "rules", "list")[1] == "no alert rules\n"


def test_a_bad_rule_is_one_line_and_exit_code_two(db: Store) -> None:
    code, out, err = run("alerts", "rules", "add", "flaky", "--kind", "failure_rate", "--threshold", "lots")
    assert (code, out) == (2, "")
    assert err == "smartcron: threshold: expected a percentage from 0 to 99.9 for failure_rate, got 'lots'\n"
    assert run("alerts", "rules", "remove", "nope") == (2, "", "smartcron: no alert rule named 'nope'\n")


def test_the_installed_program_sends_a_test_mail(db: Store, mail_env: SmtpServer) -> None:
    result = subprocess.run(
        [str(SMARTCRON), "alerts", "test"], capture_output=True, text=True, env=dict(os.environ), timeout=60
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert len(mail_env.received) == 1
