"""The grid's 7-day success counts kept in memory give the same answer as counting in SQL, on every
database, as runs finish and as the window slides."""

from __future__ import annotations

from datetime import datetime, timedelta

from smartcron.domain.enums import ExecutionStatus, Trigger
from smartcron.domain.execution import Outcome
from smartcron.domain.task import TaskSpec
from smartcron.store import Store
from smartcron.store.executions import Finish, SlotClaim
from smartcron.web.queries import success_counts
from smartcron.web.success_window import SuccessWindow
from tests.conftest import utc

NOW = utc(2026, 3, 1, 12)
WEEK = timedelta(days=7)


def _task(store: Store, name: str) -> int:
    return store.tasks.add(TaskSpec(name=name, command=("true",), schedule="* * * * *"), now=NOW, next_run_at=NOW).id


def _run(
    store: Store, task_id: int, slot: datetime, status: ExecutionStatus, *, attempt: int = 0, took: float = 30
) -> int:
    claim = SlotClaim(task_id, slot, Trigger.SCHEDULE, attempt=attempt)
    [run] = store.executions.claim([claim], node="n", token="t", now=slot)
    store.executions.begin([run.id], node="n", token="t", now=slot, lease_until=slot)
    outcome = Outcome(status=status, finished_at=slot + timedelta(seconds=took))
    store.executions.finish([Finish(run.id, task_id, outcome)], token="t")
    return run.id


def _skipped(store: Store, task_id: int, slot: datetime) -> None:
    claim = SlotClaim(task_id, slot, Trigger.SCHEDULE, status=ExecutionStatus.SKIPPED, reason="overlap")
    store.executions.claim([claim], node="n", token="s", now=slot)


def test_counts_match_the_sql_count_for_every_status_and_age(store: Store) -> None:
    a, b, idle = _task(store, "a"), _task(store, "b"), _task(store, "idle")
    _run(store, a, NOW - timedelta(days=8), ExecutionStatus.FAILED)  # before the window
    _run(store, a, NOW - timedelta(days=6), ExecutionStatus.SUCCESS)
    _run(store, a, NOW - timedelta(hours=3), ExecutionStatus.TIMEOUT)
    _run(store, a, NOW - timedelta(hours=3), ExecutionStatus.SUCCESS, attempt=1)
    _skipped(store, a, NOW - timedelta(hours=2))  # never ran: not counted
    _run(store, b, NOW - timedelta(hours=1), ExecutionStatus.KILLED)
    store.executions.enqueue(b, scheduled_for=NOW)  # live: not counted

    window = SuccessWindow(store)
    ids, since = [a, b, idle], NOW - WEEK

    assert window.counts(ids, since=since) == success_counts(store, ids, since=since) == {a: (3, 2), b: (1, 0)}


def test_runs_that_finish_after_the_first_count_are_added(store: Store) -> None:
    a = _task(store, "a")
    window = SuccessWindow(store)
    assert window.counts([a], since=NOW - WEEK) == {}  # nothing has finished yet

    _run(store, a, NOW - timedelta(hours=2), ExecutionStatus.SUCCESS)
    assert window.counts([a], since=NOW - WEEK) == {a: (1, 1)}

    _run(store, a, NOW - timedelta(hours=1), ExecutionStatus.FAILED)
    _run(store, a, NOW - timedelta(hours=2, minutes=3), ExecutionStatus.SUCCESS)  # finished earlier, recorded later
    assert window.counts([a], since=NOW - WEEK) == {a: (3, 2)}


def test_the_window_slides_and_an_earlier_start_is_still_exact(store: Store) -> None:
    a = _task(store, "a")
    for day in range(12):
        status = ExecutionStatus.SUCCESS if day % 2 else ExecutionStatus.FAILED
        _run(store, a, NOW - timedelta(days=day, hours=1), status)
    long_run = timedelta(days=6)  # the oldest slot of the week, finished after all the others
    _run(store, a, NOW - timedelta(days=6, minutes=30), ExecutionStatus.SUCCESS, took=long_run.total_seconds())
    window = SuccessWindow(store)

    for since in (NOW - WEEK, NOW - timedelta(days=3), NOW - timedelta(days=1), NOW - timedelta(days=10)):
        assert window.counts([a], since=since) == success_counts(store, [a], since=since), since
