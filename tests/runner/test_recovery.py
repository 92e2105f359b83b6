"""Rows a dead runner left behind: adopted, abandoned and retried, killed, or judged missed."""

from __future__ import annotations

import os
import signal
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

from smartcron.clock import FakeClock, SystemClock
from smartcron.domain.enums import ExecutionStatus, Trigger
from smartcron.domain.execution import Execution
from smartcron.domain.task import Task
from smartcron.runner.process.procinfo import live_group_members, process_start_time
from smartcron.runner.scheduling.recovery import recover_own_rows, take_over_lost_nodes
from smartcron.store import Store
from smartcron.store.executions import SlotClaim, Start
from tests.conftest import utc
from tests.runner.runner_support import (
    CHILD_ENV,
    add_task,
    running_engine,
    runs_of,
    settings_for,
    settle,
    wait_until,
)

T0 = utc(2026, 3, 1, 10)
DEAD_TOKEN = "d" * 32


def left_running(
    store: Store, task: Task, *, node: str, at: datetime, pid: int | None = None, lease_seconds: float = 60
) -> Execution:
    """A row as a runner leaves it when it dies while the task runs."""
    [row] = store.executions.claim([SlotClaim(task.id, at, Trigger.SCHEDULE)], node=node, token="claim", now=at)
    lease_until = at + timedelta(seconds=lease_seconds)
    store.executions.begin([row.id], node=node, token=DEAD_TOKEN, now=at, lease_until=lease_until)
    if pid is not None:
        start = Start(row.id, task.id, at, pid, pid, process_start_time(pid))
        store.executions.attach([start], token=DEAD_TOKEN)
    return store.executions.get(row.id)


def orphan(*argv: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A task process in its own group, as a dead runner leaves it."""
    return subprocess.Popen(argv, start_new_session=True, env=env or CHILD_ENV)


def test_a_running_row_whose_process_ended_unwatched_has_an_unknown_outcome_and_is_not_run_again(
    store: Store, tmp_path: Path
) -> None:
    settings = settings_for(store, tmp_path / "home")
    clock = FakeClock(T0 + timedelta(minutes=5))
    task = add_task(store, "gone", ("true",), next_run_at=T0 + timedelta(hours=1), retries=2, retry_delay=30)
    dead = orphan("true")
    dead.wait()
    row = left_running(store, task, node="node-a", at=T0, pid=dead.pid)
    with running_engine(settings, store, clock, role="runner") as engine:
        report = recover_own_rows(engine, clock.now(), startup=True)
        settle(engine)
        assert engine.next_retry_at() is None  # it may have done its work: not run again
    assert (report.adopted, report.abandoned, report.unknown) == (0, 0, 1)
    [after] = runs_of(store, task)
    assert (after.id, after.status, after.reason, after.error_category) == (
        row.id,
        ExecutionStatus.UNKNOWN_OUTCOME,
        "its process ended while its runner was down",
        None,
    )


def test_an_unknown_outcome_is_retried_when_the_task_allows_it(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home")
    clock = FakeClock(T0 + timedelta(minutes=5))
    task = add_task(
        store, "idempotent", ("true",), next_run_at=T0 + timedelta(hours=1), retries=2, retry_unknown_outcome=True
    )
    dead = orphan("true")
    dead.wait()
    row = left_running(store, task, node="node-a", at=T0, pid=dead.pid)
    with running_engine(settings, store, clock, role="runner") as engine:
        recover_own_rows(engine, clock.now(), startup=True)
        settle(engine)
        retry_at = engine.next_retry_at()
        assert retry_at is not None
        clock.set(retry_at)
        engine.run_pass(clock.now())
        settle(engine)
    first, retry = runs_of(store, task)
    assert (first.id, first.status) == (row.id, ExecutionStatus.UNKNOWN_OUTCOME)
    assert (retry.trigger, retry.attempt, retry.retry_of, retry.status) == (
        Trigger.RETRY, 1, row.id, ExecutionStatus.SUCCESS,
    )  # fmt: skip


def test_a_grandchild_left_in_the_group_of_an_exited_leader_is_killed_and_the_run_abandoned(
    sqlite_store: Store, tmp_path: Path
) -> None:
    store = sqlite_store
    settings = settings_for(store, tmp_path / "home")
    clock = SystemClock()
    task = add_task(store, "forker", ("true",), next_run_at=clock.now() + timedelta(hours=1), retries=0)
    row = left_running(store, task, node="node-a", at=clock.now())
    marker = CHILD_ENV | {
        "SMARTCRON_EXECUTION_ID": str(row.id),
        "SMARTCRON_TASK": "forker",
        "SMARTCRON_SCHEDULED_FOR": row.scheduled_for.isoformat(),
    }
    # As `sh -c "(sleep 613 &); exit"`: the leader exits, its grandchild stays in the group.
    leader = orphan("sh", "-c", "(sleep 613 &); exit 0", env=marker)
    leader.wait()
    wait_until(lambda: bool(live_group_members(leader.pid)), "the grandchild to be in the group")
    [grandchild] = live_group_members(leader.pid)
    start = Start(row.id, task.id, row.started_at or clock.now(), leader.pid, leader.pid, None)
    store.executions.attach([start], token=DEAD_TOKEN)
    try:
        with running_engine(settings, store, clock, role="runner") as engine:
            report = recover_own_rows(engine, clock.now(), startup=True)
            settle(engine)
        wait_until(lambda: not live_group_members(leader.pid), "the run's group to be gone")
    finally:
        for pid in live_group_members(leader.pid):
            os.kill(pid, signal.SIGKILL)
    assert (report.abandoned, report.unknown) == (1, 0)
    after = store.executions.get(row.id)
    assert (after.status, after.reason) == (
        ExecutionStatus.ABANDONED,
        "its runner died; 1 process(es) of the run killed",
    )
    assert not os.path.exists(f"/proc/{grandchild}") or "Z" in Path(f"/proc/{grandchild}/stat").read_text()


def test_a_live_process_is_adopted_and_supervised_under_its_timeout(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home")
    clock = SystemClock()
    task = add_task(store, "adoptee", ("sleep", "300"), next_run_at=clock.now() + timedelta(hours=1), timeout=2)
    child = orphan("sh", "-c", "sleep 300 & sleep 300")
    try:
        row = left_running(store, task, node="node-a", at=clock.now(), pid=child.pid)
        with running_engine(settings, store, clock, role="runner") as engine:
            report = recover_own_rows(engine, clock.now(), startup=True)
            assert engine.supervisor.running() == {row.id}
            settle(engine)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    assert report.adopted == 1
    after = store.executions.get(row.id)
    assert (after.status, after.exit_code) == (ExecutionStatus.TIMEOUT, None)
    assert live_group_members(child.pid) == []


def test_a_running_row_without_pid_has_its_process_found_by_environment_and_killed(
    sqlite_store: Store, tmp_path: Path
) -> None:
    store = sqlite_store
    settings = settings_for(store, tmp_path / "home")
    clock = SystemClock()
    task = add_task(store, "unrecorded", ("sleep", "300"), next_run_at=clock.now() + timedelta(hours=1), retries=0)
    row = left_running(store, task, node="node-a", at=clock.now())
    env = CHILD_ENV | {
        "SMARTCRON_EXECUTION_ID": str(row.id),
        "SMARTCRON_TASK": "unrecorded",
        "SMARTCRON_SCHEDULED_FOR": row.scheduled_for.isoformat(),
    }
    stranger_env = env | {"SMARTCRON_TASK": "another_installation"}
    child = orphan("sleep", "300", env=env)
    stranger = orphan("sleep", "300", env=stranger_env)
    try:
        with running_engine(settings, store, clock, role="runner") as engine:
            report = recover_own_rows(engine, clock.now(), startup=True)
            settle(engine)
        assert child.wait(timeout=30) == -signal.SIGKILL
        assert stranger.poll() is None
    finally:
        for process in (child, stranger):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    assert report.abandoned == 1
    after = store.executions.get(row.id)
    assert after.status is ExecutionStatus.ABANDONED
    assert after.reason == "its runner died; 1 process(es) of the run killed"


def test_tick_leaves_rows_of_a_live_owner_alone_and_takes_those_whose_lease_ran_out(
    sqlite_store: Store, tmp_path: Path
) -> None:
    store = sqlite_store
    settings = settings_for(store, tmp_path / "home")
    clock = FakeClock(T0 + timedelta(seconds=30))
    task = add_task(store, "owned", ("true",), next_run_at=T0 + timedelta(hours=1), retries=0)
    dead = orphan("true")
    dead.wait()
    fresh = left_running(store, task, node="node-a", at=T0, pid=dead.pid, lease_seconds=60)
    expired = left_running(store, task, node="node-a", at=T0 - timedelta(minutes=5), pid=dead.pid, lease_seconds=60)
    with running_engine(settings, store, clock) as engine:
        report = recover_own_rows(engine, clock.now(), startup=False)
        settle(engine)
    assert report.unknown == 1
    assert store.executions.get(fresh.id).status is ExecutionStatus.RUNNING
    assert store.executions.get(expired.id).status is ExecutionStatus.UNKNOWN_OUTCOME


def test_slots_a_dead_runner_claimed_but_never_started_follow_the_catchup_policy(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home")
    clock = FakeClock(utc(2026, 3, 1, 13, 30))
    task = add_task(store, "hourly", ("true",), next_run_at=utc(2026, 3, 1, 14), schedule="0 * * * *")
    claims = [SlotClaim(task.id, utc(2026, 3, 1, hour), Trigger.SCHEDULE) for hour in (11, 12, 13)]
    store.executions.claim(claims, node="node-a", token="dead-claim", now=utc(2026, 3, 1, 11))
    manual = store.executions.enqueue(task.id, scheduled_for=utc(2026, 3, 1, 12, 10))
    with running_engine(settings, store, clock, role="runner") as engine:
        report = recover_own_rows(engine, clock.now(), startup=True)
        for _ in range(3):
            engine.run_pass(clock.now())
            settle(engine)
    assert report.missed == 2
    assert [(r.scheduled_for.strftime("%H:%M"), r.status) for r in runs_of(store, task)] == [
        ("11:00", ExecutionStatus.MISSED),
        ("12:00", ExecutionStatus.MISSED),
        ("12:10", ExecutionStatus.SUCCESS),
        ("13:00", ExecutionStatus.SUCCESS),
    ]
    assert store.executions.get(manual).status is ExecutionStatus.SUCCESS


def test_runs_of_a_node_whose_lease_ran_out_are_superseded_and_retried_at_once(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home", node="node-a")
    now = T0 + timedelta(seconds=10)
    clock = FakeClock(now)
    task = add_task(store, "shared", ("true",), next_run_at=T0 + timedelta(hours=1), retries=1, retry_delay=300)
    lost = left_running(store, task, node="node-b", at=T0, pid=None, lease_seconds=5)
    other = add_task(store, "slow", ("true",), next_run_at=T0 + timedelta(hours=1), retries=1)
    slow = left_running(store, other, node="node-c", at=T0, pid=None, lease_seconds=15)
    with running_engine(settings, store, clock, role="runner") as engine:
        assert take_over_lost_nodes(engine, clock.now()) == 0  # just started: the others get a lease to renew
        clock.advance(settings.runner_lease_seconds)
        assert take_over_lost_nodes(engine, clock.now()) == 1
        assert engine.next_retry_at() == clock.now()  # the run did not fail; its node did
        engine.run_pass(clock.now())
        settle(engine)
    first, retry = runs_of(store, task)
    assert (first.id, first.status, first.reason) == (lost.id, ExecutionStatus.SUPERSEDED, "node node-b lost its lease")
    assert (retry.trigger, retry.attempt, retry.status) == (Trigger.RETRY, 1, ExecutionStatus.SUCCESS)
    assert store.executions.get(slow.id).status is ExecutionStatus.RUNNING  # merely slow: its lease still runs


def test_a_row_begun_under_our_own_lease_but_never_started_is_not_kept_alive_by_renewals(
    sqlite_store: Store, tmp_path: Path
) -> None:
    store = sqlite_store
    settings = settings_for(store, tmp_path / "home")
    clock = FakeClock(T0)
    task = add_task(store, "half_started", ("true",), next_run_at=T0 + timedelta(hours=1), retries=0)
    [row] = store.executions.claim([SlotClaim(task.id, T0, Trigger.SCHEDULE)], node="node-a", token="c", now=T0)
    with running_engine(settings, store, clock, role="runner") as engine:
        until = T0 + timedelta(minutes=1)
        store.executions.begin([row.id], node="node-a", token=engine.lease_token, now=T0, lease_until=until)
        engine.lease_keeper.renew(clock.now())
        report = recover_own_rows(engine, clock.now(), startup=False)
        settle(engine)
    assert report.unknown == 1
    assert store.executions.get(row.id).status is ExecutionStatus.UNKNOWN_OUTCOME
