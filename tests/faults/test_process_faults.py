"""Faults of the task processes themselves, under a real daemon: a grandchild that holds the pipe
and ignores SIGTERM, a leader that leaves a grandchild behind, a run that hangs with no timeout, a
run its dead runner left past its timeout.

These are about processes and the runner's supervision, not about the database, so they run on
the SQLite rig only (as in ``test_overlap_live.py``): a server database would add CI time and
nothing these tests could catch. The health monitor runs as ``smartcron health`` (the very
``HealthMonitor`` the daemon's chore runs): the chore's period (first run 10 s after start, then
every 5 minutes) is no setting, and a test should not wait for it.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest

from smartcron.domain.enums import ErrorCategory, ExecutionStatus, Trigger
from smartcron.domain.execution import Execution
from smartcron.domain.task import Task
from tests.faults.rig import FaultRig, Node, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.faults, pytest.mark.timeout(240)]

S = ExecutionStatus
ONCE = "0 0 1 1 *"


@pytest.fixture
def sqlite_rig(tmp_path: Path) -> Iterator[FaultRig]:
    world = FaultRig("sqlite", tmp_path)
    try:
        yield world
    finally:
        world.close()


def _ended(rig: FaultRig, task: Task, count: int) -> list[Execution]:
    """The task's rows once ``count`` of them have ended."""
    ended = lambda: [r for r in rig.rows(task) if r.status not in (S.RUNNING, S.SCHEDULED)]  # noqa: E731
    wait_for(lambda: len(ended()) >= count, f"{count} ended run(s) of {task.spec.name}")
    return rig.rows(task)


def _run_now(rig: FaultRig, task: Task) -> int:
    return rig.store.executions.enqueue(task.id, scheduled_for=rig.store.database_now(), trigger=Trigger.MANUAL)


def _task_leftovers(rig: FaultRig, bound: float = 15.0) -> list[str]:
    """Like ``rig.wait_no_leftovers`` while daemons run: what is alive outside the daemons' own
    process groups (the daemon and its spawner), so task processes and their descendants."""
    daemons = {node.pid for node in rig.nodes.values() if node.alive()}

    def tasks() -> list[str]:
        found = []
        for entry in rig.leftovers():
            with contextlib.suppress(ProcessLookupError):
                if os.getpgid(int(entry.split()[0])) not in daemons:
                    found.append(entry)
        return found

    deadline = time.monotonic() + bound
    while (left := tasks()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _no_traceback(node: Node) -> None:
    assert "Traceback" not in node.master_log + node.output, node.master_log + node.output


def test_a_timed_out_run_whose_grandchild_ignores_term_and_holds_the_pipe_is_killed_whole(
    sqlite_rig: FaultRig,
) -> None:
    rig = sqlite_rig
    marker = rig.tmp_path / "hung-once"
    # The first run leaves a grandchild that ignores SIGTERM and keeps stdout open; later runs end at once.
    script = 'if [ -e "$0" ]; then echo again; exit 0; fi; touch "$0"; (trap "" TERM; sleep 600) & sleep 600'
    task = rig.add_task(
        "pos_sync", ("sh", "-c", script, str(marker)), schedule=ONCE, timeout=2, kill_grace=1, retries=0
    )
    a = rig.daemon("a")
    [first] = _ended(rig, task, 1)
    assert (first.status, first.reason) == (S.TIMEOUT, "timeout"), first
    assert (first.exit_code, first.signal) == (None, 15), first
    assert first.error_category is ErrorCategory.RECOVERABLE
    assert _task_leftovers(rig, bound=0) == [], "recorded once the grandchild is gone (SIGKILL after the grace)"
    _run_now(rig, task)
    first_again, second = _ended(rig, task, 2)
    assert first_again.id == first.id
    assert (second.status, second.exit_code, second.trigger) == (S.SUCCESS, 0, Trigger.MANUAL)
    assert second.output == "again\n"
    assert a.stop() == 0, a.output
    _no_traceback(a)
    assert rig.wait_no_leftovers() == []


def test_a_run_ends_at_its_leaders_exit_and_the_grandchild_holding_its_pipe_is_killed(sqlite_rig: FaultRig) -> None:
    rig = sqlite_rig
    script = "(sleep 600 &); echo leader done; exit 0"
    task = rig.add_task("bank_import", ("sh", "-c", script), schedule=ONCE, timeout=60, kill_grace=1, retries=0)
    a = rig.daemon("a")
    [run] = _ended(rig, task, 1)
    assert (run.status, run.exit_code, run.signal, run.reason) == (S.SUCCESS, 0, None, None), run
    assert run.output == "leader done\n"
    assert _task_leftovers(rig, bound=0) == [], "the run is recorded once nothing of its group is alive"
    assert a.stop() == 0, a.output
    _no_traceback(a)
    assert rig.wait_no_leftovers() == []


def _health(rig: FaultRig, node: Node) -> dict[str, dict[str, Any]]:
    """One ``smartcron health --json`` pass as ``node``; its checks by name."""
    done = subprocess.run(
        [sys.executable, "-m", "smartcron", "health", "--json"],
        env=node.env,
        cwd=node.home,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode in (0, 1) and "Traceback" not in done.stderr, done.stderr
    return {check["name"]: check for check in json.loads(done.stdout)}


def _running_for(rig: FaultRig, run_id: int, seconds: float) -> None:
    """Until run ``run_id`` has been running for ``seconds`` by the database's clock."""

    def long_enough() -> bool:
        [row] = [r for r in rig.all_rows() if r.id == run_id]
        if row.status is S.SCHEDULED or row.started_at is None:
            return False
        assert row.status is S.RUNNING, row
        return rig.store.database_now() > row.started_at + timedelta(seconds=seconds)

    wait_for(long_enough, f"run {run_id} running for {seconds:g} s")


def test_a_run_with_no_timeout_that_hangs_far_past_its_usual_duration_is_flagged_hung_and_left_running(
    sqlite_rig: FaultRig,
) -> None:
    rig = sqlite_rig
    runs = rig.tmp_path / "runs"
    # Three runs that end at once (the task's usual duration), then one that hangs, silently.
    script = 'echo x >> "$0"; if [ "$(wc -l < "$0")" -gt 3 ]; then exec sleep 600; fi'
    # timeout 0, "none", is the registry's word only: task files and the CLI refuse it.
    task = rig.add_task("ledger_close", ("sh", "-c", script, str(runs)), schedule=ONCE, timeout=0, retries=0)
    a = rig.daemon("a", health_hung_margin=0)
    _ended(rig, task, 1)
    for count in (2, 3):
        _run_now(rig, task)
        _ended(rig, task, count)
    hung_id = _run_now(rig, task)
    _running_for(rig, hung_id, 5)

    checks = _health(rig, a)

    assert checks["hung_tasks"]["status"] == "warn", checks["hung_tasks"]
    assert "ledger_close" in checks["hung_tasks"]["message"]
    task_alerts = [(a.task_name, a.kind) for a in rig.store.alerts.list(active_only=True) if a.task_name]
    assert task_alerts == [("ledger_close", "hung")]  # (a loaded machine may add a CPU alert of its own)
    [hung] = [r for r in rig.rows(task) if r.id == hung_id]
    assert hung.status is S.RUNNING and hung.pid is not None and psutil.pid_exists(hung.pid), "not killed"
    assert a.stop() == 0, a.output
    _no_traceback(a)
    assert rig.wait_no_leftovers() == []


def test_a_run_left_past_its_timeout_by_a_dead_runner_is_killed_by_the_health_monitor(sqlite_rig: FaultRig) -> None:
    rig = sqlite_rig
    marker = rig.tmp_path / "hung-once"
    script = 'if [ -e "$0" ]; then exit 0; fi; touch "$0"; exec sleep 600'
    task = rig.add_task(
        "nightly_export", ("sh", "-c", script, str(marker)), schedule=ONCE, timeout=3, kill_grace=1, retries=0
    )
    a = rig.daemon("a", health_hung_margin=0)
    [started] = wait_for(lambda: [r for r in rig.rows(task) if r.pid is not None], "the run started")
    a.kill9()  # its runner (and spawner) die; the task's process, in a session of its own, goes on
    assert len(_task_leftovers(rig, bound=0)) == 1
    _running_for(rig, started.id, 3 + 1)

    checks = _health(rig, a)

    assert (checks["hung_tasks"]["status"], checks["hung_tasks"]["message"]) == (
        "warn",
        f"killed 1 hung run(s): nightly_export (run {started.id})",
    ), checks["hung_tasks"]
    [run] = rig.rows(task)
    assert (run.status, run.reason) == (
        S.TIMEOUT,
        "hung: still running well past its 3 s timeout; killed by the health monitor",
    ), run
    assert rig.wait_no_leftovers() == [], "the health monitor killed the run's process group"
    [alert] = [alert for alert in rig.store.alerts.list(active_only=True) if alert.task_id == task.id]
    assert (alert.kind, alert.count) == ("task_failed", 1), alert

    rig.wait_up(rig.start(a))
    _run_now(rig, task)
    assert [(r.status, r.exit_code) for r in _ended(rig, task, 2)] == [(S.TIMEOUT, None), (S.SUCCESS, 0)]
    assert a.stop() == 0, a.output
    _no_traceback(a)
    assert rig.wait_no_leftovers() == []
