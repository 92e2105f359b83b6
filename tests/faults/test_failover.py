"""Several daemons on one database: a node killed or paused past its lease is taken over, safely.

DESIGN section 9: a node that stops renewing its leases (killed, paused, cut off) has its running
rows ended ``superseded`` by another node once the lease ran out by the database's clock, and the
run is retried there at once; a node that comes back finds its writes refused, kills its own
children and records nothing more; a node merely slow, under its lease, is never taken over.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from smartcron.domain.enums import ExecutionStatus, Trigger
from tests.faults.rig import LEASE, FaultRig, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.faults, pytest.mark.timeout(240)]

ONCE = "0 0 1 1 *"  # a slot a year: the test's rows are those of the slot due now
S = ExecutionStatus


def test_a_killed_node_s_runs_are_superseded_and_run_again_on_the_survivors(rig: FaultRig) -> None:
    tasks = [rig.add_task(f"import{i}", ("sh", "-c", "sleep 60 & sleep 4"), schedule=ONCE, retries=1) for i in range(6)]
    nodes = [rig.daemon(name) for name in ("a", "b", "c")]

    def in_flight() -> dict[str, list[int]]:
        by_node: dict[str, list[int]] = {}
        for row in rig.live_rows():
            if row.status is S.RUNNING and row.pgid:
                by_node.setdefault(row.node or "", []).append(row.id)
        return by_node

    busy = wait_for(lambda: (f := in_flight()) and sum(map(len, f.values())) == len(tasks) and f, "six runs running")
    victim_name = max(busy, key=lambda name: len(busy[name]))
    victim = rig.nodes[victim_name]
    lost = set(busy[victim_name])
    victim.kill9()
    killed_at = datetime.now(UTC)

    # Each run the victim had in flight is superseded by a survivor and retried there.
    def retried() -> bool:
        rows = rig.all_rows()
        return all(any(r.retry_of == lost_id and r.status is S.SUCCESS for r in rows) for lost_id in lost) and all(
            r.status is not S.RUNNING for r in rows
        )

    wait_for(retried, "every lost run retried to success elsewhere")
    failover = max(
        (r.started_at - killed_at).total_seconds()
        for r in rig.all_rows()
        if r.retry_of in lost and r.started_at is not None
    )
    print(f"failover: {failover:.1f} s from kill -9 to the last lost run's restart elsewhere (lease {LEASE:g} s)")

    for task in tasks:
        rows = rig.rows(task)
        if rows[0].id in lost:
            first, again = rows
            lost_lease = f"node {victim_name} lost its lease"
            assert (first.status, first.node, first.reason) == (S.SUPERSEDED, victim_name, lost_lease)
            assert (again.trigger, again.attempt, again.status) == (Trigger.RETRY, 1, S.SUCCESS)
            assert again.retry_of == first.id
            assert again.node != victim_name
        else:
            [only] = rows
            assert (only.status, only.attempt) == (S.SUCCESS, 0)
    assert rig.duplicate_successes() == []

    # The victim's own processes outlived it (its machine did not vanish); its restart kills them.
    rig.wait_up(rig.start(victim))
    for node in nodes:
        assert node.stop() == 0, node.output
    assert rig.wait_no_leftovers() == []
    assert [(r.task_name, r.status) for r in rig.all_rows() if r.status is S.RUNNING] == []


def test_a_node_paused_past_its_lease_is_superseded_and_on_waking_kills_its_run_and_writes_nothing(
    rig: FaultRig,
) -> None:
    # The first attempt outlives any pause (so a finds it still running on waking), the retry is quick.
    script = 'if [ "$SMARTCRON_ATTEMPT" = 0 ]; then exec sleep 300; fi'
    task = rig.add_task("payroll", ("sh", "-c", script), schedule=ONCE, retries=1)
    a = rig.daemon("a")
    [first] = wait_for(lambda: [r for r in rig.rows(task) if r.status is S.RUNNING and r.pid], "the run on a")
    b = rig.daemon("b")
    wait_for(lambda: "b" in {n.name for n in rig.store.nodes.all()}, "b's first heartbeat")

    a.pause()
    taken = wait_for(lambda: rig.store.executions.get(first.id).status is S.SUPERSEDED, "b takes the run over")
    retry = wait_for(lambda: [r for r in rig.rows(task) if r.retry_of == first.id], "the retry on b")[0]
    assert retry.node == "b"
    a.resume()

    # Within a heartbeat or two of waking, a finds its lease gone and kills its child.
    wait_for(lambda: not _alive(first.pid), "a kills the run it no longer owns")
    wait_for(lambda: rig.store.executions.get(retry.id).status is S.SUCCESS, "the retry succeeds on b")
    assert a.alive() and b.alive()
    assert a.stop() == 0, a.output
    assert b.stop() == 0, b.output

    rows = rig.rows(task)
    assert [(r.id, r.node, r.status, r.attempt) for r in rows] == [
        (first.id, "a", S.SUPERSEDED, 0),
        (retry.id, "b", S.SUCCESS, 1),
    ]
    # Nothing a wrote after waking reached the superseded row: it is as b ended it.
    after = rig.store.executions.get(first.id)
    assert (after.exit_code, after.reason) == (None, "node a lost its lease")
    assert taken
    assert "lease lost" in a.master_log
    assert rig.wait_no_leftovers() == []


def test_a_node_paused_under_its_lease_is_never_taken_over(rig: FaultRig) -> None:
    release = rig.tmp_path / "release-backup"
    # Runs until the test lets it end: however slow b's start-up, the run is still going at the pause.
    command = ("sh", "-c", f"while [ ! -e {release} ]; do sleep 0.05; done")
    task = rig.add_task("backup", command, schedule=ONCE, retries=1)
    a = rig.daemon("a")
    [run] = wait_for(lambda: [r for r in rig.rows(task) if r.status is S.RUNNING and r.pid], "the run on a")
    b = rig.daemon("b")
    wait_for(lambda: "b" in {n.name for n in rig.store.nodes.all()}, "b's first heartbeat")
    wait_for(lambda: rig.store.executions.get(run.id).lease_expires_at is not None, "a renews its lease")
    a.pause()
    time.sleep(LEASE / 4)  # the fault itself: a stall well under the lease
    a.resume()
    time.sleep(LEASE)  # past the lease's length after the stall: b had every chance to take the run over
    release.touch()
    wait_for(lambda: rig.store.executions.get(run.id).status is not S.RUNNING, "the run ends")
    assert a.stop() == 0 and b.stop() == 0
    assert [(r.id, r.node, r.status) for r in rig.rows(task)] == [(run.id, "a", S.SUCCESS)]
    assert rig.wait_no_leftovers() == []


def _alive(pid: int | None) -> bool:
    import psutil

    try:
        return pid is not None and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
