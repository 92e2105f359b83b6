"""What a daylight-saving change did to a task's slots, in words (for ``smartcron why``).

The rule is the schedule module's (DESIGN 3.3, Debian cron's): a *fixed-time* task (neither its
minute nor its hour field starts with '*') keeps wall-clock time, so a time skipped by a
spring-forward runs once right after the jump and a time in a repeated hour runs in the first
pass only; any other task follows real elapsed time, so a skipped time is no slot at all and a
repeated one is a slot in both passes. This module only puts that into sentences at the instants
where it shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from smartcron.domain.schedule import Schedule, dst_transitions

# Longer than any DST shift: a transition just before the window can still move slots inside it.
_LONGEST_SHIFT = timedelta(hours=3)
_WALL_LIMIT = 10_000
"""Wall-clock times looked at per change (an every-second task has 3,600 in a skipped hour)."""
_LISTED = 3
"""Up to this many skipped or repeated times are named one by one; more become a range."""


@dataclass(frozen=True, slots=True)
class DstNote:
    instant: datetime
    """The instant (UTC) the note belongs to."""
    text: str
    not_due: bool
    """True: no slot is at ``instant`` (a line of its own); False: said of the slot at ``instant``."""


def dst_notes(schedule: Schedule, since: datetime, until: datetime) -> list[DstNote]:
    """The notes for every DST change that touches the slots in ``(since, until]``, oldest first."""
    notes: list[DstNote] = []
    for instant, before, after in dst_transitions(schedule.timezone, since - _LONGEST_SHIFT, until):
        if after > before:
            notes += _gap_notes(schedule, instant, before, after)
        elif after < before:
            notes += _repeat_notes(schedule, instant, before, after)
    return sorted((n for n in notes if since < n.instant <= until), key=lambda n: n.instant)


def _gap_notes(schedule: Schedule, instant: datetime, before: timedelta, after: timedelta) -> list[DstNote]:
    wall_start = (instant + before).replace(tzinfo=None)
    wall_end = wall_start + (after - before)
    walls = schedule.wall_clock_between(wall_start, wall_end, _WALL_LIMIT)
    if not walls:
        return []
    seconds = schedule.has_seconds
    what, verb = _times(walls, seconds)
    head = (
        f"{what} {verb} not exist on {wall_start.date().isoformat()} in {schedule.timezone.key}: "
        f"the clock jumped from {_clock(wall_start, seconds)} to {_clock(wall_end, seconds)}"
    )
    if schedule.fixed_time:
        rule = f"as Debian cron does, a fixed-time task runs once right after the jump, at {_clock(wall_end, seconds)}"
        return [DstNote(instant, f"{head}; {rule}", not_due=False)]
    rule = (
        "a task whose minute or hour field starts with '*' follows real elapsed time "
        "(Debian cron's rule), so there is no run for it"
    )
    return [DstNote(instant, f"{head}; {rule}", not_due=True)]


def _repeat_notes(schedule: Schedule, instant: datetime, before: timedelta, after: timedelta) -> list[DstNote]:
    wall_start = (instant + after).replace(tzinfo=None)
    wall_end = wall_start + (before - after)
    walls = schedule.wall_clock_between(wall_start, wall_end, _WALL_LIMIT)
    seconds = schedule.has_seconds
    zone = schedule.timezone
    day = wall_start.date().isoformat()
    went_back = f"clocks went back from {_clock(wall_end, seconds)} to {_clock(wall_start, seconds)}"
    notes = []
    for wall in walls:
        first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
        second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
        head = f"{_clock(wall, seconds)} happened twice on {day} in {zone.key} ({went_back})"
        if schedule.fixed_time:
            first_pass = f"{_clock(wall, seconds)} {first.astimezone(zone).tzname()}"
            rule = f"as Debian cron does, a fixed-time task runs in the first pass only, at {first_pass}"
            notes.append(DstNote(second, f"{head}; {rule}", not_due=True))
        else:
            rule = (
                "a task whose minute or hour field starts with '*' follows real elapsed time "
                "(Debian cron's rule), so it runs in both passes"
            )
            notes += [DstNote(first, f"{head}; {rule}", not_due=False), DstNote(second, f"{head}; {rule}", False)]
    return notes


def _times(walls: list[datetime], seconds: bool) -> tuple[str, str]:
    if len(walls) == 1:
        return _clock(walls[0], seconds), "does"
    if len(walls) <= _LISTED:
        names = [_clock(wall, seconds) for wall in walls]
        return f"{', '.join(names[:-1])} and {names[-1]}", "do"
    return f"the {len(walls):,} times from {_clock(walls[0], seconds)} to {_clock(walls[-1], seconds)}", "do"


def _clock(wall: datetime, seconds: bool) -> str:
    return wall.strftime("%H:%M:%S" if seconds else "%H:%M")
