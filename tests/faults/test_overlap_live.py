"""Each overlap policy on a real daemon: a task that runs longer than its interval (DESIGN 3.5).

A 5 s task every 2 s, for about 10 s, then a stop: what each policy promised is in the rows, no
two runs of a ``forbid``, ``queue`` or ``replace`` task ever overlapped, and nothing is left.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from smartcron.domain.enums import ExecutionStatus, OverlapPolicy
from smartcron.domain.execution import Execution
from tests.faults.rig import FaultRig, wait_for

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
