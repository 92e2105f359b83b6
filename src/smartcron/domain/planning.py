"""Which slots of a task are due at ``now``, and what becomes of each (DESIGN 3.4).

A task's ``next_run_at`` is its first slot not yet planned; at ``now`` every slot in
``[next_run_at, now]`` is due. The newest due slot runs on time (trigger ``schedule``) when it is
late by at most the *on-time tolerance*. Every other due slot is *late*, and the task's catch-up
policy decides:

* ``latest`` (default): the newest late slot runs once (trigger ``catchup``) when no slot is on time
  and it is within ``starting_deadline`` (no deadline: always); every other late slot is missed.
* ``all``: late slots within the deadline run in order, one after another, at most
  ``CATCHUP_ALL_LIMIT`` of them (the newest); the on-time slot, if any, runs after them.
* ``none``: every late slot is missed.

On-time tolerance: ``starting_deadline`` when it is shorter, else 60 s for minute schedules (a
``tick`` from cron starts up to a few seconds into the minute) and one period, at most 60 s, for
schedules with seconds.

Missed slots get a row each, the newest ``max_missed_rows`` of them; older ones share one summary
row at the earliest slot that counts them. A gap of months stays cheap: slots are found newest
first with ``latest_at_or_before`` and counting stops at ``MISSED_COUNT_CAP``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from smartcron.domain.enums import CatchupPolicy, Trigger

MINUTE_TOLERANCE = timedelta(seconds=60)
CATCHUP_ALL_LIMIT = 100
"""At most this many missed slots run under ``catchup = "all"``; older ones are recorded missed."""
MISSED_COUNT_CAP = 10_000
"""Counting missed slots for the summary row stops here (the reason then says "at least")."""
_TICK = timedelta(microseconds=1)


class SlotSource(Protocol):
    """What planning needs of a schedule (``smartcron.domain.schedule.Schedule`` provides it)."""

    @property
    def has_seconds(self) -> bool: ...

    def next_after(self, after: datetime) -> datetime: ...

    def between(self, after: datetime, until: datetime, limit: int) -> list[datetime]: ...

    def latest_at_or_before(self, when: datetime, not_before: datetime) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class PlannedRun:
    slot: datetime
    trigger: Trigger


@dataclass(frozen=True, slots=True)
class MissedSummary:
    """One row standing for ``count`` missed slots from ``first`` to ``last``."""

    first: datetime
    last: datetime
    count: int
    at_least: bool = False

    @property
    def reason(self) -> str:
        count = f"at least {self.count}" if self.at_least else str(self.count)
        return f"{count} slots missed from {self.first.isoformat()} to {self.last.isoformat()}"


@dataclass(frozen=True, slots=True)
class SlotPlan:
    runs: tuple[PlannedRun, ...]
    """Slots to run, oldest first; more than one only under ``catchup = "all"``."""
    missed: tuple[datetime, ...]
    """Slots recorded ``missed`` one row each, oldest first."""
    summary: MissedSummary | None
    next_run_at: datetime
    """The first slot after ``now``: where the task's ``next_run_at`` moves to."""

    @property
    def is_empty(self) -> bool:
        return not self.runs and not self.missed and self.summary is None


def on_time_tolerance(schedule: SlotSource, slot: datetime, starting_deadline: int | None) -> timedelta:
    """How late a slot may be and still count as on time."""
    tolerance = MINUTE_TOLERANCE
    if schedule.has_seconds:
        period = schedule.next_after(slot) - slot
        tolerance = min(MINUTE_TOLERANCE, max(timedelta(seconds=1), period))
    if starting_deadline is not None:
        tolerance = min(tolerance, timedelta(seconds=starting_deadline))
    return tolerance


def plan_slots(
    schedule: SlotSource,
    *,
    next_run_at: datetime,
    now: datetime,
    catchup: CatchupPolicy,
    starting_deadline: int | None,
    max_missed_rows: int,
    catchup_limit: int = CATCHUP_ALL_LIMIT,
) -> SlotPlan:
    """Decide every due slot of one task (see the module docstring)."""
    if next_run_at > now:
        return SlotPlan((), (), None, next_run_at)
    following = schedule.next_after(next_run_at)
    if following > now:
        # The common case, one slot due (a runner that keeps up): one evaluation of the schedule.
        recent, older = [next_run_at], None
    else:
        wanted = max(max_missed_rows, catchup_limit) + 2
        recent = _recent_slots(schedule, next_run_at, now, wanted)
        older = _older_slots(schedule, next_run_at, recent[0]) if len(recent) == wanted else None
        following = schedule.next_after(now)

    runs, missed = _decide(
        schedule, recent, now=now, catchup=catchup, starting_deadline=starting_deadline, catchup_limit=catchup_limit
    )
    individual = missed[-max_missed_rows:] if max_missed_rows > 0 else []
    rest = missed[: len(missed) - len(individual)]
    summary = _summarise(rest, older)
    return SlotPlan(tuple(runs), tuple(individual), summary, following)


def triage_waiting(
    schedule: SlotSource,
    slots: list[datetime],
    *,
    now: datetime,
    catchup: CatchupPolicy,
    starting_deadline: int | None,
    catchup_limit: int = CATCHUP_ALL_LIMIT,
) -> tuple[list[PlannedRun], list[datetime]]:
    """Claimed slots that never started (their runner died) judged like due slots: (runs, missed)."""
    if not slots:
        return [], []
    return _decide(
        schedule,
        sorted(slots),
        now=now,
        catchup=catchup,
        starting_deadline=starting_deadline,
        catchup_limit=catchup_limit,
    )


def _decide(
    schedule: SlotSource,
    due: list[datetime],
    *,
    now: datetime,
    catchup: CatchupPolicy,
    starting_deadline: int | None,
    catchup_limit: int,
) -> tuple[list[PlannedRun], list[datetime]]:
    """Split due slots (oldest first) into runs and missed slots by lateness and catch-up policy."""
    newest = due[-1]
    on_time = newest if now - newest <= on_time_tolerance(schedule, newest, starting_deadline) else None
    late = due[:-1] if on_time else due
    deadline = timedelta(seconds=starting_deadline) if starting_deadline is not None else None

    def within_deadline(slot: datetime) -> bool:
        return deadline is None or now - slot <= deadline

    catchups: list[datetime] = []
    if catchup is CatchupPolicy.LATEST and on_time is None and late and within_deadline(late[-1]):
        catchups = [late[-1]]
    elif catchup is CatchupPolicy.ALL:
        catchups = [s for s in late if within_deadline(s)][-catchup_limit:]
    runs = [PlannedRun(s, Trigger.CATCHUP) for s in catchups]
    if on_time is not None:
        runs.append(PlannedRun(on_time, Trigger.SCHEDULE))
    chosen = set(catchups)
    return runs, [s for s in late if s not in chosen]


def _recent_slots(schedule: SlotSource, first: datetime, now: datetime, wanted: int) -> list[datetime]:
    """Up to ``wanted`` newest slots in ``[first, now]``, oldest first (``first`` is a slot)."""
    found: list[datetime] = []
    cursor = now
    while len(found) < wanted:
        slot = schedule.latest_at_or_before(cursor, not_before=first)
        if slot is None:
            found.append(first)
            break
        found.append(slot)
        cursor = slot - _TICK
    found.reverse()
    return found


@dataclass(frozen=True, slots=True)
class _Older:
    first: datetime
    last: datetime
    count: int
    at_least: bool


def _older_slots(schedule: SlotSource, first: datetime, before: datetime) -> _Older | None:
    """The slots in ``[first, before)``, counted up to ``MISSED_COUNT_CAP``."""
    if first >= before:
        return None
    last = schedule.latest_at_or_before(before - _TICK, not_before=first) or first
    inner = schedule.between(first, last, MISSED_COUNT_CAP)
    return _Older(first, last, 1 + len(inner), at_least=len(inner) >= MISSED_COUNT_CAP)


def _summarise(rest: list[datetime], older: _Older | None) -> MissedSummary | None:
    if older is None and not rest:
        return None
    first = older.first if older else rest[0]
    last = rest[-1] if rest else older.last if older else first
    count = len(rest) + (older.count if older else 0)
    return MissedSummary(first, last, count, at_least=bool(older and older.at_least))
