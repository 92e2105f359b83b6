"""Duplicate schedulers: three daemons and a tick every round on one database, 50 tasks due at once.

Every slot runs exactly once, whoever claims it; no row is left running or waiting; the work is
spread (no node runs everything).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from smartcron.domain.enums import ExecutionStatus
from tests.faults.rig import FaultRig, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.faults, pytest.mark.timeout(300)]

TASKS = 50
ROUNDS = 3
ONCE = "0 0 1 1 *"
S = ExecutionStatus


def test_fifty_tasks_due_at_once_under_three_daemons_and_a_tick_each_run_once_per_slot(rig: FaultRig) -> None:
    tasks = [rig.add_task(f"sync{i:02}", ("true",), schedule=ONCE, retries=0) for i in range(TASKS)]
    daemons = [rig.daemon(name) for name in ("a", "b", "c")]
    wait_for(lambda: len(rig.all_rows()) == TASKS and not rig.live_rows(), "the slots due at the start run")
    slots = {task.id: {rig.rows(task)[0].scheduled_for} for task in tasks}

    for round_ in range(ROUNDS):
        due = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)
        for task in tasks:
            rig.store.tasks.update(replace(task.spec), now=datetime.now(UTC), next_run_at=due)
            slots[task.id].add(due)
        tick = rig.start(rig.node(f"tick{round_}"), "tick")
        wait_for(
            lambda due=due: (
                sum(len([r for r in rig.rows(t) if r.scheduled_for == due]) for t in tasks) == TASKS
                and not rig.live_rows()
            ),
            f"round {round_} run",
        )
        assert tick.process is not None and tick.process.wait(timeout=90) == 0, tick.output

    for node in daemons:
        assert node.stop() == 0, node.output
    rows = rig.all_rows()
    assert Counter(r.status for r in rows) == {S.SUCCESS: TASKS * (ROUNDS + 1)}
    assert {(r.task_id, r.scheduled_for) for r in rows} == {(t, s) for t, due in slots.items() for s in due}
    assert rig.duplicate_successes() == []
    by_node = Counter(r.node for r in rows)
    print(f"runs per node: {dict(sorted(by_node.items()))}")
    assert {"a", "b", "c"} <= set(by_node), "each daemon claims its share of a crowded slot"
    assert rig.wait_no_leftovers() == []
