"""Silences in the store, and which alerts they keep quiet: the same contract on SQLite,
PostgreSQL and MariaDB."""

from __future__ import annotations

from datetime import timedelta

import pytest

from smartcron.domain.alert_rules import RuleKind
from smartcron.domain.enums import Severity
from smartcron.errors import NotFoundError
from smartcron.store import Store
from tests.store.test_alerts_contract import NOW, add_task, raise_failed


def _due_ids(store: Store, at_offset: timedelta = timedelta(0)) -> set[int]:
    now = NOW + at_offset
    return {alert.id for alert in store.alerts.due(now, silences=store.silences.active(now))}


def test_a_silence_is_stored_listed_while_in_force_and_removed(store: Store) -> None:
    task_id = add_task(store)
    silence = store.silences.add(
        task_id=task_id, rule_id=None, until=NOW + timedelta(hours=2), reason="disk swap", created_by="cli:ops", now=NOW
    )
    assert (silence.task_name, silence.rule_name, silence.reason, silence.created_by) == (
        "payroll",
        None,
        "disk swap",
        "cli:ops",
    )
    assert silence.until == NOW + timedelta(hours=2)
    assert [s.id for s in store.silences.active(NOW)] == [silence.id]
    assert store.silences.active(NOW + timedelta(hours=2)) == []
    assert store.silences.list(now=NOW + timedelta(hours=3)) == []
    assert [s.id for s in store.silences.list(now=NOW + timedelta(hours=3), include_ended=True)] == [silence.id]
    assert store.silences.remove(silence.id).id == silence.id
    with pytest.raises(NotFoundError, match=f"no silence with id {silence.id}"):
        store.silences.remove(silence.id)


def test_a_task_silence_keeps_that_tasks_open_alerts_out_of_the_due_list_until_it_ends(store: Store) -> None:
    quiet, loud = add_task(store, "payroll"), add_task(store, "backup")
    quiet_alert, _ = raise_failed(store, quiet)
    loud_alert, _ = raise_failed(store, loud)
    store.silences.add(
        task_id=quiet, rule_id=None, until=NOW + timedelta(hours=1), reason=None, created_by="t", now=NOW
    )

    assert _due_ids(store) == {loud_alert.id}
    assert quiet_alert.id in _due_ids(store, timedelta(hours=1)), "owed again once the silence has ended"


def test_a_rule_silence_covers_only_that_rules_alerts_and_with_a_task_only_on_that_task(store: Store) -> None:
    payroll, backup = add_task(store, "payroll"), add_task(store, "backup")
    rule = store.alert_rules.add("slow", RuleKind.LONG_RUN, 60, severity=Severity.HIGH, now=NOW)
    rule_on_payroll, _ = raise_failed(store, payroll, kind=rule.alert_kind)
    rule_on_backup, _ = raise_failed(store, backup, kind=rule.alert_kind)
    failure_on_payroll, _ = raise_failed(store, payroll)
    silence = store.silences.add(task_id=payroll, rule_id=rule.id, until=NOW + timedelta(hours=1), reason=None,
                                 created_by="t", now=NOW)  # fmt: skip
    assert silence.describe() == "rule slow on task payroll"
    assert _due_ids(store) == {rule_on_backup.id, failure_on_payroll.id}

    store.silences.remove(silence.id)
    store.silences.add(task_id=None, rule_id=rule.id, until=NOW + timedelta(hours=1), reason=None, created_by="t",
                       now=NOW)  # fmt: skip
    assert _due_ids(store) == {failure_on_payroll.id}
    assert {rule_on_payroll.id, rule_on_backup.id} <= _due_ids(store, timedelta(hours=2))


def test_a_silence_goes_with_its_task_and_its_rule(store: Store) -> None:
    task_id = add_task(store)
    rule = store.alert_rules.add("slow", RuleKind.LONG_RUN, 60, severity=Severity.HIGH, now=NOW)
    store.silences.add(task_id=task_id, rule_id=None, until=NOW + timedelta(hours=1), reason=None, created_by="t",
                       now=NOW)  # fmt: skip
    store.silences.add(task_id=None, rule_id=rule.id, until=NOW + timedelta(hours=1), reason=None, created_by="t",
                       now=NOW)  # fmt: skip
    store.tasks.remove("payroll", now=NOW)
    store.alert_rules.remove("slow")
    assert store.silences.list(now=NOW, include_ended=True) == []
