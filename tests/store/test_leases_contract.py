"""Leases, take-overs, cancel requests, shared claims and chore slots: the same on all three databases."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from smartcron.domain.enums import ExecutionStatus, Trigger
from smartcron.domain.execution import Outcome
from smartcron.domain.task import Task, TaskSpec
from smartcron.errors import NotFoundError, UserError
from smartcron.store import Store
from smartcron.store.executions import Finish, SlotClaim
from smartcron.store.slots import Move
from tests.conftest import utc

NOW = utc(2026, 3, 1, 9, 30)
LEASE = timedelta(seconds=5)


def add_task(store: Store, name: str, **spec: object) -> int:
    fields: dict[str, object] = {"schedule": "* * * * *"} | spec
    return store.tasks.add(TaskSpec(name=name, command=("true",), **fields), now=NOW, next_run_at=NOW).id  # type: ignore[arg-type]


def running(store: Store, task_id: int, *, node: str, token: str, lease_until=NOW + LEASE) -> int:  # type: ignore[no-untyped-def]
    [row] = store.executions.claim([SlotClaim(task_id, NOW, Trigger.SCHEDULE)], node=node, token="c" + token, now=NOW)
    assert store.executions.begin([row.id], node=node, token=token, now=NOW, lease_until=lease_until) == [row.id]
    return row.id


def test_a_renewal_extends_only_this_runners_rows_and_reports_cancel_requests(store: Store) -> None:
    mine = running(store, add_task(store, "mine"), node="a", token="A")
    asked = running(store, add_task(store, "asked"), node="a", token="A")
    theirs = running(store, add_task(store, "theirs"), node="b", token="B")
    store.executions.request_cancel(asked, by="alice", now=NOW)

    renewal = store.leases.renew(node="a", tokens=["A"], until=NOW + timedelta(seconds=9))

    assert renewal.renewed == {mine, asked}
    assert renewal.cancel_requests == {asked: "alice"}
    assert store.executions.get(mine).lease_expires_at == NOW + timedelta(seconds=9)
    assert store.executions.get(theirs).lease_expires_at == NOW + LEASE


def test_an_expired_lease_is_taken_over_once_and_its_owner_is_fenced_out(store: Store) -> None:
    lost = running(store, add_task(store, "lost"), node="b", token="B")
    slow = running(store, add_task(store, "slow"), node="c", token="C", lease_until=NOW + timedelta(seconds=30))
    later = NOW + timedelta(seconds=10)

    with ThreadPoolExecutor(4) as pool:  # several survivors at once: one of them takes it
        taken = [item for batch in pool.map(lambda _: store.leases.take_over_expired(now=later, node="a"), range(4))
                 for item in batch]  # fmt: skip

    assert [(item.execution.id, item.outcome.status) for item in taken] == [(lost, ExecutionStatus.SUPERSEDED)]
    got = store.executions.get(lost)
    assert (got.status, got.reason, got.lease_token) == (ExecutionStatus.SUPERSEDED, "node b lost its lease", None)
    assert got.duration_ms == 10_000
    assert store.executions.get(slow).status is ExecutionStatus.RUNNING  # merely slow: under its lease
    # The owner comes back: its renewal no longer finds the row, its record changes nothing.
    assert store.leases.renew(node="b", tokens=["B"], until=later + LEASE).renewed == frozenset()
    late = Outcome(ExecutionStatus.SUCCESS, later, exit_code=0)
    assert store.executions.finish([Finish(lost, got.task_id, late)], token="B") == set()
    assert store.executions.get(lost).status is ExecutionStatus.SUPERSEDED


def test_an_owner_may_renew_an_expired_lease_nobody_took_over(store: Store) -> None:
    row = running(store, add_task(store, "cut_off"), node="b", token="B")
    later = NOW + timedelta(seconds=60)  # the database was away for everyone: nobody took it over
    assert store.leases.renew(node="b", tokens=["B"], until=later + LEASE).renewed == {row}
    assert store.leases.take_over_expired(now=later, node="a") == []


def test_a_cancel_request_ends_a_waiting_run_at_once_and_marks_a_running_one(store: Store) -> None:
    task_id = add_task(store, "cancellable")
    waiting = store.executions.enqueue(task_id, scheduled_for=NOW)
    ended = store.executions.request_cancel(waiting, by="bob", now=NOW)
    assert (ended.status, ended.reason) == (ExecutionStatus.CANCELLED, "cancelled by bob")
    other = add_task(store, "long")
    live = running(store, other, node="a", token="A")
    marked = store.executions.request_cancel(live, by="bob", now=NOW)
    assert (marked.status, marked.cancel_requested_by) == (ExecutionStatus.RUNNING, "bob")
    with pytest.raises(UserError, match="has already ended"):
        store.executions.request_cancel(waiting, by="bob", now=NOW)
    with pytest.raises(NotFoundError):
        store.executions.request_cancel(999_999, by="bob", now=NOW)


def test_cancel_waiting_ends_only_rows_that_have_not_started(store: Store) -> None:
    task_id = add_task(store, "queued")
    waiting = store.executions.enqueue(task_id, scheduled_for=NOW)
    started = store.executions.enqueue(task_id, scheduled_for=NOW + timedelta(seconds=1))
    store.executions.begin([started], node="a", token="A", now=NOW, lease_until=NOW + LEASE)
    assert store.leases.cancel_waiting([waiting, started], reason="task disabled", now=NOW) == {waiting}
    assert store.executions.get(waiting).status is ExecutionStatus.CANCELLED
    assert store.executions.get(started).status is ExecutionStatus.RUNNING


def _plan(tasks: Sequence[Task]) -> tuple[list[SlotClaim], list[Move]]:
    claims = [SlotClaim(task.id, NOW, Trigger.SCHEDULE) for task in tasks]
    moves: list[Move] = [(task.id, task.next_run_at, NOW + timedelta(minutes=1)) for task in tasks]
    return claims, moves


def test_claiming_due_tasks_takes_at_most_the_limit_and_says_when_more_are_due(store: Store) -> None:
    for i in range(5):
        add_task(store, f"due{i}")
    add_task(store, "elsewhere", nodes=("gpu",))
    first = store.slots.claim_due(NOW, node="a", limit=3, token="t1", plan=_plan)
    assert (len(first.tasks), len(first.won), first.more) == (3, 3, True)  # full: there may be more
    second = store.slots.claim_due(NOW, node="a", limit=3, token="t2", plan=_plan)
    assert (len(second.tasks), second.more) == (2, False)  # a task pinned elsewhere is not this node's
    assert {t.name for t in first.tasks} | {t.name for t in second.tasks} == {f"due{i}" for i in range(5)}
    assert store.slots.count_due(NOW, node="a") == 0
    assert store.slots.count_due(NOW, node="gpu") == 1


def test_nodes_claiming_at_once_take_different_due_tasks(store: Store, backend: str) -> None:
    """PostgreSQL and MariaDB: node b skips what node a has locked and claims the rest meanwhile.
    SQLite has one writer: b waits for a's transaction, then claims what is left."""
    for i in range(6):
        add_task(store, f"crowded{i}")
    holding, release = threading.Event(), threading.Event()

    def slow_plan(tasks: Sequence[Task]) -> tuple[list[SlotClaim], list[Move]]:
        holding.set()  # node a holds the locks on its tasks while node b claims
        assert release.wait(30)
        return _plan(tasks)

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(lambda: store.slots.claim_due(NOW, node="a", limit=3, token="ta", plan=slow_plan))
        assert holding.wait(30)
        claiming = pool.submit(lambda: store.slots.claim_due(NOW, node="b", limit=3, token="tb", plan=_plan))
        if backend != "sqlite":
            claiming.result(timeout=30)  # done while a still holds its tasks
        release.set()
        a = first.result(timeout=30)
        second = claiming.result(timeout=30)
    taken_a = {task.name for task in a.tasks}
    taken_b = {task.name for task in second.tasks}
    assert len(taken_a) == len(taken_b) == 3
    assert taken_a.isdisjoint(taken_b)
    assert store.executions.count() == 6


def test_a_chore_slot_goes_to_one_node(store: Store) -> None:
    with ThreadPoolExecutor(6) as pool:
        won = list(pool.map(lambda n: store.chores.claim("health", NOW, node=f"n{n}", now=NOW), range(6)))
    assert won.count(True) == 1
    assert store.chores.claim("health", NOW + timedelta(minutes=5), node="n0", now=NOW)
    assert store.chores.delete_before(NOW + timedelta(minutes=1)) == 1
