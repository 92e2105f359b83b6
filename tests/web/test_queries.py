"""The dashboard's read queries give the same answers on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from datetime import timedelta

from smartcron.clock import FakeClock
from smartcron.domain.enums import ExecutionStatus, Trigger
from smartcron.domain.execution import Outcome
from smartcron.domain.task import TaskSpec
from smartcron.store import Store
from smartcron.store.executions import Finish, SlotClaim
from smartcron.web import queries
from smartcron.web.activity import ActivityCache
from tests.conftest import utc

NOW = utc(2026, 3, 1, 12)


def _task(store: Store, name: str) -> int:
    spec = TaskSpec(name=name, command=("true",), schedule="* * * * *")
    return store.tasks.add(spec, now=NOW, next_run_at=NOW).id


def _run(store: Store, task_id: int, finished: object, status: ExecutionStatus, duration_ms: int = 1000) -> int:
    assert isinstance(finished, type(NOW))
    [run] = store.executions.claim([SlotClaim(task_id, finished, Trigger.SCHEDULE)], node="n", token="t", now=finished)
    store.executions.begin([run.id], node="n", token="t", now=finished, lease_until=finished)
    outcome = Outcome(status=status, finished_at=finished, duration_ms=duration_ms)
    store.executions.finish([Finish(run.id, task_id, outcome)], token="t")
    return run.id


def test_success_counts_cover_the_last_seven_days_only(store: Store) -> None:
    task_id = _task(store, "a")
    _run(store, task_id, NOW - timedelta(days=8), ExecutionStatus.FAILED)
    _run(store, task_id, NOW - timedelta(days=1), ExecutionStatus.SUCCESS)
    _run(store, task_id, NOW - timedelta(hours=1), ExecutionStatus.TIMEOUT)
    page = queries.task_grid(store, now=NOW)
    [row] = page.rows
    assert (row.runs_7d, row.successes_7d, row.success_rate) == (2, 1, 0.5)


def test_activity_groups_runs_by_minute_on_every_database(store: Store) -> None:
    task_id = _task(store, "a")
    _run(store, task_id, utc(2026, 3, 1, 11, 0, 10), ExecutionStatus.SUCCESS, 1000)
    _run(store, task_id, utc(2026, 3, 1, 11, 0, 50), ExecutionStatus.FAILED, 3000)
    _run(store, task_id, utc(2026, 3, 1, 11, 2, 0), ExecutionStatus.SUCCESS, 2000)
    buckets = queries.activity(store, since=utc(2026, 3, 1, 11), until=utc(2026, 3, 1, 11, 5), bucket_seconds=60)
    assert [(b.start, b.runs, b.failures, b.avg_duration_ms) for b in buckets] == [
        (utc(2026, 3, 1, 11, 0), 2, 1, 2000.0),
        (utc(2026, 3, 1, 11, 2), 1, 0, 2000.0),
    ]
    filled = queries.fill_buckets(buckets, since=utc(2026, 3, 1, 11), until=utc(2026, 3, 1, 11, 5), width=60)
    assert [b.runs for b in filled] == [2, 0, 1, 0, 0]


def test_kept_buckets_and_the_live_tail_add_up_to_a_fresh_count(store: Store) -> None:
    task_id = _task(store, "a")
    clock = FakeClock(NOW)
    cache = ActivityCache(store, clock)
    for minutes_ago in (50, 30, 3, 1):
        _run(store, task_id, NOW - timedelta(minutes=minutes_ago), ExecutionStatus.SUCCESS)
    first = cache.buckets(since=NOW - timedelta(hours=1), until=NOW, width=60)
    assert sum(b.runs for b in first) == 4
    _run(store, task_id, NOW - timedelta(seconds=30), ExecutionStatus.FAILED)  # lands in the live tail
    clock.advance(60)
    second = cache.buckets(since=NOW - timedelta(hours=1), until=clock.now(), width=60)
    fresh = queries.activity(store, since=NOW - timedelta(hours=1), until=clock.now(), bucket_seconds=60)
    assert [(b.start, b.runs, b.failures) for b in second] == [(b.start, b.runs, b.failures) for b in fresh]


def test_a_tasks_history_pages_newest_slot_first(store: Store) -> None:
    task_id = _task(store, "a")
    other = _task(store, "b")
    ids = [_run(store, task_id, NOW - timedelta(minutes=m), ExecutionStatus.SUCCESS) for m in (5, 4, 3, 2, 1)]
    _run(store, other, NOW, ExecutionStatus.SUCCESS)
    first = queries.task_history(store, task_id, limit=2)
    assert [x.id for x in first] == [ids[4], ids[3]]
    second = queries.task_history(store, task_id, limit=2, before_id=first[-1].id)
    assert [x.id for x in second] == [ids[2], ids[1]]
    failed = queries.task_history(store, task_id, status=ExecutionStatus.FAILED)
    assert failed == []


def test_running_runs_are_counted_from_live_rows(store: Store) -> None:
    task_id = _task(store, "a")
    [run] = store.executions.claim([SlotClaim(task_id, NOW, Trigger.SCHEDULE)], node="n", token="t", now=NOW)
    assert queries.running_count(store) == 0
    store.executions.begin([run.id], node="n", token="t", now=NOW, lease_until=NOW)
    assert queries.running_count(store) == 1
    assert queries.running_task_ids(store) == {task_id}
