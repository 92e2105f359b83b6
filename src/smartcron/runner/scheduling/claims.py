"""From due tasks to the rows a pass claims: slot planning and overlap decisions applied.

Pure apart from reading schedules: given the due tasks, what of each task is live, and ``now``, it
returns the claims (rows to insert: to run, skipped, missed) and each task's move of
``next_run_at``. The engine inserts them in one batch.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from smartcron.domain.enums import ExecutionStatus, Trigger
from smartcron.domain.overlap import SKIPPED_REASON, TaskActivity, decide_overlap
from smartcron.domain.planning import SlotPlan, plan_slots
from smartcron.domain.schedule import Schedule, parse_schedule
from smartcron.domain.task import Task
from smartcron.errors import ScheduleError
from smartcron.store.execution_rows import REASON_LENGTH, LiveRow
from smartcron.store.executions import SlotClaim
from smartcron.store.slots import Move

log = logging.getLogger(__name__)


class Schedules:
    """Each task's parsed schedule; a schedule that does not parse is logged once, not every pass."""

    def __init__(self, default_timezone: str) -> None:
        self._default_timezone = default_timezone
        self._reported: set[tuple[int, str]] = set()

    def of(self, task: Task) -> Schedule | None:
        try:
            return parse_schedule(task.spec.schedule, task.spec.timezone or self._default_timezone, hash_key=task.name)
        except ScheduleError as exc:
            key = (task.id, task.spec.schedule)
            if key not in self._reported:
                self._reported.add(key)
                log.error("cannot plan: %s", exc.message, extra={"task": task.name, "action": "plan"})
            return None


def activity_of(live: Iterable[LiveRow]) -> dict[int, TaskActivity]:
    """Running and waiting rows per task, from the live rows."""
    running: Counter[int] = Counter()
    waiting: Counter[int] = Counter()
    for row in live:
        (running if row.status is ExecutionStatus.RUNNING else waiting)[row.task_id] += 1
    return {tid: TaskActivity(running[tid], waiting[tid]) for tid in running.keys() | waiting.keys()}


def plan_claims(
    due: Sequence[Task],
    now: datetime,
    *,
    activity: Mapping[int, TaskActivity],
    schedule_of: Callable[[Task], Schedule | None],
    max_missed_rows: int,
) -> tuple[list[SlotClaim], list[Move]]:
    claims: list[SlotClaim] = []
    moves: list[Move] = []
    for task in due:
        schedule = schedule_of(task)
        if schedule is None or task.next_run_at is None:
            continue
        spec = task.spec
        plan = plan_slots(
            schedule,
            next_run_at=task.next_run_at,
            now=now,
            catchup=spec.catchup,
            starting_deadline=spec.starting_deadline,
            max_missed_rows=max_missed_rows,
        )
        claims += _claims_of(task, plan, now, activity.get(task.id, TaskActivity()))
        moves.append((task.id, task.next_run_at, plan.next_run_at))
    return claims, moves


def _claims_of(task: Task, plan: SlotPlan, now: datetime, activity: TaskActivity) -> list[SlotClaim]:
    spec = task.spec
    claims = []
    decisions = decide_overlap(spec.overlap, activity, len(plan.runs))
    for run, go in zip(plan.runs, decisions, strict=True):
        status = ExecutionStatus.SCHEDULED if go else ExecutionStatus.SKIPPED
        claims.append(SlotClaim(task.id, run.slot, run.trigger, status=status, reason=None if go else SKIPPED_REASON))
    for slot in plan.missed:
        reason = f"late by {_duration(now - slot)} (catchup {spec.catchup})"
        claims.append(SlotClaim(task.id, slot, Trigger.SCHEDULE, status=ExecutionStatus.MISSED, reason=reason))
    if plan.summary is not None:
        reason = plan.summary.reason[:REASON_LENGTH]
        claims.append(
            SlotClaim(task.id, plan.summary.first, Trigger.SCHEDULE, status=ExecutionStatus.MISSED, reason=reason)
        )
    return claims


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} days"
