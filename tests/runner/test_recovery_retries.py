"""Retries a runner owed when it was killed: remembered again from the failed row that has no next attempt."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from smartcron.clock import FakeClock
from smartcron.domain.enums import ExecutionStatus, Trigger
from smartcron.domain.retry import JITTER
from smartcron.runner.scheduling.recovery import OVERDUE_RETRY, look_after_runs, recall_owed_retries
from smartcron.store import Store
from smartcron.store.executions import SlotClaim, Start
from tests.conftest import utc
from tests.runner.runner_support import add_task, failed_and_left, running_engine, runs_of, settings_for, settle

T0 = utc(2026, 3, 1, 10)
DELAY = 30


def test_a_starting_runner_remembers_a_retry_owed_and_runs_it_when_due(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home")
    task = add_task(
        store, "flaky", ("true",), next_run_at=T0 + timedelta(hours=1), created=T0, retries=2, retry_delay=DELAY
    )
    ended = failed_and_left(store, task, at=T0)
    clock = FakeClock(ended + timedelta(seconds=5))
    with running_engine(settings, store, clock, role="runner") as engine:
        assert recall_owed_retries(engine, clock.now(), overdue=None) == 1
        assert recall_owed_retries(engine, clock.now(), overdue=None) == 0, "remembered once"
        due = engine.next_retry_at()
        assert due is not None
        assert ended + timedelta(seconds=DELAY * (1 - JITTER)) <= due <= ended + timedelta(seconds=DELAY)
        assert engine.run_pass(clock.now(), plan=False).started == 0, "not before it is due"
        clock.set(due)
        assert engine.run_pass(clock.now(), plan=False).started == 1
        settle(engine)
        assert recall_owed_retries(engine, clock.now(), overdue=None) == 0, "its row exists now"
    first, retry = runs_of(store, task)
    assert (retry.trigger, retry.attempt, retry.retry_of, retry.status) == (
        Trigger.RETRY, 1, first.id, ExecutionStatus.SUCCESS,
    )  # fmt: skip


def test_upkeep_takes_up_a_retry_only_once_it_is_overdue_and_runs_it_at_once(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home")
    task = add_task(
        store, "flaky", ("true",), next_run_at=T0 + timedelta(hours=1), created=T0, retries=2, retry_delay=DELAY
    )
    ended = failed_and_left(store, task, at=T0)
    latest_due = ended + timedelta(seconds=DELAY)
    clock = FakeClock(latest_due + OVERDUE_RETRY - timedelta(seconds=1))
    with running_engine(settings, store, clock) as engine:
        assert recall_owed_retries(engine, clock.now(), overdue=OVERDUE_RETRY) == 0, "its runner may still run it"
        clock.advance(1)
        assert recall_owed_retries(engine, clock.now(), overdue=OVERDUE_RETRY) == 1
        assert engine.next_retry_at() == clock.now()
        assert engine.run_pass(clock.now(), plan=False).started == 1
        settle(engine)
    assert [(r.attempt, r.status) for r in runs_of(store, task)] == [
        (0, ExecutionStatus.FAILED),
        (1, ExecutionStatus.SUCCESS),
    ]


def test_no_retry_is_recalled_for_a_paused_task_or_one_whose_attempts_are_spent(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home")
    later = T0 + timedelta(hours=1)
    paused = add_task(store, "paused", ("true",), next_run_at=later, created=T0, retries=2, retry_delay=DELAY)
    store.tasks.set_flags("paused", now=T0, paused=True)
    spent = add_task(store, "spent", ("true",), next_run_at=later, created=T0, retries=0, retry_delay=DELAY)
    failed_and_left(store, paused, at=T0)
    failed_and_left(store, spent, at=T0)
    clock = FakeClock(T0 + timedelta(hours=1))
    with running_engine(settings, store, clock, role="runner") as engine:
        assert recall_owed_retries(engine, clock.now(), overdue=None) == 0
        assert engine.next_retry_at() is None


def test_a_retry_is_void_once_the_task_was_changed_or_ran_again_after_the_failure(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home")
    later = T0 + timedelta(hours=1)
    resumed = add_task(store, "resumed", ("true",), next_run_at=later, created=T0, retries=2, retry_delay=DELAY)
    ran_again = add_task(store, "ran_again", ("true",), next_run_at=later, created=T0, retries=2, retry_delay=DELAY)
    failed_and_left(store, resumed, at=T0)
    failed_and_left(store, ran_again, at=T0)
    store.tasks.set_flags("resumed", now=T0 + timedelta(minutes=1), paused=True)
    store.tasks.set_flags("resumed", now=T0 + timedelta(minutes=2), paused=False)
    next_slot = T0 + timedelta(minutes=1)
    [row] = store.executions.claim(
        [SlotClaim(ran_again.id, next_slot, Trigger.SCHEDULE)], node="n", token="t", now=next_slot
    )
    store.executions.begin([row.id], node="n", token="t", now=next_slot, lease_until=later)
    store.executions.attach([Start(row.id, ran_again.id, next_slot, 4242, 4242, None)], token="t")  # it started
    clock = FakeClock(T0 + timedelta(minutes=10))
    with running_engine(settings, store, clock, role="runner") as engine:
        assert recall_owed_retries(engine, clock.now(), overdue=None) == 0
        assert engine.next_retry_at() is None


def test_a_runners_upkeep_takes_up_overdue_retries_and_a_manual_runs_does_not(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home")
    task = add_task(
        store, "flaky", ("true",), next_run_at=T0 + timedelta(hours=1), created=T0, retries=2, retry_delay=DELAY
    )
    ended = failed_and_left(store, task, at=T0)
    clock = FakeClock(ended + timedelta(seconds=DELAY) + OVERDUE_RETRY)
    with running_engine(settings, store, clock) as engine:
        look_after_runs(engine, clock.now(), announced=False)  # as a manual run in-process does
        assert engine.next_retry_at() is None
        look_after_runs(engine, clock.now(), announced=True)  # as the daemon and tick do
        assert engine.next_retry_at() == clock.now()
