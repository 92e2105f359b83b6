"""Faults of the task processes themselves, under a real daemon: a grandchild that holds the pipe
and ignores SIGTERM, a leader that leaves a grandchild behind, a run that hangs with no timeout.

These are about processes and the runner's supervision, not about the database, so they run on
the SQLite rig only (as in ``test_overlap_live.py``): a server database would add CI time and
nothing these tests could catch.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from smartcron.domain.enums import ExecutionStatus, Trigger
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
    assert first.error_category is not None and first.error_category.value == "recoverable"
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
