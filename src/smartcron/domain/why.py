"""``smartcron why``: what became of each slot of a task in a window, and why (pure).

Given the task, its schedule, the window ``(since, now]``, the task's execution rows, the audited
changes of its state, and the runners' newest heartbeats, :func:`explain_window` returns one
:class:`SlotExplanation` per slot (a row's slot has one per attempt), one per manual run or
retry, and one per wall-clock time a daylight-saving change made not due, oldest first. The CLI
and the dashboard render the same records (``why_lines``).

Slots are found from the schedule, so a slot that has no row is explained too (``why_absent``);
rows are explained by their status, trigger and reason column (``why_rows``); DST notes come from
the schedule's own rule (``why_dst``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from smartcron.domain.execution import Execution
from smartcron.domain.schedule import Schedule
from smartcron.domain.task import Task
from smartcron.domain.why_absent import explain_absent
from smartcron.domain.why_dst import dst_notes
from smartcron.domain.why_model import (
    FlagChange,
    RunnerSeen,
    SlotExplanation,
    WhyContext,
    WhyOutcome,
    WhyReport,
)
from smartcron.domain.why_rows import explain_row, summary_range
from smartcron.errors import ScheduleError

__all__ = ["MAX_SLOTS", "NEXT_COUNT", "FlagChange", "RunnerSeen", "SlotExplanation", "WhyOutcome", "WhyReport"]

MAX_SLOTS = 100_000
"""At most this many slots are explained (the newest): a day of a task every second is 86,400."""
NEXT_COUNT = 3
_REQUESTS = (WhyOutcome.MANUAL, WhyOutcome.RETRY)


def explain_window(
    task: Task,
    schedule: Schedule,
    *,
    since: datetime,
    now: datetime,
    rows: Sequence[Execution],
    changes: Sequence[FlagChange] = (),
    runners: Sequence[RunnerSeen] = (),
    runner_fresh: timedelta = timedelta(minutes=2),
    requested_by: Mapping[int, str] | None = None,
) -> WhyReport:
    """Explain every slot of ``task`` in ``(since, now]`` (see the module docstring)."""
    ctx = WhyContext.build(
        rows,
        task=task,
        schedule=schedule,
        now=now,
        changes=sorted(changes, key=lambda c: c.at),
        runners=runners,
        runner_fresh=runner_fresh,
        requested_by=requested_by or {},
    )
    since, slots, truncated = _slots(schedule, since, now)
    by_slot: dict[datetime, list[Execution]] = {}
    for row in ctx.rows_between(since, now):
        by_slot.setdefault(row.scheduled_for, []).append(row)
    summaries = [(*span, row) for row in ctx.rows if (span := summary_range(row)) is not None]

    records: list[SlotExplanation] = []
    for slot in slots:
        slot_rows = by_slot.pop(slot, [])
        records += [explain_row(row, ctx) for row in slot_rows] or [explain_absent(slot, ctx, summaries)]
    # Manual runs, and rows of slots of an earlier schedule (or cut off by the cap), come on their own.
    first_listed = slots[0] if slots else now
    for leftover in by_slot.values():
        records += [explain_row(row, ctx) for row in leftover if not truncated or row.scheduled_for >= first_listed]
    records = _with_dst(records, schedule, since, now)
    records.sort(key=lambda r: (r.slot, r.attempt or 0, r.execution_id or 0))
    return WhyReport(
        task=task.name,
        timezone=schedule.timezone.key,
        since=since,
        until=now,
        slots=tuple(records),
        next=tuple(_next_times(schedule, now)),
        has_seconds=schedule.has_seconds,
        truncated=truncated,
        state=_state(task),
    )


def _slots(schedule: Schedule, since: datetime, now: datetime) -> tuple[datetime, list[datetime], bool]:
    """The window's start and slots: all of them, or (truncated) the newest at most ``MAX_SLOTS``
    with the start moved up to just before them."""
    found = schedule.between(since, now, MAX_SLOTS + 1)
    if len(found) <= MAX_SLOTS:
        return since, found, False
    start = since
    while len(found) > MAX_SLOTS:
        # Slots are mostly evenly spread: the newest MAX_SLOTS span about what these did; where
        # they are not (a busy hour in a quiet day), halving what is left gets there too.
        estimate = max(start, now - (found[MAX_SLOTS - 1] - found[0]))
        start = estimate if estimate > start else start + (now - start) / 2
        found = schedule.between(start, now, MAX_SLOTS + 1)
    return start, found, True


def _with_dst(
    records: list[SlotExplanation], schedule: Schedule, since: datetime, now: datetime
) -> list[SlotExplanation]:
    notes = dst_notes(schedule, since, now)
    if not notes:
        return records
    said: dict[datetime, str] = {}
    for note in notes:
        if not note.not_due:
            said[note.instant] = f"{said[note.instant]}; {note.text}" if note.instant in said else note.text
    out = [replace(r, dst=said[r.slot]) if r.slot in said and r.outcome not in _REQUESTS else r for r in records]
    out += [
        SlotExplanation(note.instant, WhyOutcome.NOT_DUE, note.text, dst=note.text) for note in notes if note.not_due
    ]
    return out


def _next_times(schedule: Schedule, now: datetime) -> list[datetime]:
    times: list[datetime] = []
    try:
        for moment in schedule.iter_after(now):
            times.append(moment)
            if len(times) >= NEXT_COUNT:
                break
    except ScheduleError:  # an expression that never fires again: no next times to show
        pass
    return times


def _state(task: Task) -> str | None:
    if not task.spec.enabled:
        return "disabled: these slots will not run until it is enabled"
    if task.paused:
        return "paused: these slots will not run until it is resumed"
    return None
