"""Dead, hung and stale runs, with real processes, on every database."""

from __future__ import annotations

import os
import subprocess
from datetime import timedelta

import pytest

from smartcron.config import Settings
from smartcron.domain.enums import CheckStatus, ErrorCategory, ExecutionStatus, Trigger
from smartcron.domain.execution import Execution, Outcome
from smartcron.domain.health import CheckResult
from smartcron.monitor.service import HealthMonitor
from smartcron.runner.process.procinfo import live_group_members
from smartcron.store import Store
from smartcron.store.executions import Finish, SlotClaim
from tests.conftest import utc
from tests.monitor.conftest import QUIET, Processes, add_task, minutes, running_row

NOW = utc(2026, 3, 2, 9, 0)


def check(results: list[CheckResult], name: str) -> CheckResult:
    return next(result for result in results if result.name == name)


def supervised_run(
    store: Store, settings: Settings, processes: Processes, *, role: str, beat_age: float
) -> tuple[Execution, subprocess.Popen[bytes], subprocess.Popen[bytes]]:
    """A task process and its supervisor (a runner or tick with a heartbeat), the row current."""
    task_id = add_task(store, now=NOW)
    task_process = processes.start("sleep", "600")
    supervisor = processes.start("sleep", "600")
    row = running_row(
        store, task_id, node=settings.node, started=NOW - minutes(2), lease_until=NOW + minutes(1), pid=task_process.pid
    )
    store.nodes.beat(settings.node, role, now=NOW - timedelta(seconds=beat_age), pid=supervisor.pid)
    return row, task_process, supervisor


def test_a_run_whose_supervisor_was_killed_is_ended_with_an_unknown_outcome_in_one_health_run(
    store: Store, settings: Settings, processes: Processes
) -> None:
    row, task_process, supervisor = supervised_run(store, settings, processes, role="tick", beat_age=20)
    # kill -9 of the supervisor; its task process went with it.
    processes.kill9(supervisor)
    processes.kill9(task_process)

    report = HealthMonitor(store, settings, readers=QUIET).run(NOW)

    got = store.executions.get(row.id)
    # Nobody saw how it ended: not a failure to retry blindly (the task does not allow it).
    assert (got.status, got.reason, got.error_category) == (
        ExecutionStatus.UNKNOWN_OUTCOME,
        "process gone: it ended while no runner watched it",
        None,
    )
    assert got.finished_at == NOW and got.duration_ms == 120_000
    dead = check(report.checks, "dead_tasks")
    assert (dead.status, dead.value) == (CheckStatus.WARN, 1)
    assert "sync" in dead.message
    assert store.tasks.get("sync").last_status is ExecutionStatus.UNKNOWN_OUTCOME


def test_a_finished_process_is_left_to_its_live_supervisor(
    store: Store, settings: Settings, processes: Processes
) -> None:
    row, task_process, _supervisor = supervised_run(store, settings, processes, role="runner", beat_age=5)
    # The task exited a moment ago; its runner is alive and about to record the real outcome.
    processes.kill9(task_process)

    report = HealthMonitor(store, settings, readers=QUIET).run(NOW)

    assert store.executions.get(row.id).status is ExecutionStatus.RUNNING
    assert check(report.checks, "dead_tasks").status is CheckStatus.OK


def test_a_live_process_keeps_its_run_even_without_a_supervisor(
    store: Store, settings: Settings, processes: Processes
) -> None:
    task_id = add_task(store, now=NOW)
    task_process = processes.start("sleep", "600")
    row = running_row(
        store, task_id, node=settings.node, started=NOW - minutes(2), lease_until=NOW - minutes(1), pid=task_process.pid
    )

    HealthMonitor(store, settings, readers=QUIET).run(NOW)

    assert store.executions.get(row.id).status is ExecutionStatus.RUNNING
    assert task_process.poll() is None


def test_runs_of_other_nodes_are_superseded_only_when_their_lease_expired_and_no_runner_would(
    store: Store, settings: Settings
) -> None:
    task_id = add_task(store, now=NOW)
    other = add_task(store, "other", now=NOW)
    expired = running_row(
        store, task_id, node="elsewhere", started=NOW - minutes(5), lease_until=NOW - minutes(1), pid=None, token="a"
    )
    current = running_row(
        store, other, node="elsewhere", started=NOW - minutes(5), lease_until=NOW + minutes(1), pid=None, token="b"
    )

    store.nodes.beat("survivor", "runner", now=NOW - timedelta(seconds=1), info={"active": True})
    HealthMonitor(store, settings, readers=QUIET).run(NOW)
    assert store.executions.get(expired.id).status is ExecutionStatus.RUNNING  # the live runner's to take over

    store.nodes.forget("survivor", "runner")
    HealthMonitor(store, settings, readers=QUIET).run(NOW)
    got = store.executions.get(expired.id)
    assert (got.status, got.reason) == (ExecutionStatus.SUPERSEDED, "node elsewhere lost its lease")
    assert store.executions.get(current.id).status is ExecutionStatus.RUNNING


def test_a_run_begun_but_never_attached_is_ended_once_the_spawn_cannot_be_in_progress(
    store: Store, settings: Settings
) -> None:
    task_id = add_task(store, now=NOW)
    other = add_task(store, "other", now=NOW)
    crashed = running_row(
        store, task_id, node=settings.node, started=NOW - minutes(5), lease_until=NOW - minutes(4), token="a"
    )
    spawning = running_row(
        store, other, node=settings.node, started=NOW - timedelta(seconds=1), lease_until=NOW + minutes(1), token="b"
    )

    HealthMonitor(store, settings, readers=QUIET).run(NOW)

    assert store.executions.get(crashed.id).status is ExecutionStatus.UNKNOWN_OUTCOME
    assert store.executions.get(spawning.id).status is ExecutionStatus.RUNNING


def test_a_hung_process_group_is_killed_and_the_run_marked_timeout(
    store: Store, settings: Settings, processes: Processes
) -> None:
    task_id = add_task(store, now=NOW, timeout=60, kill_grace=10)
    hung = processes.start("sh", "-c", "sleep 600 & sleep 600; wait")
    supervisor = processes.start("sleep", "600")
    store.nodes.beat(settings.node, "runner", now=NOW - timedelta(seconds=5), pid=supervisor.pid)
    # Started 60 s timeout + 10 s grace + the 60 s margin + 1 s ago: the runner failed to end it.
    started = NOW - timedelta(seconds=131)
    row = running_row(store, task_id, node=settings.node, started=started, lease_until=NOW + minutes(1), pid=hung.pid)

    report = HealthMonitor(store, settings, readers=QUIET).run(NOW)

    hung.wait(timeout=30)
    assert live_group_members(hung.pid) == []
    got = store.executions.get(row.id)
    assert (got.status, got.error_category) == (ExecutionStatus.TIMEOUT, ErrorCategory.RECOVERABLE)
    assert got.reason is not None and got.reason.startswith("hung")
    assert (check(report.checks, "hung_tasks").status, check(report.checks, "hung_tasks").value) == (
        CheckStatus.WARN,
        1,
    )
    assert check(report.checks, "dead_tasks").value == 0


def test_a_run_within_timeout_and_grace_is_not_hung(store: Store, settings: Settings, processes: Processes) -> None:
    task_id = add_task(store, now=NOW, timeout=60, kill_grace=10)
    busy = processes.start("sleep", "600")
    started = NOW - timedelta(seconds=129)
    row = running_row(store, task_id, node=settings.node, started=started, lease_until=NOW + minutes(1), pid=busy.pid)

    HealthMonitor(store, settings, readers=QUIET).run(NOW)

    assert store.executions.get(row.id).status is ExecutionStatus.RUNNING
    assert busy.poll() is None


def test_a_queued_run_with_no_runner_alive_is_recorded_missed_after_the_bound(store: Store, settings: Settings) -> None:
    task_id = add_task(store, now=NOW)
    old_slot, recent_slot = NOW - timedelta(seconds=3601), NOW - minutes(10)
    store.executions.claim(
        [SlotClaim(task_id, old_slot, Trigger.SCHEDULE), SlotClaim(task_id, recent_slot, Trigger.SCHEDULE)],
        node=settings.node,
        token="c",
        now=old_slot,
    )

    report = HealthMonitor(store, settings, readers=QUIET).run(NOW)

    statuses = {row.scheduled_for: row.status for row in store.executions.list(task_id=task_id)}
    assert statuses == {old_slot: ExecutionStatus.MISSED, recent_slot: ExecutionStatus.SCHEDULED}
    assert check(report.checks, "stale_runs").value == 1


def test_queued_runs_wait_while_a_runner_is_alive(store: Store, settings: Settings) -> None:
    task_id = add_task(store, now=NOW)
    old_slot = NOW - timedelta(hours=3)
    store.executions.claim([SlotClaim(task_id, old_slot, Trigger.SCHEDULE)], node="a", token="c", now=old_slot)
    store.nodes.beat("a", "tick", now=NOW - timedelta(seconds=30))

    HealthMonitor(store, settings, readers=QUIET).run(NOW)

    assert [row.status for row in store.executions.list(task_id=task_id)] == [ExecutionStatus.SCHEDULED]


def test_an_unattached_run_whose_process_carries_its_id_task_and_slot_is_alive(
    store: Store, settings: Settings, processes: Processes
) -> None:
    ours_id = add_task(store, "ours", now=NOW)
    theirs_id = add_task(store, "theirs", now=NOW)
    started = NOW - minutes(5)
    ours = running_row(store, ours_id, node=settings.node, started=started, lease_until=NOW - minutes(4), token="a")
    theirs = running_row(store, theirs_id, node=settings.node, started=started, lease_until=NOW - minutes(4), token="b")

    def spawn(execution_id: int, task: str) -> None:
        env = dict(
            os.environ,
            SMARTCRON_EXECUTION_ID=str(execution_id),
            SMARTCRON_TASK=task,
            SMARTCRON_SCHEDULED_FOR=started.isoformat(),
        )
        processes.started.append(subprocess.Popen(["sleep", "600"], env=env, process_group=0))

    spawn(ours.id, "ours")
    # Another installation's run with the same id number: not this run's process.
    spawn(theirs.id, "someone-elses-task")

    HealthMonitor(store, settings, readers=QUIET).run(NOW)

    assert store.executions.get(ours.id).status is ExecutionStatus.RUNNING
    assert store.executions.get(theirs.id).status is ExecutionStatus.UNKNOWN_OUTCOME


@pytest.mark.parametrize(("elapsed", "flagged"), [(239, False), (241, True)])
def test_a_run_with_no_timeout_is_flagged_hung_past_four_times_its_usual_duration_and_left_running(
    store: Store, settings: Settings, processes: Processes, elapsed: int, flagged: bool
) -> None:
    task_id = add_task(store, now=NOW - timedelta(days=1), timeout=0)
    earlier = running_row(store, task_id, node=settings.node, started=NOW - timedelta(hours=3),
                          lease_until=NOW, token="lease-0")  # fmt: skip
    finish = Finish(earlier.id, task_id, Outcome(ExecutionStatus.SUCCESS, NOW - timedelta(hours=3) + minutes(1),
                                                 exit_code=0, duration_ms=60_000))  # fmt: skip
    assert store.executions.finish([finish], token="lease-0") == {earlier.id}
    busy = processes.start("sleep", "600")
    supervisor = processes.start("sleep", "600")
    store.nodes.beat(settings.node, "runner", now=NOW - timedelta(seconds=5), pid=supervisor.pid)
    # Usual: 60 s; allowed: max(4 x 60 s, 60 s + the 60 s margin) = 240 s.
    row = running_row(store, task_id, node=settings.node, started=NOW - timedelta(seconds=elapsed),
                      lease_until=NOW + minutes(1), pid=busy.pid)  # fmt: skip

    report = HealthMonitor(store, settings, readers=QUIET).run(NOW)

    hung = check(report.checks, "hung_tasks")
    alerts = [(a.kind, a.severity.value) for a in store.alerts.list(active_only=True) if a.task_id == task_id]
    if flagged:
        assert hung.status is CheckStatus.WARN and "no timeout far past their usual duration" in hung.message
        assert alerts == [("hung", "high")]
    else:
        assert hung.status is CheckStatus.OK and alerts == []
    assert store.executions.get(row.id).status is ExecutionStatus.RUNNING and busy.poll() is None, "never killed"
