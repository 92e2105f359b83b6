"""Silences decide in the dispatcher: a silenced task's critical failure is stored and shown but
not mailed (a real SMTP server on loopback receives nothing), an unsilenced one is mailed at once,
and the held-back message goes out when the silence is removed or ends, if still open then.
Silences are made through the service the CLI, API and dashboard call; times are passed
explicitly from the database's clock, so the hours take no real time."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from smartcron.domain.enums import AlertState, ExecutionStatus
from smartcron.errors import UserError
from smartcron.services.rule_actions import add_alert_rule
from smartcron.services.silence_actions import remove_silence, silence_alerts
from tests.alerts.conftest import World, add_task, record_run


def _fail(world: World, name: str, now: datetime) -> None:
    store = world.store
    task = store.tasks.find(name) or add_task(store, name, priority=1, now=now)
    run = record_run(store, task, ExecutionStatus.FAILED, now=now)
    world.service.on_execution_finished(store.tasks.get(name), run, now)


def _subjects(world: World) -> list[str]:
    return [mail.subject for mail in world.smtp.received]


def test_a_silenced_tasks_critical_alert_is_stored_not_mailed_and_an_unsilenced_one_is(world: World) -> None:
    now = world.store.database_now()
    add_task(world.store, "nightly_backup", priority=1, now=now)
    silence = silence_alerts(world.store, by="cli:ops", task="nightly_backup", duration="2h", reason="disk swap")

    _fail(world, "nightly_backup", now)
    _fail(world, "bank_import", now)
    assert world.dispatcher.send_pending(now) == 1

    assert _subjects(world) == ["[smartcron CRITICAL] payroll/bank_import failed (exit 1)"]
    stored = {alert.task_name: alert for alert in world.store.alerts.list()}
    assert stored["nightly_backup"].state is AlertState.OPEN and stored["nightly_backup"].notified_at is None
    for minute in range(1, 120, 10):  # nothing about it during the silence; bank_import gets its reminder
        world.dispatcher.send_pending(now + timedelta(minutes=minute))
    assert [s for s in _subjects(world) if "nightly_backup" in s] == []
    assert "[smartcron CRITICAL] still open: payroll/bank_import failed (exit 1) (1x)" in _subjects(world)

    [entry] = [e for e in world.store.audit.list() if e.action == "alert.silence"]
    assert (entry.actor, entry.target) == ("cli:ops", f"silence {silence.id}")
    assert entry.details == {"task": "nightly_backup", "rule": None, "until": silence.until.isoformat(),
                             "reason": "disk swap"}  # fmt: skip


def test_the_held_back_message_goes_out_when_the_silence_ends(world: World) -> None:
    now = world.store.database_now()
    add_task(world.store, "nightly_backup", priority=1, now=now)
    silence = silence_alerts(world.store, by="cli:ops", task="nightly_backup", duration="1h")
    _fail(world, "nightly_backup", now)
    world.dispatcher.send_pending(silence.until - timedelta(seconds=1))
    assert world.smtp.received == []

    world.dispatcher.send_pending(silence.until)
    assert _subjects(world) == ["[smartcron CRITICAL] payroll/nightly_backup failed (exit 1)"]


def test_removing_a_silence_sends_what_it_held_back_at_the_next_pass(world: World) -> None:
    now = world.store.database_now()
    add_task(world.store, "nightly_backup", priority=1, now=now)
    silence = silence_alerts(world.store, by="cli:ops", task="nightly_backup", duration="1d")
    _fail(world, "nightly_backup", now)
    world.dispatcher.send_pending(now)
    assert world.smtp.received == []

    remove_silence(world.store, silence.id, by="web:maria")
    world.dispatcher.send_pending(now + timedelta(seconds=1))
    assert len(world.smtp.received) == 1
    [entry] = [e for e in world.store.audit.list() if e.action == "alert.unsilence"]
    assert (entry.actor, entry.target) == ("web:maria", f"silence {silence.id}")


def test_a_rule_silence_keeps_the_rules_alert_quiet_but_not_the_tasks_failure(world: World) -> None:
    now = world.store.database_now()
    add_task(world.store, "nightly_backup", priority=1, now=now)
    rule = add_alert_rule(world.store, by="cli:ops", name="slow", kind="long_run", threshold="1h", severity="critical")
    silence_alerts(world.store, by="cli:ops", rule="slow", duration="2h")
    task_id = world.store.tasks.get("nightly_backup").id
    world.service.raise_alert(rule.alert_kind, rule.severity, "nightly_backup runs over 1 h", now=now, task_id=task_id)
    _fail(world, "nightly_backup", now)

    world.dispatcher.send_pending(now)
    assert _subjects(world) == ["[smartcron CRITICAL] payroll/nightly_backup failed (exit 1)"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"duration": "2h"}, "task: give a task or a rule (or both) to silence"),
        ({"task": "nightly_backup"}, "silence: give a duration or an end time (until), one of the two"),
        ({"task": "nightly_backup", "duration": "soon"}, "duration: 'soon' is not a duration (e.g. 30m, 2h, 1d)"),
        ({"task": "nightly_backup", "duration": "91d"}, "duration: a silence lasts from 1 min to 90 d"),
        ({"task": "nightly_backup", "duration": "1h", "reason": "x" * 256}, "reason: at most 255 characters"),
    ],
)
def test_a_bad_silence_is_refused_naming_the_field_and_nothing_is_stored(
    world: World, fields: dict[str, str], message: str
) -> None:
    add_task(world.store, "nightly_backup", priority=1, now=world.store.database_now())
    with pytest.raises(UserError) as refused:
        silence_alerts(world.store, by="cli:ops", **fields)  # type: ignore[arg-type]
    assert refused.value.message == message
    assert world.store.silences.list(now=world.store.database_now(), include_ended=True) == []
    assert not [e for e in world.store.audit.list() if e.action == "alert.silence"]
