"""Overlap policy (DESIGN 3.5): what a new slot does while its task is busy, and which waiting rows
start now.

The lock of a task is its live rows in the store: ``running`` rows (each under a lease renewed by
its runner) and ``scheduled`` rows waiting to start. No lock file exists, so none can outlive a
process: a crashed runner's rows are ended by recovery and the task is free again.

Two decisions, both pure:

* ``decide_overlap``, at planning time: which planned runs of a busy task are claimed to run and
  which are recorded ``skipped`` (reason overlap).
* ``choose_starts``, at start time: which ``scheduled`` rows start now. Except under ``allow``, a
  task runs one row at a time: the oldest waiting row starts when nothing of the task runs, and
  under ``replace`` a waiting row asks for the running one to be killed first. Catch-up rows always
  run one after another, whatever the policy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from smartcron.domain.enums import OverlapPolicy, Trigger
from smartcron.domain.execution import Execution

SKIPPED_REASON = "overlap"
REPLACED_REASON = "replaced"


@dataclass(frozen=True, slots=True)
class TaskActivity:
    """What of one task is live right now."""

    running: int = 0
    waiting: int = 0

    @property
    def busy(self) -> bool:
        return self.running > 0 or self.waiting > 0


def decide_overlap(policy: OverlapPolicy, activity: TaskActivity, planned: int) -> tuple[bool, ...]:
    """For each of ``planned`` runs (oldest first): True to claim it to run, False to skip it."""
    if not activity.busy or policy in (OverlapPolicy.ALLOW, OverlapPolicy.REPLACE):
        return (True,) * planned
    if policy is OverlapPolicy.QUEUE:
        room = max(0, 1 - activity.waiting)
        keep = min(room, planned)
        # The newest runs wait; older ones would only be stale by the time they start.
        return (False,) * (planned - keep) + (True,) * keep
    return (False,) * planned


@dataclass(frozen=True, slots=True)
class StartChoice:
    start: tuple[int, ...] = ()
    """Execution ids to start now, in order."""
    replace: tuple[int, ...] = ()
    """Task ids whose running rows must be killed (reason replaced) so a waiting row can start."""
    waiting: tuple[int, ...] = field(default=())
    """Execution ids that stay ``scheduled`` for now."""


def choose_starts(
    pending: Iterable[Execution],
    running: Mapping[int, int],
    policies: Mapping[int, OverlapPolicy],
    *,
    capacity: int,
) -> StartChoice:
    """Pick the ``scheduled`` rows to start now.

    ``running`` counts running rows per task id; ``policies`` gives each task's overlap policy
    (rows of tasks missing from it are left waiting: the task is gone or not ours to run);
    ``capacity`` bounds how many start.
    """
    by_task: dict[int, list[Execution]] = {}
    for row in sorted(pending, key=lambda r: (r.scheduled_for, r.attempt, r.id)):
        by_task.setdefault(row.task_id, []).append(row)
    start: list[int] = []
    replace: list[int] = []
    waiting: list[int] = []
    for task_id, rows in by_task.items():
        policy = policies.get(task_id)
        if policy is None:
            waiting.extend(r.id for r in rows)
            continue
        now_running = running.get(task_id, 0)
        chosen = _startable(policy, rows, now_running)
        if not chosen and now_running and policy is OverlapPolicy.REPLACE:
            replace.append(task_id)
        room = max(0, capacity - len(start))
        started = [r.id for r in chosen[:room]]  # this task's rows only: no set of every start per task
        start.extend(started)
        waiting.extend(r.id for r in rows if r.id not in started)
    return StartChoice(tuple(start), tuple(replace), tuple(waiting))


def _startable(policy: OverlapPolicy, rows: Sequence[Execution], running: int) -> list[Execution]:
    if policy is OverlapPolicy.ALLOW:
        free = [r for r in rows if r.trigger is not Trigger.CATCHUP]
        chain = [r for r in rows if r.trigger is Trigger.CATCHUP]
        return free + chain[:1] if running == 0 else free
    return list(rows[:1]) if running == 0 else []
