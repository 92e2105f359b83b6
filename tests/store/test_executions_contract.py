"""ExecutionRepository: the claiming protocol of DESIGN 3.1, identical on all three databases."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta

from smartcron.domain.enums import ErrorCategory, ExecutionStatus, Trigger
from smartcron.domain.execution import Outcome
from smartcron.domain.task import TaskSpec
from smartcron.store import Store
from smartcron.store.executions import Finish, SlotClaim, Start
from tests.conftest import utc

NOW = utc(2026, 3, 1, 9, 30)
LEASE = NOW + timedelta(minutes=1)


def add_task(store: Store, name: str = "sync") -> int:
    return store.tasks.add(TaskSpec(name=name, command=("true",), schedule="* * * * *"), now=NOW, next_run_at=NOW).id


def test_racing_claimers_each_get_a_slot_exactly_once(store: Store) -> None:
    task_ids = [add_task(store, f"t{i}") for i in range(5)]
    claims = [SlotClaim(tid, NOW, Trigger.SCHEDULE) for tid in task_ids]

    def claim(worker: int) -> list[int]:
        won = store.executions.claim(claims, node=f"n{worker}", token=f"tok{worker}", now=NOW)
        return [x.task_id for x in won]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(claim, range(8)))
    won = sorted(tid for result in results for tid in result)
    assert won == sorted(task_ids)
    assert store.executions.count() == 5


def test_missed_and_skipped_claims_are_final_rows_without_a_lease(store: Store) -> None:
    tid = add_task(store)
    won = store.executions.claim(
        [
            SlotClaim(tid, NOW - timedelta(minutes=2), Trigger.SCHEDULE, ExecutionStatus.MISSED),
            SlotClaim(tid, NOW - timedelta(minutes=1), Trigger.SCHEDULE, ExecutionStatus.SKIPPED, reason="overlap"),
        ],
        node="a",
        token="t1",
        now=NOW,
    )
    assert [(x.status, x.lease_token) for x in won] == [
        (ExecutionStatus.MISSED, "t1"),
        (ExecutionStatus.SKIPPED, "t1"),
    ]
    stored = [store.executions.get(x.id) for x in won]
    assert all(x.lease_token is None and x.finished_at == NOW for x in stored)
    assert store.executions.live() == []


def test_only_one_runner_can_begin_a_queued_manual_run(store: Store) -> None:
    tid = add_task(store)
    run_id = store.executions.enqueue(tid, scheduled_for=NOW)
    assert store.executions.begin([run_id], node="a", token="A", now=NOW, lease_until=LEASE) == [run_id]
    assert store.executions.begin([run_id], node="b", token="B", now=NOW, lease_until=LEASE) == []
    row = store.executions.get(run_id)
    assert (row.status, row.node, row.trigger) == (ExecutionStatus.RUNNING, "a", Trigger.MANUAL)


def test_two_manual_runs_at_the_same_instant_are_both_queued(store: Store) -> None:
    tid = add_task(store)
    first = store.executions.enqueue(tid, scheduled_for=NOW)
    second = store.executions.enqueue(tid, scheduled_for=NOW)
    assert first != second
    assert len(store.executions.pending()) == 2


def test_finish_records_the_outcome_and_the_task_summary(store: Store) -> None:
    tid = add_task(store)
    [row] = store.executions.claim([SlotClaim(tid, NOW, Trigger.SCHEDULE)], node="a", token="c", now=NOW)
    store.executions.begin([row.id], node="a", token="L", now=NOW, lease_until=LEASE)
    store.executions.attach([Start(row.id, tid, NOW, pid=4242, pgid=4242, proc_start=99)], token="L")
    assert store.tasks.get("sync").last_status is ExecutionStatus.RUNNING
    done = NOW + timedelta(seconds=3)
    outcome = Outcome(
        ExecutionStatus.SUCCESS, done, exit_code=0, duration_ms=3000, output="ok\n", output_bytes=3, max_rss_kb=900
    )
    assert store.executions.finish([Finish(row.id, tid, outcome)], token="L") == {row.id}
    got = store.executions.get(row.id)
    assert (got.status, got.exit_code, got.duration_ms, got.output, got.max_rss_kb) == (
        ExecutionStatus.SUCCESS,
        0,
        3000,
        "ok\n",
        900,
    )
    assert (got.lease_token, got.pgid) == (None, None)
    task = store.tasks.get("sync")
    assert (task.last_status, task.last_success_at, task.last_execution_id) == (ExecutionStatus.SUCCESS, done, row.id)


def test_a_runner_that_lost_its_lease_writes_nothing(store: Store) -> None:
    tid = add_task(store)
    [row] = store.executions.claim([SlotClaim(tid, NOW, Trigger.SCHEDULE)], node="a", token="c", now=NOW)
    store.executions.begin([row.id], node="a", token="old", now=NOW, lease_until=LEASE)
    # Another node declared the run abandoned (no token: the health monitor's write).
    abandoned = Outcome(ExecutionStatus.ABANDONED, NOW + timedelta(minutes=5), reason="node lost")
    assert store.executions.finish([Finish(row.id, tid, abandoned)], token=None) == {row.id}
    late = Outcome(ExecutionStatus.SUCCESS, NOW + timedelta(minutes=6), exit_code=0)
    assert store.executions.finish([Finish(row.id, tid, late)], token="old") == set()
    assert store.executions.get(row.id).status is ExecutionStatus.ABANDONED


def test_history_lists_newest_first_with_filters(store: Store) -> None:
    tid = add_task(store)
    other = add_task(store, "other")
    claims = [SlotClaim(tid, NOW + timedelta(minutes=i), Trigger.SCHEDULE, ExecutionStatus.MISSED) for i in range(3)]
    claims.append(SlotClaim(other, NOW, Trigger.SCHEDULE, ExecutionStatus.SKIPPED))
    store.executions.claim(claims, node="a", token="c", now=NOW)
    rows = store.executions.list(task_id=tid, limit=2)
    assert [r.scheduled_for for r in rows] == [NOW + timedelta(minutes=2), NOW + timedelta(minutes=1)]
    assert [r.task_name for r in store.executions.list(status=ExecutionStatus.SKIPPED)] == ["other"]


def test_times_come_back_aware_utc_to_the_millisecond(store: Store) -> None:
    tid = add_task(store)
    when = NOW + timedelta(microseconds=123000)
    [row] = store.executions.claim([SlotClaim(tid, when, Trigger.SCHEDULE)], node="a", token="c", now=NOW)
    got = store.executions.get(row.id).scheduled_for
    assert got == when
    assert got.utcoffset() == timedelta(0)


def test_retries_owed_are_recoverable_failures_no_next_attempt_or_later_change_took_up(store: Store) -> None:
    created = NOW - timedelta(days=3)

    def task(name: str, retries: int) -> int:
        spec = TaskSpec(name=name, command=("true",), schedule="* * * * *", retries=retries)
        return store.tasks.add(spec, now=created, next_run_at=NOW).id

    retried, spent, paused, edited, ran_again = (task(n, r) for n, r in (
        ("retried", 2), ("spent", 1), ("paused", 2), ("edited", 2), ("ran_again", 2),
    ))  # fmt: skip
    store.tasks.set_flags("paused", now=created, paused=True)
    slot = NOW - timedelta(minutes=10)
    recoverable = Outcome(
        ExecutionStatus.FAILED, NOW - timedelta(minutes=9), exit_code=1, error_category=ErrorCategory.RECOVERABLE
    )

    def ended(
        task_id: int, at: datetime, outcome: Outcome, *, attempt: int = 0, trigger: Trigger = Trigger.SCHEDULE
    ) -> int:
        [row] = store.executions.claim([SlotClaim(task_id, at, trigger, attempt=attempt)], node="a", token="t", now=at)
        store.executions.begin([row.id], node="a", token="t", now=at, lease_until=LEASE)
        store.executions.finish([Finish(row.id, task_id, outcome)], token="t")
        return row.id

    owed = ended(retried, slot, recoverable)  # attempt 0 of 2 failed: attempt 1 is owed
    taken_up = ended(retried, slot - timedelta(minutes=1), recoverable)
    ended(retried, slot - timedelta(minutes=1), recoverable, attempt=1, trigger=Trigger.RETRY)  # ... and still owed
    ended(retried, slot - timedelta(minutes=2), replace(recoverable, error_category=ErrorCategory.FATAL))
    ended(
        retried, slot - timedelta(minutes=3), replace(recoverable, status=ExecutionStatus.SUCCESS, error_category=None)
    )
    ended(retried, slot - timedelta(minutes=4), recoverable, trigger=Trigger.MANUAL)
    old = NOW - timedelta(days=2)
    ended(retried, old, replace(recoverable, finished_at=old + timedelta(seconds=5)))
    ended(spent, slot, recoverable, attempt=1, trigger=Trigger.RETRY)  # its last attempt
    ended(paused, slot, recoverable)
    ended(edited, slot, recoverable)
    store.tasks.set_flags("edited", now=NOW, paused=True)
    store.tasks.set_flags("edited", now=NOW, paused=False)  # paused and resumed since: the retry is void
    ended(ran_again, slot, recoverable)
    [later] = store.executions.claim([SlotClaim(ran_again, NOW, Trigger.SCHEDULE)], node="a", token="t", now=NOW)
    store.executions.begin([later.id], node="a", token="t", now=NOW, lease_until=LEASE)
    store.executions.attach([Start(later.id, ran_again, NOW, 4242, 4242, None)], token="t")  # a later slot started

    found = store.executions.retries_owed(NOW - timedelta(days=1))

    assert taken_up not in {x.id for x in found}
    # Oldest first; these two finished at the same instant, so by id.
    assert [(x.id == owed, x.task_name, x.attempt, x.trigger) for x in found] == [
        (True, "retried", 0, Trigger.SCHEDULE),
        (False, "retried", 1, Trigger.RETRY),
    ]


def test_runs_of_tasks_whose_name_contains_a_text_in_any_case_wildcards_taken_literally(store: Store) -> None:
    names = ["Pay_roll", "payroll2", "bank"]
    for name in names:
        store.executions.claim([SlotClaim(add_task(store, name), NOW, Trigger.SCHEDULE)], node="a", token="t", now=NOW)

    def named(text: str) -> list[str]:
        return sorted(run.task_name for run in store.executions.list(name_contains=text))

    assert named("PAY") == ["Pay_roll", "payroll2"]
    assert named("_ROLL") == ["Pay_roll"], "_ is a character, not a wildcard"
    assert named("%") == []
    assert named("") == sorted(names)


def test_runs_by_trigger_and_of_slots_since_a_moment(store: Store) -> None:
    task_id = add_task(store, "bank")
    old, recent = NOW - timedelta(days=2), NOW - timedelta(minutes=5)
    claims = [SlotClaim(task_id, old, Trigger.SCHEDULE), SlotClaim(task_id, recent, Trigger.SCHEDULE)]
    claims.append(SlotClaim(task_id, NOW, Trigger.MANUAL))
    store.executions.claim(claims, node="a", token="t", now=NOW)

    def slots(**narrow: object) -> list[tuple[datetime, Trigger]]:
        return [(run.scheduled_for, run.trigger) for run in store.executions.list(**narrow)]  # type: ignore[arg-type]

    assert slots(trigger=Trigger.MANUAL) == [(NOW, Trigger.MANUAL)]
    assert slots(since=NOW - timedelta(hours=1)) == [(NOW, Trigger.MANUAL), (recent, Trigger.SCHEDULE)]
    assert slots(trigger=Trigger.SCHEDULE, since=NOW - timedelta(hours=1)) == [(recent, Trigger.SCHEDULE)]
    assert len(slots()) == 3
