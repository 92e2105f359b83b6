"""``kill -9`` of a real runner while its tasks run, and a restart: everything reconciled."""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from smartcron.domain.enums import ExecutionStatus
from smartcron.runner.process.procinfo import find_processes_of, live_group_members
from tests.runner.runner_support import add_task, home_store, runs_of, smartcron, smartcron_env, wait_until

TASK_COUNT = 5
LONG = ("sh", "-c", "sleep 300 & sleep 300")  # a grandchild in the task's group


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_runner_killed_with_tasks_running_is_reconciled_by_a_restart(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings, store = home_store(home)
    env = smartcron_env(home, runner_shutdown_grace="1", runner_heartbeat_interval="1")
    now = datetime.now(UTC)
    tasks = [
        add_task(store, f"long{i}", LONG, next_run_at=now, schedule="0 0 1 1 *", retries=0, timeout=600)
        for i in range(TASK_COUNT)
    ]

    def running_rows() -> list[int]:
        return [row.pgid for row in store.executions.live(status=ExecutionStatus.RUNNING) if row.pgid]

    first = smartcron("run", "-q", env=env, cwd=tmp_path)
    try:
        wait_until(lambda: len(running_rows()) == TASK_COUNT, "five running tasks with their pids recorded")
        groups = sorted(running_rows())
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    assert all(live_group_members(pgid) for pgid in groups), "task groups outlive their runner"
    # Two tasks die while no runner watches them (nobody knows how they ended); three are still
    # running at the restart.
    for pgid in groups[:2]:
        os.killpg(pgid, signal.SIGKILL)
    wait_until(lambda: not any(live_group_members(p) for p in groups[:2]), "two task groups gone")

    second = smartcron("run", "-q", env=env, cwd=tmp_path)
    try:
        master_log = Path(settings.log_dir) / "master.log"
        wait_until(lambda: master_log.read_text().count("adopted pid") == 3, "three runs adopted")
        wait_until(
            lambda: sum(r.status is ExecutionStatus.UNKNOWN_OUTCOME for t in tasks for r in runs_of(store, t)) == 2,
            "two runs ended with their outcome unknown",
        )
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=60) == 0
    finally:
        if second.poll() is None:
            second.kill()
            for pgid in groups:  # a failed test must not leave its tasks running
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)

    rows = [runs_of(store, task) for task in tasks]
    assert all(len(task_rows) == 1 for task_rows in rows), "no slot ran twice and nothing was retried"
    outcomes = sorted((r.status, r.reason) for [r] in rows)
    unknown = (ExecutionStatus.UNKNOWN_OUTCOME, "its process ended while its runner was down")
    assert outcomes == [(ExecutionStatus.KILLED, "shutdown")] * 3 + [unknown] * 2
    assert not any(live_group_members(pgid) for pgid in groups), "no task process outlives its row"
    names = {task.name for task in tasks}
    leftovers = [pid for [r] in rows for pid in find_processes_of(r.id) if _task_of(pid) in names]
    assert leftovers == []

    # No lock is left behind: every task runs again at once.
    for task in tasks:
        store.tasks.update(replace(task.spec, command=("true",)), now=now, next_run_at=datetime.now(UTC))
    tick = smartcron("tick", env=env, cwd=tmp_path)
    assert tick.wait(timeout=120) == 0, (tmp_path / "smartcron.out").read_text()
    assert [runs_of(store, task)[-1].status for task in tasks] == [ExecutionStatus.SUCCESS] * TASK_COUNT


def _task_of(pid: int) -> str | None:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    for entry in environ.split(b"\0"):
        if entry.startswith(b"SMARTCRON_TASK="):
            return entry.split(b"=", 1)[1].decode()
    return None
