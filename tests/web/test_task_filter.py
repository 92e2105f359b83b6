"""The home page's status filters and their counts give the same answers on SQLite, PostgreSQL
and MariaDB: failing (last run failed), late or missed (active, next slot over 2 minutes past or
last slot missed), running (a run alive now) and paused."""

from __future__ import annotations

from datetime import timedelta

from smartcron.domain.enums import ExecutionStatus, Trigger
from smartcron.domain.execution import Outcome
from smartcron.domain.task import TaskSpec
from smartcron.store import Store
from smartcron.store.executions import Finish, SlotClaim
from smartcron.web import queries, task_filter
from smartcron.web.task_filter import TaskFilter
from tests.conftest import utc

NOW = utc(2026, 3, 1, 12)


def _task(store: Store, name: str, *, next_run_minutes: float = 30, enabled: bool = True) -> int:
    spec = TaskSpec(name=name, command=("true",), schedule="* * * * *", enabled=enabled)
    return store.tasks.add(spec, now=NOW, next_run_at=NOW + timedelta(minutes=next_run_minutes)).id


def _ended(store: Store, task_id: int, status: ExecutionStatus) -> None:
    at = NOW - timedelta(minutes=10)
    [run] = store.executions.claim([SlotClaim(task_id, at, Trigger.SCHEDULE)], node="n", token="t", now=at)
    store.executions.begin([run.id], node="n", token="t", now=at, lease_until=at)
    store.executions.finish([Finish(run.id, task_id, Outcome(status=status, finished_at=at, exit_code=1))], token="t")


def _names(store: Store, wanted: TaskFilter) -> list[str]:
    page = queries.task_grid(store, now=NOW, status=task_filter.condition(wanted, NOW))
    return [row.task.name for row in page.rows]


def test_each_filter_selects_its_tasks_and_the_summary_counts_them(store: Store) -> None:
    _ended(store, _task(store, "bank_import"), ExecutionStatus.TIMEOUT)
    _ended(store, _task(store, "payroll"), ExecutionStatus.SUCCESS)
    _task(store, "backup_db", next_run_minutes=-10)  # no runner took its slot
    _task(store, "just_due", next_run_minutes=-1)  # within the 2 minutes a tick may take
    _task(store, "switched_off", next_run_minutes=-60, enabled=False)  # disabled: not late
    report = _task(store, "report_daily")
    [run] = store.executions.claim([SlotClaim(report, NOW, Trigger.SCHEDULE)], node="n", token="t", now=NOW)
    store.executions.begin([run.id], node="n", token="t", now=NOW, lease_until=NOW + timedelta(minutes=5))
    _task(store, "archive", next_run_minutes=-30)
    store.tasks.set_flags("archive", now=NOW, paused=True)  # paused: not late either

    assert _names(store, TaskFilter.FAILING) == ["bank_import"]
    assert _names(store, TaskFilter.LATE) == ["backup_db"]
    assert _names(store, TaskFilter.RUNNING) == ["report_daily"]
    assert _names(store, TaskFilter.PAUSED) == ["archive"]
    summary = task_filter.summary(store, NOW)
    assert summary.items() == [
        (TaskFilter.FAILING, 1),
        (TaskFilter.LATE, 1),
        (TaskFilter.RUNNING, 1),
        (TaskFilter.PAUSED, 1),
    ]
    assert summary.total == 7
