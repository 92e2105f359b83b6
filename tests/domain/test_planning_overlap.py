"""Overlap policy decisions (DESIGN 3.5): planning a busy task, and which waiting rows start."""

from __future__ import annotations

from datetime import timedelta

import pytest

from smartcron.domain.enums import ExecutionStatus, OverlapPolicy, Trigger
from smartcron.domain.execution import Execution
from smartcron.domain.overlap import TaskActivity, choose_starts, decide_overlap
from tests.conftest import utc

IDLE = TaskActivity()
RUNNING = TaskActivity(running=1)


def row(ident: int, task_id: int = 1, minute: int = 0, trigger: Trigger = Trigger.SCHEDULE) -> Execution:
    return Execution(
        id=ident,
        task_id=task_id,
        task_name=f"t{task_id}",
        scheduled_for=utc(2026, 3, 1, 10) + timedelta(minutes=minute),
        attempt=0,
        trigger=trigger,
        status=ExecutionStatus.SCHEDULED,
    )


@pytest.mark.parametrize("policy", list(OverlapPolicy))
def test_an_idle_task_runs_every_planned_slot_whatever_its_policy(policy: OverlapPolicy) -> None:
    assert decide_overlap(policy, IDLE, 2) == (True, True)


def test_forbid_skips_a_slot_that_comes_while_the_previous_run_still_runs() -> None:
    assert decide_overlap(OverlapPolicy.FORBID, RUNNING, 1) == (False,)


def test_forbid_also_skips_while_a_run_of_the_task_waits_to_start() -> None:
    assert decide_overlap(OverlapPolicy.FORBID, TaskActivity(waiting=1), 1) == (False,)


def test_queue_keeps_one_waiting_run_and_skips_the_rest() -> None:
    assert decide_overlap(OverlapPolicy.QUEUE, RUNNING, 1) == (True,)
    assert decide_overlap(OverlapPolicy.QUEUE, RUNNING, 3) == (False, False, True)
    assert decide_overlap(OverlapPolicy.QUEUE, TaskActivity(running=1, waiting=1), 1) == (False,)


def test_replace_and_allow_claim_the_slot_while_a_run_is_going() -> None:
    assert decide_overlap(OverlapPolicy.REPLACE, RUNNING, 1) == (True,)
    assert decide_overlap(OverlapPolicy.ALLOW, TaskActivity(running=5, waiting=2), 1) == (True,)


def test_a_waiting_row_starts_only_when_nothing_of_its_task_runs() -> None:
    policies = {1: OverlapPolicy.QUEUE}
    assert choose_starts([row(7)], {1: 1}, policies, capacity=10).start == ()
    assert choose_starts([row(7)], {}, policies, capacity=10).start == (7,)


def test_a_task_starts_its_oldest_waiting_row_first_and_one_at_a_time() -> None:
    pending = [row(9, minute=2), row(8, minute=1), row(7, minute=0, trigger=Trigger.CATCHUP)]
    choice = choose_starts(pending, {}, {1: OverlapPolicy.FORBID}, capacity=10)
    assert choice.start == (7,)
    assert set(choice.waiting) == {8, 9}


def test_replace_asks_for_the_running_row_to_be_killed_before_the_new_one_starts() -> None:
    choice = choose_starts([row(7)], {1: 1}, {1: OverlapPolicy.REPLACE}, capacity=10)
    assert choice.start == ()
    assert choice.replace == (1,)


def test_allow_starts_every_waiting_row_at_once_but_catchup_rows_one_after_another() -> None:
    pending = [
        row(1, minute=0, trigger=Trigger.CATCHUP),
        row(2, minute=1, trigger=Trigger.CATCHUP),
        row(3, minute=2, trigger=Trigger.MANUAL),
        row(4, minute=3),
    ]
    idle = choose_starts(pending, {}, {1: OverlapPolicy.ALLOW}, capacity=10)
    assert set(idle.start) == {1, 3, 4}
    busy = choose_starts(pending, {1: 1}, {1: OverlapPolicy.ALLOW}, capacity=10)
    assert set(busy.start) == {3, 4}


def test_capacity_bounds_how_many_rows_start_and_the_oldest_go_first() -> None:
    pending = [row(i, task_id=i, minute=i) for i in range(1, 6)]
    choice = choose_starts(pending, {}, dict.fromkeys(range(1, 6), OverlapPolicy.FORBID), capacity=3)
    assert choice.start == (1, 2, 3)
    assert set(choice.waiting) == {4, 5}


def test_rows_of_tasks_without_a_policy_here_are_left_waiting() -> None:
    choice = choose_starts([row(1, task_id=1), row(2, task_id=2)], {}, {1: OverlapPolicy.FORBID}, capacity=10)
    assert choice.start == (1,)
    assert choice.waiting == (2,)
