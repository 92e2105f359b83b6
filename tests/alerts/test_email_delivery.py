"""Alerts reach a real SMTP server (aiosmtpd on loopback) at the right urgency, once.

Runs are recorded in the store as the runner records them; time is passed explicitly, so the
15-minute delay and the 10-minute outage take no real time.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from smartcron.alerts.dispatcher import Dispatcher
from smartcron.alerts.service import AlertService
from smartcron.config import Settings, load_settings
from smartcron.domain.alerts import NotificationState
from smartcron.domain.enums import AlertState, ExecutionStatus, Severity
from smartcron.logs import configure
from smartcron.store import Store
from tests.alerts.conftest import World, add_task, record_run
from tests.conftest import utc

NOW = utc(2026, 11, 26, 20, 0)  # 09:00 on the 27th in Auckland


def fail(world: World, name: str, *, priority: int, at: timedelta = timedelta(0), **spec: object) -> None:
    store = world.store
    task = store.tasks.find(name) or add_task(store, name, priority=priority, now=NOW, **spec)
    run = record_run(store, task, ExecutionStatus.FAILED, now=NOW + at)
    world.service.on_execution_finished(store.tasks.get(name), run, NOW + at)


def succeed(world: World, name: str, *, at: timedelta) -> None:
    task = world.store.tasks.get(name)
    run = record_run(world.store, task, ExecutionStatus.SUCCESS, now=NOW + at, output="done\n")
    world.service.on_execution_finished(world.store.tasks.get(name), run, NOW + at)


def test_critical_failure_is_accepted_by_the_smtp_server_after_one_dispatcher_pass(world: World) -> None:
    configure(world.settings.log_dir, "runner")
    fail(world, "payroll_auto_start", priority=1)

    assert world.dispatcher.send_pending(NOW) == 1

    [mail] = world.smtp.received
    assert mail.subject == "[smartcron CRITICAL] payroll/payroll_auto_start failed (exit 1)"
    assert mail.recipients == ["ops@example.com"]
    assert mail.sender == "smartcron@example.com"
    body = mail.body
    alert = world.store.alerts.list()[0]
    for expected in (
        "Task:         payroll_auto_start",
        "Category:     payroll",
        "Severity:     CRITICAL",
        "What happened:exited with code 1",
        "Attempts:     1",
        "Duration:     1.2 s",
        "Next run:     2026-11-27 10:00:00 NZDT (Pacific/Auckland)",
        "Dashboard:    https://cron.example.com/tasks/payroll_auto_start",
        f"Alert id:     {alert.id}",
        "  | ERROR: login refused",
    ):
        assert expected in body
    errors_log = (Path(world.settings.log_dir) / "errors.log").read_text()
    assert "CRITICAL alert" in errors_log and "payroll/payroll_auto_start failed (exit 1)" in errors_log


def test_low_severity_failures_are_stored_but_never_sent(world: World) -> None:
    fail(world, "daily_report", priority=3)
    fail(world, "quiet_critical", priority=1, notify_on_failure=False)

    assert world.dispatcher.send_pending(NOW + timedelta(days=1)) == 0

    assert world.smtp.received == []
    assert {(a.task_name, a.severity) for a in world.store.alerts.list()} == {
        ("daily_report", Severity.LOW),
        ("quiet_critical", Severity.LOW),
    }


def test_high_failure_sends_nothing_before_fifteen_minutes_and_one_message_after(world: World) -> None:
    fail(world, "sync_vend_inventory", priority=2)

    for minute in range(15):
        world.dispatcher.send_pending(NOW + timedelta(minutes=minute, seconds=59))
    assert world.smtp.received == []

    world.dispatcher.send_pending(NOW + timedelta(minutes=15))
    world.dispatcher.send_pending(NOW + timedelta(minutes=16))
    [mail] = world.smtp.received
    assert mail.subject == "[smartcron HIGH] payroll/sync_vend_inventory failed (exit 1)"


def test_high_failure_that_recovers_within_fifteen_minutes_sends_nothing(world: World) -> None:
    fail(world, "sync_vend_inventory", priority=2)
    succeed(world, "sync_vend_inventory", at=timedelta(minutes=10))

    for minute in range(0, 120, 5):
        world.dispatcher.send_pending(NOW + timedelta(minutes=minute))

    assert world.smtp.received == []
    [alert] = world.store.alerts.list()
    assert alert.state is AlertState.RESOLVED


def test_twenty_consecutive_failures_give_one_alert_with_count_twenty_and_one_email(world: World) -> None:
    for minute in range(20):
        fail(world, "bank_import", priority=1, at=timedelta(minutes=minute))
        world.dispatcher.send_pending(NOW + timedelta(minutes=minute))

    [alert] = world.store.alerts.list()
    assert alert.count == 20
    assert len(world.smtp.received) == 1


def test_an_open_alert_is_mailed_again_after_the_renotify_interval_until_acknowledged(world: World) -> None:
    fail(world, "bank_import", priority=1)
    world.dispatcher.send_pending(NOW)
    world.dispatcher.send_pending(NOW + timedelta(minutes=59))
    world.dispatcher.send_pending(NOW + timedelta(hours=1))
    assert [m.subject for m in world.smtp.received] == [
        "[smartcron CRITICAL] payroll/bank_import failed (exit 1)",
        "[smartcron CRITICAL] still open: payroll/bank_import failed (exit 1) (1x)",
    ]
    alert = world.store.alerts.list()[0]
    world.service.acknowledge(alert.id, by="maria", now=NOW + timedelta(hours=1, minutes=1))
    world.dispatcher.send_pending(NOW + timedelta(hours=5))
    assert len(world.smtp.received) == 2


def test_recovery_sends_a_resolved_message_to_those_who_got_the_alert(world: World) -> None:
    fail(world, "payroll_auto_start", priority=1, notify_emails=("payroll-lead@example.com",))
    world.dispatcher.send_pending(NOW)
    succeed(world, "payroll_auto_start", at=timedelta(minutes=30))
    world.dispatcher.send_pending(NOW + timedelta(minutes=30))

    alert_mail, resolved_mail = world.smtp.received
    assert alert_mail.recipients == resolved_mail.recipients == ["ops@example.com", "payroll-lead@example.com"]
    assert resolved_mail.subject == "[smartcron RESOLVED] payroll/payroll_auto_start recovered"
    assert "Resolved at:  2026-11-27 09:30:00 NZDT" in resolved_mail.body


def test_recovery_of_an_alert_nobody_was_told_about_sends_nothing(world: World) -> None:
    fail(world, "daily_report", priority=3)
    succeed(world, "daily_report", at=timedelta(minutes=30))
    world.dispatcher.send_pending(NOW + timedelta(hours=1))
    assert world.smtp.received == []


def test_only_the_final_attempt_of_a_retried_run_raises_an_alert(world: World) -> None:
    task = add_task(world.store, "flaky", priority=1, now=NOW, retries=2)
    for attempt in range(2):
        run = record_run(world.store, task, ExecutionStatus.FAILED, now=NOW, attempt=attempt)
        world.service.on_execution_finished(task, run, NOW)
    assert world.store.alerts.list() == []

    last = record_run(world.store, task, ExecutionStatus.FAILED, now=NOW, attempt=2)
    world.service.on_execution_finished(task, last, NOW)
    [alert] = world.store.alerts.list()
    assert alert.details is not None and alert.details["attempt"] == 2


def test_runs_killed_on_purpose_raise_no_alert(world: World) -> None:
    task = add_task(world.store, "replaced_often", priority=1, now=NOW)
    for reason in ("replaced", "by an operator", "shutdown"):
        run = record_run(world.store, task, ExecutionStatus.KILLED, now=NOW, reason=reason, exit_code=None)
        world.service.on_execution_finished(task, run, NOW)
    assert world.store.alerts.list() == []


def test_timeouts_and_signals_are_described_in_the_subject(world: World) -> None:
    task = add_task(world.store, "slow_export", priority=1, now=NOW, timeout=300)
    run = record_run(world.store, task, ExecutionStatus.TIMEOUT, now=NOW, exit_code=None)
    world.service.on_execution_finished(task, run, NOW)
    world.dispatcher.send_pending(NOW)
    [mail] = world.smtp.received
    assert mail.subject == "[smartcron CRITICAL] payroll/slow_export timed out after 300 s"
    assert "timed out after 300 s and was terminated" in mail.body


def test_task_output_in_the_mail_has_no_control_characters(world: World) -> None:
    task = add_task(world.store, "noisy", priority=1, now=NOW)
    nasty = "\x1b[31mred\x1b[0m alert\x07\r\nprogress 10%\rprogress 100%\n\x00hidden\u202eevil\tcol\n"
    run = record_run(world.store, task, ExecutionStatus.FAILED, now=NOW, output=nasty)
    world.service.on_execution_finished(task, run, NOW)
    world.dispatcher.send_pending(NOW)
    body = world.smtp.received[0].body
    assert "  | red alert\n  | progress 10%\n  | progress 100%\n  | hiddenevil\tcol\n" in body
    assert not any(ch in body for ch in "\x1b\x07\x00\r\u202e")


def test_smtp_server_down_for_ten_minutes_delivers_the_alert_once_after_it_returns(world: World) -> None:
    world.smtp.stop()
    fail(world, "payroll_auto_start", priority=1)
    elapsed = timedelta(0)
    while elapsed <= timedelta(minutes=10):
        world.dispatcher.send_pending(NOW + elapsed)
        elapsed += timedelta(seconds=15)
    [waiting] = world.store.notifications.list()
    assert waiting.state is NotificationState.PENDING
    assert waiting.attempts > 3 and waiting.last_error is not None and "127.0.0.1" in waiting.last_error
    assert waiting.attempts < 40  # backoff: not one attempt per pass

    world.smtp.start()
    while elapsed <= timedelta(minutes=20):
        world.dispatcher.send_pending(NOW + elapsed)
        elapsed += timedelta(seconds=15)

    assert len(world.smtp.received) == 1
    [sent] = world.store.notifications.list()
    assert sent.state is NotificationState.SENT


def test_a_recipient_refused_for_good_is_not_retried(world: World) -> None:
    world.smtp.handler.refuse.add("gone@example.com")
    settings = load_settings(overrides={**_overrides(world.settings), "alert_email_to": "gone@example.com"})
    dispatcher = Dispatcher(world.store, settings, node="test-node")
    fail(world, "payroll_auto_start", priority=1)
    for minute in range(30):
        dispatcher.send_pending(NOW + timedelta(minutes=minute))
    [failed] = world.store.notifications.list()
    assert failed.state is NotificationState.FAILED and failed.attempts == 1
    assert failed.last_error is not None and "550" in failed.last_error


def _overrides(settings: Settings) -> dict[str, object]:
    keys = ("smtp_host", "smtp_port", "smtp_timeout", "alert_email_from", "web_base_url", "node")
    return {key: getattr(settings, key) for key in keys}


def test_two_hundred_tasks_failing_together_send_a_bounded_number_of_messages(world: World) -> None:
    fail(world, "pos_sync_000", priority=1, notify_emails=("store-manager@example.com",))
    for i in range(1, 200):
        fail(world, f"pos_sync_{i:03}", priority=1)
    for second in range(0, 120, 5):
        world.dispatcher.send_pending(NOW + timedelta(seconds=second))

    mails = world.smtp.received
    assert len(mails) <= 3
    everyone = next(m for m in mails if m.recipients == ["ops@example.com"])
    assert everyone.subject == "[smartcron DIGEST] 200 alerts (200 critical)"
    assert "... and 150 more." in everyone.body and len(everyone.body) < 20_000
    manager = next(m for m in mails if m.recipients == ["store-manager@example.com"])
    assert manager.subject == "[smartcron DIGEST] 1 alerts (1 critical)" and "pos_sync_000" in manager.body
    assert all(a.notified_at is not None for a in world.store.alerts.list(limit=500))


def test_two_hundred_tasks_recovering_together_send_one_resolved_digest(world: World) -> None:
    for i in range(200):
        fail(world, f"pos_sync_{i:03}", priority=1)
    world.dispatcher.send_pending(NOW)
    recovered = timedelta(minutes=10)
    for i in range(200):
        succeed(world, f"pos_sync_{i:03}", at=recovered)
    for second in range(0, 120, 5):
        world.dispatcher.send_pending(NOW + recovered + timedelta(seconds=second))

    failed_digest, resolved = world.smtp.received
    assert failed_digest.subject == "[smartcron DIGEST] 200 alerts (200 critical)"
    assert resolved.subject == "[smartcron DIGEST] 200 resolved"
    assert resolved.body.count("\n- [RESOLVED] ") == 50


def test_no_email_configured_creates_no_notifications(home: Path, sqlite_store: Store) -> None:
    settings = load_settings()
    service = AlertService(sqlite_store, settings)
    task = add_task(sqlite_store, "payroll_auto_start", priority=1, now=NOW)
    service.on_execution_finished(task, record_run(sqlite_store, task, ExecutionStatus.FAILED, now=NOW), NOW)
    assert Dispatcher(sqlite_store, settings, node="n").send_pending(NOW) == 0
    assert sqlite_store.notifications.list() == []
    assert len(sqlite_store.alerts.list()) == 1
