"""Alert, notification and rule repositories: the same contract on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TypeVar

import pytest

from smartcron.domain.alert_rules import RuleKind
from smartcron.domain.alerts import NotificationKind, NotificationState
from smartcron.domain.enums import AlertState, ExecutionStatus, Severity, Trigger
from smartcron.domain.execution import Outcome
from smartcron.domain.task import TaskSpec
from smartcron.errors import ConflictError, NotFoundError, UserError
from smartcron.store import Store
from smartcron.store.executions import Finish, SlotClaim
from smartcron.store.notifications import NewNotification, OwedMessage
from tests.conftest import utc

NOW = utc(2026, 3, 1, 9, 30)
T = TypeVar("T")


def add_task(store: Store, name: str = "payroll") -> int:
    return store.tasks.add(TaskSpec(name=name, command=("true",), schedule="* * * * *"), now=NOW, next_run_at=NOW).id


def raise_failed(store: Store, task_id: int | None, *, now=NOW, severity=Severity.CRITICAL, kind="task_failed"):  # type: ignore[no-untyped-def]
    return store.alerts.raise_or_repeat(
        kind, task_id=task_id, severity=severity, message="payroll failed (exit 1)", now=now, notify_after=now
    )


def all_at_once(workers: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work`` in ``workers`` threads released together, so they really race."""
    barrier = threading.Barrier(workers)

    def run(i: int) -> T:
        barrier.wait()
        return work(i)

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(run, range(workers)))


def test_a_repeated_alert_counts_up_instead_of_opening_another(store: Store) -> None:
    task_id = add_task(store)
    first, created = raise_failed(store, task_id)
    again, created_again = raise_failed(store, task_id, now=NOW + timedelta(minutes=5))
    assert (created, created_again) == (True, False)
    assert again.id == first.id
    assert again.count == 2
    assert again.first_seen == NOW and again.last_seen == NOW + timedelta(minutes=5)
    assert again.task_name == "payroll"


def test_twenty_racing_raises_leave_one_open_alert_with_count_twenty(store: Store) -> None:
    task_id = add_task(store)
    results = all_at_once(20, lambda _i: raise_failed(store, task_id))
    assert sum(1 for _alert, created in results if created) == 1
    active = store.alerts.list(active_only=True)
    assert len(active) == 1
    assert active[0].count == 20


def test_after_resolving_the_same_failure_opens_a_new_alert(store: Store) -> None:
    task_id = add_task(store)
    first, _ = raise_failed(store, task_id)
    resolved = store.alerts.resolve("task_failed", task_id=task_id, now=NOW + timedelta(minutes=1))
    second, created = raise_failed(store, task_id, now=NOW + timedelta(minutes=2))
    assert resolved is not None and resolved.state is AlertState.RESOLVED
    assert created and second.id != first.id
    assert [a.state for a in store.alerts.list()] == [AlertState.OPEN, AlertState.RESOLVED]


def test_alerts_without_a_task_are_one_per_kind(store: Store) -> None:
    raise_failed(store, None, kind="runner_down")
    alert, created = raise_failed(store, None, kind="runner_down")
    assert not created and alert.count == 2 and alert.task_id is None and alert.task_name is None


def test_resolving_owes_a_message_only_for_an_announced_alert(store: Store) -> None:
    quiet_task, told_task = add_task(store, "quiet"), add_task(store, "told")
    raise_failed(store, quiet_task)
    told, _ = raise_failed(store, told_task)
    store.notifications.queue(
        [OwedMessage(told, NotificationKind.ALERT)], lambda won: [], now=NOW, renotify_interval=3600
    )
    later = NOW + timedelta(minutes=3)
    resolved = store.alerts.resolve_many([("task_failed", quiet_task), ("task_failed", told_task)], now=later)
    owed = {a.task_name: a.notify_after for a in resolved}
    assert owed == {"quiet": None, "told": later}


def test_acknowledging_stops_reminders_and_refuses_resolved_alerts(store: Store) -> None:
    task_id = add_task(store)
    alert, _ = raise_failed(store, task_id)
    acked = store.alerts.acknowledge(alert.id, by="maria", now=NOW)
    assert acked.state is AlertState.ACKNOWLEDGED and acked.acknowledged_by == "maria"
    assert store.alerts.due(NOW + timedelta(days=1)) == []
    again, _ = raise_failed(store, task_id)
    assert again.state is AlertState.ACKNOWLEDGED and again.count == 2
    store.alerts.resolve_by_id(alert.id, now=NOW)
    with pytest.raises(UserError, match="already resolved"):
        store.alerts.acknowledge(alert.id, by="maria", now=NOW)
    with pytest.raises(NotFoundError):
        store.alerts.get(999_999)


def test_a_snoozed_alert_owes_no_message_until_its_snooze_ends(store: Store) -> None:
    task_id = add_task(store)
    alert, _ = raise_failed(store, task_id)
    assert [a.id for a in store.alerts.due(NOW)] == [alert.id]
    snoozed = store.alerts.snooze(alert.id, until=NOW + timedelta(hours=2))
    assert snoozed.snoozed_until == NOW + timedelta(hours=2) and snoozed.state is AlertState.OPEN
    assert snoozed.snoozed_at(NOW) and not snoozed.snoozed_at(NOW + timedelta(hours=2))
    assert store.alerts.due(NOW + timedelta(minutes=119)) == []
    again, _ = raise_failed(store, task_id, now=NOW + timedelta(minutes=30))
    assert (again.count, again.snoozed_until) == (2, NOW + timedelta(hours=2))  # a repeat keeps the snooze
    assert [a.id for a in store.alerts.due(NOW + timedelta(hours=2))] == [alert.id]
    assert store.alerts.list(active_only=True)[0].snoozed_until == NOW + timedelta(hours=2)


def test_a_snooze_that_begins_after_the_dispatcher_read_still_holds(store: Store) -> None:
    alert, _ = raise_failed(store, add_task(store))
    [owed] = store.alerts.due(NOW)
    store.alerts.snooze(alert.id, until=NOW + timedelta(hours=1))
    won = store.notifications.queue(
        [OwedMessage(owed, NotificationKind.ALERT)], lambda won: [], now=NOW, renotify_interval=60
    )
    assert won == []
    assert store.alerts.get(alert.id).notified_at is None


def test_a_resolved_alert_cannot_be_snoozed_and_its_resolved_message_is_not_held(store: Store) -> None:
    task_id = add_task(store)
    alert, _ = raise_failed(store, task_id)
    store.notifications.queue(
        [OwedMessage(alert, NotificationKind.ALERT)], lambda won: [], now=NOW, renotify_interval=3600
    )
    store.alerts.snooze(alert.id, until=NOW + timedelta(hours=5))
    store.alerts.resolve_by_id(alert.id, now=NOW + timedelta(minutes=1))
    assert [a.state for a in store.alerts.due(NOW + timedelta(minutes=1))] == [AlertState.RESOLVED]
    with pytest.raises(ConflictError, match=f"alert {alert.id} is already resolved"):
        store.alerts.snooze(alert.id, until=NOW + timedelta(hours=1))
    assert not store.alerts.get(alert.id).snoozed_at(NOW)
    with pytest.raises(NotFoundError):
        store.alerts.snooze(999_999, until=NOW)


def test_two_dispatchers_queue_an_owed_alert_once(store: Store) -> None:
    task_id = add_task(store)
    alert, _ = raise_failed(store, task_id)
    owed = [OwedMessage(alert, NotificationKind.ALERT)]

    def compose(won: Sequence[OwedMessage]) -> list[NewNotification]:
        return [NewNotification(x.kind, "email", "s", "b", ("ops@example.com",), x.alert.id) for x in won]

    won = all_at_once(6, lambda _i: store.notifications.queue(owed, compose, now=NOW, renotify_interval=3600))
    assert sum(len(w) for w in won) == 1
    assert len(store.notifications.list()) == 1
    stored = store.alerts.get(alert.id)
    assert stored.notified_at == NOW and stored.notify_after == NOW + timedelta(hours=1)


def test_two_dispatchers_racing_on_one_notification_send_it_once(store: Store) -> None:
    [nid] = store.notifications.add([NewNotification(NotificationKind.TEST, "email", "s", "b", ("a@b.c",))], now=NOW)
    until = NOW + timedelta(minutes=5)
    claims = all_at_once(8, lambda i: store.notifications.claim(now=NOW, node=f"node{i}", until=until))
    winners = [i for i, claimed in enumerate(claims) if claimed]
    assert len(winners) == 1
    assert [n.id for n in claims[winners[0]]] == [nid]
    assert store.notifications.mark_sent(nid, node=f"node{winners[0]}", now=NOW)
    assert not store.notifications.claim(now=NOW + timedelta(hours=1), node="late", until=until)


def test_a_claim_that_expired_is_taken_over_and_the_old_claimant_cannot_record(store: Store) -> None:
    [nid] = store.notifications.add([NewNotification(NotificationKind.TEST, "email", "s", "b", ("a@b.c",))], now=NOW)
    assert store.notifications.claim_one(nid, now=NOW, node="dead", until=NOW + timedelta(minutes=5))
    assert not store.notifications.claim_one(nid, now=NOW + timedelta(minutes=1), node="b", until=NOW)
    later = NOW + timedelta(minutes=6)
    assert store.notifications.claim_one(nid, now=later, node="b", until=later + timedelta(minutes=5))
    assert not store.notifications.mark_sent(nid, node="dead", now=later)
    assert store.notifications.mark_sent(nid, node="b", now=later)
    sent = store.notifications.get(nid)
    assert sent is not None and sent.state is NotificationState.SENT and sent.attempts == 2


def test_a_failed_attempt_waits_for_its_retry_time_or_stops_for_good(store: Store) -> None:
    ids = store.notifications.add(
        [NewNotification(NotificationKind.TEST, "email", "s", "b", ("a@b.c",)) for _ in range(2)], now=NOW
    )
    claimed = store.notifications.claim(now=NOW, node="n", until=NOW + timedelta(minutes=5))
    assert [n.id for n in claimed] == ids
    retry_at = NOW + timedelta(seconds=10)
    assert store.notifications.mark_failed(ids[0], node="n", error="connection refused", retry_at=retry_at)
    assert store.notifications.mark_failed(ids[1], node="n", error="550 no such user", retry_at=None)
    assert store.notifications.claim(now=NOW + timedelta(seconds=9), node="n", until=NOW + timedelta(minutes=5)) == []
    [again] = store.notifications.claim(now=retry_at, node="n", until=NOW + timedelta(minutes=5))
    assert (again.id, again.attempts, again.last_error) == (ids[0], 2, "connection refused")
    failed = store.notifications.get(ids[1])
    assert failed is not None and failed.state is NotificationState.FAILED


def test_dashboard_reads_list_count_and_page_alerts(store: Store) -> None:
    ids = [add_task(store, f"t{i}") for i in range(3)]
    raise_failed(store, ids[0], severity=Severity.CRITICAL)
    raise_failed(store, ids[1], severity=Severity.HIGH)
    third, _ = raise_failed(store, ids[2], severity=Severity.LOW)
    store.alerts.resolve_by_id(third.id, now=NOW)
    assert store.alerts.count_open_by_severity() == {Severity.CRITICAL: 1, Severity.HIGH: 1, Severity.LOW: 0}
    newest_first = store.alerts.list()
    assert [a.task_name for a in newest_first] == ["t2", "t1", "t0"]
    assert [a.task_name for a in store.alerts.list(before_id=newest_first[0].id, limit=1)] == ["t1"]
    assert [a.task_name for a in store.alerts.list(state=AlertState.RESOLVED)] == ["t2"]
    assert len(store.alerts.list(active_only=True)) == 2


def test_retention_deletes_only_old_resolved_alerts_and_finished_messages(store: Store) -> None:
    task_id = add_task(store)
    old, _ = raise_failed(store, task_id)
    store.alerts.resolve_by_id(old.id, now=NOW)
    current, _ = raise_failed(store, task_id, now=NOW + timedelta(days=2))
    store.notifications.add([NewNotification(NotificationKind.TEST, "email", "s", "b")], now=NOW)
    cutoff = NOW + timedelta(days=1)
    assert store.alerts.delete_resolved_before(cutoff) == 1
    assert store.notifications.delete_finished_before(cutoff) == 0  # still pending: kept
    assert [a.id for a in store.alerts.list()] == [current.id]


def test_rules_are_unique_by_name_and_removable(store: Store) -> None:
    task_id = add_task(store)
    rule = store.alert_rules.add(
        "payroll-slow", RuleKind.LONG_RUN, 3600, severity=Severity.HIGH, now=NOW, task_id=task_id
    )
    assert (rule.task_name, rule.kind, rule.threshold) == ("payroll", RuleKind.LONG_RUN, 3600.0)
    with pytest.raises(ConflictError, match="already exists"):
        store.alert_rules.add("payroll-slow", RuleKind.SHORT_RUN, 1, severity=Severity.LOW, now=NOW)
    store.alert_rules.remove("payroll-slow")
    assert store.alert_rules.list() == []
    with pytest.raises(NotFoundError):
        store.alert_rules.remove("payroll-slow")


def test_run_counts_cover_the_window_and_leave_out_deliberate_kills(store: Store) -> None:
    task_id = add_task(store)
    outcomes = [
        (ExecutionStatus.SUCCESS, None, NOW - timedelta(hours=2)),  # before the window
        (ExecutionStatus.SUCCESS, None, NOW),
        (ExecutionStatus.FAILED, None, NOW),
        (ExecutionStatus.TIMEOUT, None, NOW),
        (ExecutionStatus.KILLED, "replaced", NOW),
    ]
    claims = [SlotClaim(task_id, NOW - timedelta(minutes=i), Trigger.SCHEDULE) for i in range(len(outcomes))]
    won = store.executions.claim(claims, node="n", token="tok", now=NOW)
    finishes = [
        Finish(x.id, task_id, Outcome(status=status, finished_at=at, reason=reason))
        for x, (status, reason, at) in zip(won, outcomes, strict=True)
    ]
    store.executions.finish(finishes, token=None)
    counts = store.alert_rules.run_counts(NOW - timedelta(hours=1))
    assert counts[task_id].finished == 3 and counts[task_id].failed == 2


def test_a_dispatcher_claims_only_messages_for_its_own_channels(store: Store) -> None:
    email, hook = store.notifications.add(
        [
            NewNotification(NotificationKind.TEST, "email", "s", "b", ("a@b.c",)),
            NewNotification(NotificationKind.TEST, "apprise:0123456789abcdef", "s", "b"),
        ],
        now=NOW,
    )
    until = NOW + timedelta(minutes=5)
    assert [n.id for n in store.notifications.claim(now=NOW, node="hook-only", until=until, channels=[])] == []
    claimed = store.notifications.claim(now=NOW, node="hook-only", until=until, channels=["apprise:0123456789abcdef"])
    assert [n.id for n in claimed] == [hook]
    assert [n.id for n in store.notifications.claim(now=NOW, node="mail", until=until, channels=["email"])] == [email]
