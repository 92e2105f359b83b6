"""Alerts driven by the real runner: real task processes, real recording, a real SMTP server.

Nothing here asserts how fast things happen (``bench/alert_latency.py`` measures that); waits
are on events with a generous bound only a hang reaches.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from smartcron.alerts.rules import add_rule
from smartcron.alerts.service import AlertService
from smartcron.clock import SystemClock
from smartcron.config import Settings, load_settings
from smartcron.domain.enums import ExecutionStatus, Trigger
from smartcron.domain.task import TaskSpec
from smartcron.runner import chores as chores_module
from smartcron.runner import daemon as daemon_module
from smartcron.runner.scheduling.engine import Engine
from smartcron.store import Store, open_store
from tests.alerts.conftest import SmtpServer, mail_settings

SMARTCRON = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "smartcron"
HANG_BOUND = 60.0


@pytest.fixture
def mail_env(monkeypatch: pytest.MonkeyPatch, home: Path, smtp: SmtpServer) -> SmtpServer:
    monkeypatch.setenv("SMARTCRON_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMARTCRON_SMTP_PORT", str(smtp.port))
    monkeypatch.setenv("SMARTCRON_ALERT_EMAIL_TO", "ops@example.com")
    monkeypatch.setenv("SMARTCRON_NODE", "alert-test-node")
    return smtp


@pytest.fixture
def db(mail_env: SmtpServer) -> Iterator[Store]:
    store = open_store(load_settings())
    store.upgrade()
    yield store
    store.close()


def critical_task(store: Store, *, command: str, schedule: str = "0 0 1 1 *") -> int:
    spec = TaskSpec(
        name="payroll_auto_start",
        category="payroll",
        command=("sh", "-c", command),
        shell=False,
        schedule=schedule,
        priority=1,
        retries=0,
    )
    now = store.database_now()
    return store.tasks.add(spec, now=now, next_run_at=now).id


def test_a_critical_failure_run_by_tick_is_mailed_before_tick_exits(db: Store, mail_env: SmtpServer) -> None:
    critical_task(db, command="echo 'cannot reach payroll API'; exit 3")

    tick = subprocess.run([str(SMARTCRON), "tick"], capture_output=True, text=True, timeout=HANG_BOUND)

    assert (tick.returncode, tick.stderr) == (0, "")
    [mail] = mail_env.received
    assert mail.subject == "[smartcron CRITICAL] payroll/payroll_auto_start failed (exit 3)"
    assert "  | cannot reach payroll API" in mail.body
    [run] = db.executions.list()
    assert run.status is ExecutionStatus.FAILED and f"Execution:    {run.id}" in mail.body


def test_the_daemon_mails_a_critical_failure_while_it_keeps_running(db: Store, mail_env: SmtpServer) -> None:
    task_id = critical_task(db, command="exit 1")
    daemon = subprocess.Popen(
        [str(SMARTCRON), "run", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        db.executions.enqueue(task_id, scheduled_for=db.database_now(), trigger=Trigger.MANUAL)
        assert mail_env.handler.arrived.wait(HANG_BOUND), "no mail arrived"
        assert daemon.poll() is None
    finally:
        daemon.send_signal(signal.SIGTERM)
        _out, err = daemon.communicate(timeout=HANG_BOUND)
    assert daemon.returncode == 0, err
    [mail] = mail_env.received
    assert mail.subject == "[smartcron CRITICAL] payroll/payroll_auto_start failed (exit 1)"


def test_the_daemons_sender_is_woken_by_a_critical_failure_not_only_by_its_poll(
    db: Store, mail_env: SmtpServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(chores_module, "ALERT_SEND_SECONDS", 3600.0)  # its poll would come in an hour
    task_id = critical_task(db, command="exit 1")
    daemon = daemon_module.Daemon(
        load_settings(), db, clock=SystemClock(), base_env={"PATH": os.environ["PATH"]}, cwd=str(tmp_path)
    )
    thread = threading.Thread(target=daemon.run, name="daemon-under-test")
    thread.start()
    try:
        db.executions.enqueue(task_id, scheduled_for=db.database_now(), trigger=Trigger.MANUAL)
        assert mail_env.handler.arrived.wait(HANG_BOUND), "no mail arrived"
    finally:
        daemon.request_stop()
        thread.join(HANG_BOUND)
    assert not thread.is_alive()
    [mail] = mail_env.received
    assert mail.subject == "[smartcron CRITICAL] payroll/payroll_auto_start failed (exit 1)"


def test_a_long_run_rule_fires_while_the_real_run_is_still_going(db: Store, tmp_path: Path) -> None:
    settings: Settings = load_settings()
    critical_task(db, command="sleep 60", schedule="* * * * *")
    clock = SystemClock()
    add_rule(db, name="payroll-slow", kind="long_run", threshold="30s", task="payroll_auto_start", now=clock.now())
    engine = Engine(
        settings, db, clock=clock, role="runner", base_env={"PATH": os.environ["PATH"]}, cwd=str(tmp_path),
        rng=random.Random(1),
    )  # fmt: skip
    engine.start()
    try:
        assert engine.run_pass(clock.now()).started == 1
        [running] = db.executions.live(status=ExecutionStatus.RUNNING)
        # Time is an argument: judge the rule as of 31 s after the start, while the process lives.
        AlertService(db, settings).evaluate_rules(clock.now() + timedelta(seconds=31))
        [alert] = db.alerts.list()
        assert alert.kind.startswith("rule:long_run:") and "rule payroll-slow" in alert.message
        assert db.executions.get(running.id).status is ExecutionStatus.RUNNING
        assert running.pid is not None
        os.kill(running.pid, 0)  # raises ProcessLookupError unless the task process is alive
    finally:
        engine.stop(grace=0)


def test_a_database_outage_is_mailed_without_the_database_and_so_is_its_end(
    home: Path, smtp: SmtpServer, tmp_path: Path
) -> None:
    from smartcron.clock import FakeClock
    from smartcron.runner.startup import database_status_for

    settings = mail_settings(home, smtp, alert_database_down_after="30")
    clock = FakeClock(datetime(2026, 3, 1, 10, tzinfo=UTC))
    status = database_status_for(settings, clock, role="runner")
    status.failed(OperationalError("SELECT 1", {}, Exception("connection refused")))
    clock.advance(29)
    status.check()
    assert not smtp.handler.arrived.wait(0.5), "not before alert.database_down_after"
    clock.advance(1)
    status.check()
    assert smtp.handler.arrived.wait(30), "the outage mail arrived"
    smtp.handler.arrived.clear()
    status.succeeded()
    assert smtp.handler.arrived.wait(30), "the all-clear arrived"
    first, second = smtp.received
    assert first.subject == f"[smartcron] CRITICAL: database unreachable from {settings.node}"
    assert "cannot reach its database since 2026-03-01 10:00:00 UTC: connection refused" in first.body
    assert second.subject == f"[smartcron] RESOLVED: database reachable again from {settings.node}"
    assert first.recipients == list(settings.alert_email_to)
