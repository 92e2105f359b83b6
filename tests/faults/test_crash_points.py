"""A daemon crashing at each named failpoint (``SMARTCRON_FAILPOINT``), then started again.

Whatever the place, the restart leaves no row running, no process alive, and runs no slot twice:

* ``after_begin_before_spawn``: the row says running, with no pid, and its process was never
  started; nothing of it is alive, and a restart cannot tell this from a process that started and
  ended before its pid was written, so the row is ``unknown_outcome`` (with an alert), not run
  again: a slot is never run twice on a guess; the command never ran;
* ``after_spawn_before_attach``: the process runs but its pid is in no row; recovery finds it by
  the execution id in its environment, kills it, and the row is ``abandoned``;
* ``after_exit_before_record``: the command ran to its end, its outcome written nowhere; the row
  is ``unknown_outcome`` and, as the task does not allow it, not run again.
"""

from __future__ import annotations

import pytest

from smartcron.domain.enums import ExecutionStatus
from tests.faults.rig import FaultRig, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.faults, pytest.mark.timeout(240)]

ONCE = "0 0 1 1 *"
S = ExecutionStatus

CASES = {
    # failpoint: (the command ran to its end, the row's status after the restart)
    "after_begin_before_spawn": (False, S.UNKNOWN_OUTCOME),
    "after_spawn_before_attach": (False, S.ABANDONED),
    "after_exit_before_record": (True, S.UNKNOWN_OUTCOME),
}


@pytest.mark.parametrize("place", sorted(CASES))
def test_a_crash_at_each_failpoint_is_reconciled_by_the_restart(rig: FaultRig, place: str) -> None:
    ran, status = CASES[place]
    marker = rig.tmp_path / "done"
    # At the last place the command must have ended (after its pid was written); elsewhere it must be killed.
    last = place == "after_exit_before_record"
    command = ("sh", "-c", f'sleep {1 if last else 30} && touch "$0"', str(marker))
    task = rig.add_task("ledger", command, schedule=ONCE, retries=0 if place == "after_spawn_before_attach" else 2)
    a = rig.node("a", failpoint=place)
    rig.start(a)
    assert a.process is not None and a.process.wait(timeout=90) == -9, a.output
    [row] = rig.rows(task)
    assert row.status is S.RUNNING

    del a.env["SMARTCRON_FAILPOINT"]
    rig.wait_up(rig.start(a))
    wait_for(lambda: rig.rows(task)[0].status is not S.RUNNING, "the restart reconciles the row")
    assert a.stop() == 0, a.output

    [after] = [r for r in rig.rows(task) if r.id == row.id]
    assert after.status is status, (after.status, after.reason)
    assert marker.exists() is ran
    retries = [r for r in rig.rows(task) if r.retry_of == row.id]
    if status is S.UNKNOWN_OUTCOME:
        assert after.reason == (
            "its process ended while its runner was down" if ran else "its runner died before recording the process"
        )
        assert retries == [], "it may have done its work: not run again unless the task allows it"
    assert all(r.status is not S.RUNNING for r in rig.rows(task))
    assert rig.duplicate_successes() == []
    assert rig.wait_no_leftovers() == []
