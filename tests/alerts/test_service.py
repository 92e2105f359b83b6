"""The alert service and the dispatcher loop: missed slots, severity changes, other components'
alerts, test messages, and the background loop the daemon runs."""

from __future__ import annotations

import threading
from datetime import timedelta

from smartcron.alerts.service import AlertService
from smartcron.clock import SystemClock
from smartcron.domain.alerts import NotificationKind
from smartcron.domain.enums import AlertState, ExecutionStatus, Severity, Trigger
from smartcron.store.executions import SlotClaim
from tests.alerts.conftest import World, add_task
from tests.conftest import utc

NOW = utc(2026, 11, 26, 20, 0)


def test_missed_slots_of_a_task_raise_one_alert_that_counts_them(world: World) -> None:
    task = add_task(world.store, "bank_import", priority=1, now=NOW)
    claims = [
        SlotClaim(task.id, NOW - timedelta(minutes=m), Trigger.SCHEDULE, ExecutionStatus.MISSED, reason="late")
        for m in range(1, 6)
    ]
    missed = world.store.executions.claim(claims, node="n", token="t", now=NOW)
    world.service.on_executions_finished([(task, row) for row in missed], NOW)

    [alert] = world.store.alerts.list()
    assert (alert.kind, alert.count, alert.severity) == ("missed", 5, Severity.CRITICAL)
    assert alert.message == "payroll/bank_import missed scheduled runs (no runner could start them in time)"
    world.dispatcher.send_pending(NOW)
    assert [m.subject for m in world.smtp.received] == [f"[smartcron CRITICAL] {alert.message}"]


def test_a_repeat_at_higher_severity_raises_the_alert_and_mails_it_at_once(world: World) -> None:
    world.service.raise_alert("disk_space", Severity.HIGH, "data disk 85% full", now=NOW)
    world.dispatcher.send_pending(NOW + timedelta(minutes=1))
    assert world.smtp.received == []

    alert = world.service.raise_alert(
        "disk_space", Severity.CRITICAL, "data disk 93% full", now=NOW + timedelta(minutes=5)
    )
    world.service.raise_alert("disk_space", Severity.HIGH, "data disk 89% full", now=NOW + timedelta(minutes=6))
    world.dispatcher.send_pending(NOW + timedelta(minutes=6))

    assert (alert.severity, alert.count) == (Severity.CRITICAL, 2)
    assert world.store.alerts.get(alert.id).severity is Severity.CRITICAL  # never lowered
    [mail] = world.smtp.received
    assert mail.subject == "[smartcron CRITICAL] data disk 89% full"


def test_an_alert_about_no_task_is_mailed_with_its_details(world: World) -> None:
    alert = world.service.raise_alert(
        "runner_down", Severity.CRITICAL, "no runner heartbeat for 5 min", now=NOW, details={"node": "cron-1"}
    )
    world.dispatcher.send_pending(NOW)
    assert world.service.resolve("runner_down", now=NOW + timedelta(minutes=3), message="runner back")
    assert not world.service.resolve("runner_down", now=NOW + timedelta(minutes=4))
    world.dispatcher.send_pending(NOW + timedelta(minutes=3))

    first, resolved = world.smtp.received
    assert "Kind:         runner_down" in first.body and "Node:         cron-1" in first.body
    assert f"Alert id:     {alert.id}" in first.body
    assert resolved.subject == "[smartcron RESOLVED] runner back"


def test_a_test_message_queued_for_the_dashboard_goes_out_on_the_next_pass(world: World) -> None:
    where = world.service.send_test(by="web:admin", now=NOW)
    assert where == f"email via 127.0.0.1:{world.smtp.port} to ops@example.com"
    [queued] = world.store.notifications.list()
    assert queued.kind is NotificationKind.TEST
    assert world.dispatcher.send_pending(NOW) == 1
    assert [m.subject for m in world.smtp.received] == ["[smartcron TEST] alert delivery works"]


def test_the_background_loop_sends_until_it_is_stopped(world: World) -> None:
    world.service.raise_alert("runner_down", Severity.CRITICAL, "no runner heartbeat", now=SystemClock().now())
    stop = threading.Event()
    loop = threading.Thread(target=world.dispatcher.run_forever, args=(SystemClock(), stop, 0.05))
    loop.start()
    try:
        assert world.smtp.handler.arrived.wait(60), "the loop sent nothing"
    finally:
        stop.set()
        loop.join(60)
    assert not loop.is_alive()
    assert len(world.smtp.received) == 1


def test_an_acknowledged_alert_that_recovers_tells_those_who_were_mailed(world: World) -> None:
    alert = world.service.raise_alert("disk_space", Severity.CRITICAL, "log disk 95% full", now=NOW)
    world.dispatcher.send_pending(NOW)
    world.service.acknowledge(alert.id, by="maria", now=NOW + timedelta(minutes=1))
    world.service.resolve_by_id(alert.id, now=NOW + timedelta(minutes=2), by="maria")
    world.dispatcher.send_pending(NOW + timedelta(minutes=2))
    assert [m.subject for m in world.smtp.received] == [
        "[smartcron CRITICAL] log disk 95% full",
        "[smartcron RESOLVED] log disk 95% full",
    ]
    assert world.store.alerts.get(alert.id).state is AlertState.RESOLVED


def test_the_sender_is_rung_only_when_a_message_is_owed_at_once(world: World) -> None:
    rings: list[str] = []
    service = AlertService(world.store, world.settings, on_due=lambda: rings.append("ring"))

    service.raise_alert("disk_space", Severity.HIGH, "data disk 85% full", now=NOW)  # mailed after a delay
    service.raise_alert("disk_space", Severity.LOW, "data disk 86% full", now=NOW)  # a repeat, not higher
    assert rings == []
    service.raise_alert("disk_space", Severity.CRITICAL, "data disk 93% full", now=NOW)  # escalated
    service.raise_alert("bank_feed", Severity.CRITICAL, "bank feed down", now=NOW)  # new and critical
    service.raise_alert("bank_feed", Severity.CRITICAL, "bank feed down", now=NOW)  # a repeat
    assert rings == ["ring", "ring"]
    assert service.resolve("bank_feed", now=NOW) is True
    assert service.resolve("bank_feed", now=NOW) is False  # nothing open any more
    assert rings == ["ring", "ring", "ring"]
