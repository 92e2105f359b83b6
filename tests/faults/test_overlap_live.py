"""Each overlap policy on a real daemon: a task that runs longer than its interval (DESIGN 3.5).

A 5 s task every 2 s, for about 10 s, then a stop: what each policy promised is in the rows, no
two runs of a ``forbid``, ``queue`` or ``replace`` task ever overlapped, and nothing is left.
Then the case as it comes in life: a 150 s job on a every-minute crontab line, across three
slots, many lease renewals and a stop while runs go on, each slot's fate exact.
"""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from smartcron.domain.enums import ExecutionStatus, OverlapPolicy
from smartcron.domain.execution import Execution
from tests.faults.rig import FaultRig, wait_for
from tests.faults.test_clock_faults import LEAD, add_at, daemon_at

pytestmark = [pytest.mark.slow, pytest.mark.faults, pytest.mark.timeout(240)]

S = ExecutionStatus
EVERY_TWO_SECONDS = "*/2 * * * * *"


def _overlapping(rows: list[Execution]) -> list[tuple[int, int]]:
    spans = sorted((r.started_at, r.finished_at, r.id) for r in rows if r.started_at and r.finished_at)
    return [(a[2], b[2]) for a, b in itertools.pairwise(spans) if b[0] < a[1]]


def test_each_overlap_policy_does_as_it_says_under_a_real_daemon(tmp_path: Path) -> None:
    rig = FaultRig("sqlite", tmp_path)
    try:
        tasks = {
            policy: rig.add_task(
                f"slow_{policy}", ("sleep", "5"), schedule=EVERY_TWO_SECONDS, overlap=policy, retries=0
            )
            for policy in OverlapPolicy
        }
        a = rig.daemon("a", runner_shutdown_grace=0)
        wait_for(lambda: len(rig.rows(tasks[OverlapPolicy.FORBID])) >= 4, "several slots of the forbid task")
        time.sleep(4)  # the fault itself: slots keep coming while the runs go on
        assert a.stop() == 0, a.output
        rows = {policy: rig.rows(task) for policy, task in tasks.items()}

        forbid = rows[OverlapPolicy.FORBID]
        assert {(r.status, r.reason) for r in forbid if r.status is S.SKIPPED} == {(S.SKIPPED, "overlap")}
        assert _overlapping(forbid) == []

        queue = rows[OverlapPolicy.QUEUE]
        assert any(r.status is S.SKIPPED for r in queue), "beyond the one waiting run, slots are skipped"
        assert _overlapping(queue) == []

        replace = rows[OverlapPolicy.REPLACE]
        assert any((r.status, r.reason) == (S.KILLED, "replaced") for r in replace), [
            (r.status, r.reason) for r in replace
        ]
        assert _overlapping(replace) == []

        allow = rows[OverlapPolicy.ALLOW]
        assert _overlapping(allow) != [], "allow: runs overlap"
        assert not any(r.status is S.SKIPPED for r in allow)

        assert [r for r in rig.all_rows() if r.status is S.RUNNING] == []
        assert rig.duplicate_successes() == []
        assert rig.wait_no_leftovers() == []
    finally:
        rig.close()


LONG_JOB = 150  # seconds: over two slots of a task due every minute
EVERY_MINUTE = "* * * * *"


@pytest.mark.timeout(420)
def test_a_150_second_job_due_every_minute_under_each_overlap_policy(tmp_path: Path) -> None:
    rig = FaultRig("sqlite", tmp_path)
    try:
        # The daemon's clock starts LEAD seconds before a minute, so the first slot is at once.
        boundary = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=2)
        start = boundary - timedelta(seconds=LEAD)
        tasks = {
            policy: add_at(
                rig,
                f"job_{policy}",
                EVERY_MINUTE,
                start,
                command=("sleep", f"{LONG_JOB}"),
                overlap=policy,
                timezone="UTC",
            )
            for policy in OverlapPolicy
        }
        a, fake = daemon_at(rig, "a", start)
        slots = [boundary + timedelta(minutes=m) for m in range(3)]
        # Until 20 s past the third slot: the first runs have ended (at 150 s), the queued run has begun.
        stop_at = slots[2] + timedelta(seconds=LONG_JOB - 120 + 20)
        wait_for(lambda: fake.now() >= stop_at, "the third slot and the first run's end", bound=LEAD + 200)
        assert a.stop() == 0, a.output
        rows = {policy: rig.rows(task) for policy, task in tasks.items()}
        fates = {policy: [(r.scheduled_for, r.status, r.reason) for r in found] for policy, found in rows.items()}

        first, second, third = slots
        assert fates[OverlapPolicy.FORBID] == [
            (first, S.SUCCESS, None),
            (second, S.SKIPPED, "overlap"),
            (third, S.SKIPPED, "overlap"),
        ]
        # queue: one run waits for the first to end and starts then; the slot after it is skipped.
        assert fates[OverlapPolicy.QUEUE] == [
            (first, S.SUCCESS, None),
            (second, S.KILLED, "shutdown"),
            (third, S.SKIPPED, "overlap"),
        ]
        done, queued = rows[OverlapPolicy.QUEUE][0], rows[OverlapPolicy.QUEUE][1]
        assert done.finished_at is not None and queued.started_at is not None
        assert queued.started_at >= done.finished_at, "the queued run waited for the first"
        # replace: each slot ends the run before it.
        assert fates[OverlapPolicy.REPLACE] == [
            (first, S.KILLED, "replaced"),
            (second, S.KILLED, "replaced"),
            (third, S.KILLED, "shutdown"),
        ]
        # allow: all three run side by side; the first ends on its own.
        assert fates[OverlapPolicy.ALLOW] == [
            (first, S.SUCCESS, None),
            (second, S.KILLED, "shutdown"),
            (third, S.KILLED, "shutdown"),
        ]
        for policy in (OverlapPolicy.FORBID, OverlapPolicy.QUEUE, OverlapPolicy.REPLACE):
            assert _overlapping(rows[policy]) == [], policy
        assert len(_overlapping(rows[OverlapPolicy.ALLOW])) == 2
        assert [r for r in rig.all_rows() if r.status in (S.RUNNING, S.SCHEDULED)] == []
        assert rig.wait_no_leftovers() == []
    finally:
        rig.close()
