"""A daemon outlives its database: cut (connections reset, refused) or stalled (a partition).

Runs in flight keep running under supervision; their outcomes wait in the spool and are written
with their real times when the database returns; the outage is said once and once again when it
ends, with no traceback; tasks run again within moments of the return.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from smartcron.domain.enums import ExecutionStatus
from tests.faults.rig import LEASE, FaultRig, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.faults, pytest.mark.timeout(240)]

ONCE = "0 0 1 1 *"
STALL = 3 * LEASE  # past every lease: the node's own rows wait for it, no other node is there
CUT = 60.0  # a minute: past the lease many times over, and past the outage alert's minute
S = ExecutionStatus


@pytest.mark.parametrize(("fault", "outage"), [("cut", CUT), ("stall", STALL)])
def test_a_database_outage_mid_run_is_outlived_and_every_outcome_written_with_its_real_time(
    rig: FaultRig, fault: str, outage: float
) -> None:
    long = [rig.add_task(f"bank{i}", ("sleep", "3"), schedule=ONCE) for i in range(2)]
    slow = rig.add_task("timeboxed", ("sleep", "60"), schedule=ONCE, timeout=4, kill_grace=1, retries=0)
    every = rig.add_task("heartbeat", ("true",), schedule="*/2 * * * * *")
    a = rig.daemon("a")
    # Running with their pids written: the daemon has had the answers to those writes (a cut
    # between the server's commit and its answer is another case: the runner cannot know it began).
    wait_for(
        lambda: all(rows and rows[0].status is S.RUNNING and rows[0].pid for rows in map(rig.rows, [*long, slow])),
        "three runs running",
    )
    assert a.proxy is not None
    getattr(a.proxy, fault)()
    cut_at = datetime.now(UTC)
    time.sleep(outage)  # the fault itself: the runs end, and the timeout fires, while the database is away
    assert a.alive(), a.output
    a.proxy.restore()
    restored_at = datetime.now(UTC)

    def settled() -> bool:
        return all(rig.rows(t) and rig.rows(t)[0].status not in (S.RUNNING, S.SCHEDULED) for t in [*long, slow])

    wait_for(settled, "the outcomes written after the return")
    wait_for(
        lambda: any(r.started_at and r.started_at > restored_at and r.status is S.SUCCESS for r in rig.rows(every)),
        "a run after the return",
    )
    assert a.stop() == 0, a.output

    for task in long:
        rows = rig.rows(task)
        assert len(rows) == 1, [(r.id, r.status, r.reason, r.trigger, r.scheduled_for, r.node) for r in rows]
        [run] = rows
        assert (run.status, run.exit_code) == (S.SUCCESS, 0)
        assert run.finished_at is not None and cut_at < run.finished_at < restored_at, "its real end, not the write's"
    [boxed] = rig.rows(slow)
    assert boxed.status is S.TIMEOUT
    assert boxed.finished_at is not None and boxed.finished_at < restored_at
    log = a.master_log
    assert log.count("database unreachable since") == 1, log
    assert log.count("database reachable again") == 1, log
    assert "Traceback" not in log + a.output
    assert rig.duplicate_successes() == []
    assert rig.wait_no_leftovers() == []
