"""The runner's batched reads and writes (issue 14: fewer round trips per run), identical on all
three databases: a finish batch where some rows ended elsewhere, pids fenced by the lease, the
pending rows read with their tasks, page after page."""

from __future__ import annotations

from datetime import timedelta

from smartcron.domain.enums import ExecutionStatus, OverlapPolicy, Trigger
from smartcron.domain.execution import Execution, Outcome
from smartcron.domain.task import TaskSpec
from smartcron.store import Store
from smartcron.store.executions import Finish, SlotClaim, Start
from tests.conftest import utc

NOW = utc(2026, 3, 1, 9, 30)
LEASE = NOW + timedelta(minutes=1)


def add_task(store: Store, name: str, **fields: object) -> int:
    spec = TaskSpec(name=name, command=("true",), schedule="* * * * *", **fields)  # type: ignore[arg-type]
    return store.tasks.add(spec, now=NOW, next_run_at=NOW).id


def running_rows(store: Store, count: int, *, token: str) -> list[Execution]:
    """``count`` tasks with one running row each, under ``token``."""
    task_ids = [add_task(store, f"t{i}") for i in range(count)]
    rows = store.executions.claim([SlotClaim(tid, NOW, Trigger.SCHEDULE) for tid in task_ids], node="a", token="c",
                                  now=NOW)  # fmt: skip
    assert store.executions.begin([r.id for r in rows], node="a", token=token, now=NOW, lease_until=LEASE)
    return rows


def test_a_finish_batch_writes_only_the_rows_still_under_its_lease(store: Store) -> None:
    rows = running_rows(store, 4, token="mine")
    lost = rows[1]
    # Another node ended one of them meanwhile (the health monitor's write has no token).
    abandoned = Outcome(ExecutionStatus.ABANDONED, NOW + timedelta(minutes=5), reason="node lost")
    assert store.executions.finish([Finish(lost.id, lost.task_id, abandoned)], token=None) == {lost.id}
    done = NOW + timedelta(minutes=6)
    success = Outcome(ExecutionStatus.SUCCESS, done, exit_code=0, duration_ms=10)
    written = store.executions.finish([Finish(r.id, r.task_id, success) for r in rows], token="mine")
    assert written == {r.id for r in rows if r is not lost}
    assert [store.executions.get(r.id).status for r in rows] == [
        ExecutionStatus.SUCCESS,
        ExecutionStatus.ABANDONED,
        ExecutionStatus.SUCCESS,
        ExecutionStatus.SUCCESS,
    ]
    summaries = {t.id: t for t in store.tasks.list()}
    assert summaries[lost.task_id].last_status is ExecutionStatus.ABANDONED
    assert summaries[lost.task_id].last_success_at is None
    assert summaries[rows[0].task_id].last_success_at == done


def test_a_finish_batch_under_a_lost_lease_writes_nothing(store: Store) -> None:
    rows = running_rows(store, 3, token="old")
    success = Outcome(ExecutionStatus.SUCCESS, NOW + timedelta(minutes=6), exit_code=0)
    assert store.executions.finish([Finish(r.id, r.task_id, success) for r in rows], token="new") == set()
    assert {store.executions.get(r.id).status for r in rows} == {ExecutionStatus.RUNNING}
    assert {t.last_status for t in store.tasks.list()} == {None}


def test_a_run_finished_twice_in_one_batch_is_written_once_with_the_last_outcome(store: Store) -> None:
    [row] = running_rows(store, 1, token="mine")
    failed = Outcome(ExecutionStatus.FAILED, NOW + timedelta(seconds=1), exit_code=1)
    success = Outcome(ExecutionStatus.SUCCESS, NOW + timedelta(seconds=2), exit_code=0)
    batch = [Finish(row.id, row.task_id, failed), Finish(row.id, row.task_id, success)]
    assert store.executions.finish(batch, token="mine") == {row.id}
    assert store.executions.get(row.id).status is ExecutionStatus.SUCCESS


def test_pids_are_written_only_under_the_lease_that_began_the_run(store: Store) -> None:
    ours, theirs = running_rows(store, 2, token="mine")
    starts = [
        Start(r.id, r.task_id, NOW, pid=4000 + i, pgid=4000 + i, proc_start=7) for i, r in enumerate((ours, theirs))
    ]
    store.executions.attach(starts[:1], token="mine")
    store.executions.attach(starts[1:], token="someone else")
    assert (store.executions.get(ours.id).pid, store.executions.get(theirs.id).pid) == (4000, None)


def test_pending_rows_come_with_their_tasks_oldest_first_page_after_page(store: Store) -> None:
    forbid = add_task(store, "forbid")
    allow = add_task(store, "allow", overlap=OverlapPolicy.ALLOW)
    claims = [SlotClaim(allow, NOW + timedelta(minutes=i), Trigger.SCHEDULE) for i in (2, 0, 1)]
    claims.append(SlotClaim(forbid, NOW + timedelta(minutes=1), Trigger.MANUAL))
    store.executions.claim(claims, node="a", token="c", now=NOW)
    first = store.executions.pending_with_tasks(limit=2)
    last_row = first[-1][0]
    second = store.executions.pending_with_tasks(limit=2, after=(last_row.scheduled_for, last_row.id))
    read = [(row.scheduled_for, task.spec.name, task.spec.overlap) for row, task in first + second]
    assert read == [
        (NOW, "allow", OverlapPolicy.ALLOW),
        (NOW + timedelta(minutes=1), "allow", OverlapPolicy.ALLOW),
        (NOW + timedelta(minutes=1), "forbid", OverlapPolicy.FORBID),
        (NOW + timedelta(minutes=2), "allow", OverlapPolicy.ALLOW),
    ]
    assert all(row.task_name == task.spec.name and row.task_id == task.id for row, task in first + second)
    wanted = second[0][0].id
    assert [row.id for row, _ in store.executions.pending_with_tasks(limit=5, ids={wanted})] == [wanted]


def test_live_rows_of_some_tasks_or_a_node_say_their_status_only(store: Store) -> None:
    running = running_rows(store, 2, token="mine")
    waiting_task = add_task(store, "waiting")
    [waiting] = store.executions.claim([SlotClaim(waiting_task, NOW, Trigger.MANUAL)], node="a", token="c", now=NOW)
    asked = {running[0].task_id, waiting_task}
    found = sorted((row.id, row.task_id, row.status) for row in store.executions.live_brief(task_ids=asked))
    assert found == [
        (running[0].id, running[0].task_id, ExecutionStatus.RUNNING),
        (waiting.id, waiting_task, ExecutionStatus.SCHEDULED),
    ]
    only_running = store.executions.live_brief(task_ids=asked, status=ExecutionStatus.RUNNING)
    assert [row.id for row in only_running] == [running[0].id]
    assert store.executions.live_brief(task_ids=[]) == []
    on_a = store.executions.live_brief(node="a", status=ExecutionStatus.RUNNING)
    assert sorted(row.id for row in on_a) == sorted(row.id for row in running)
