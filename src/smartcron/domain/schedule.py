"""Cron schedules in an IANA time zone, evaluated through cronsim with Debian cron's DST rules.

DESIGN 3.3, and how this module keeps it:

- A *fixed-time* expression (neither minute nor hour starts with '*', as Debian cron decides) is
  iterated by cronsim in naive wall-clock time, and each wall-clock slot is then put on the real
  time line: in a repeated (fall-back) hour it runs in the first pass only; a slot skipped by a
  spring-forward runs at the instant of the jump. Slots that land on the same instant run once.
- Any other expression is iterated by cronsim on aware local times, which cronsim advances through
  UTC, so it follows real elapsed time and fires in both passes of a repeated hour.

cronsim 2.x has its own form of the first rule, for 5-field expressions only, and it can return a
slot earlier than its start when the start lies in the second pass of a repeated hour. Going
through naive time here applies the rule to 6-field expressions too, and every result is filtered
to be strictly after the start, so callers can rely on both.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim

from smartcron.domain.cron_syntax import MAX_EXPRESSION_LENGTH, NICKNAMES, parse_expression
from smartcron.domain.describe import describe
from smartcron.errors import ScheduleError

__all__ = [
    "MAX_EXPRESSION_LENGTH",
    "NICKNAMES",
    "Schedule",
    "describe",
    "dst_transitions",
    "parse_schedule",
]

# Results dropped in a row before giving up. Only a start inside a repeated hour, or slots merged
# at a spring-forward, drop results: at most one hour of every-second slots in practice.
_DROP_LIMIT = 100_000
_TICK = timedelta(microseconds=1)
_SCAN_STEP = timedelta(hours=12)
_ZONE_KEY = re.compile(r"^[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+)*$")


@dataclass(frozen=True, slots=True)
class Schedule:
    """A checked cron expression in a time zone. Build it with :func:`parse_schedule`.

    Every method takes and returns aware datetimes; results are in UTC.
    """

    expr: str
    """The expression as given, stripped."""
    timezone: ZoneInfo
    has_seconds: bool
    """A 6-field expression, seconds first."""
    cron: str = field(repr=False)
    """The form cronsim evaluates (nicknames expanded, upper case)."""
    fixed_time: bool = field(repr=False)
    """Debian cron's fixed-time job: keeps wall-clock time across DST changes."""

    def next_after(self, after: datetime) -> datetime:
        """The first slot strictly after ``after``."""
        for slot in self.iter_after(after):
            return slot
        raise ScheduleError(f"no fire time within 50 years after {after.isoformat()}")

    def iter_after(self, after: datetime) -> Iterator[datetime]:
        """Slots strictly after ``after``, ascending; ends only at the end of the calendar."""
        start = _as_utc(after)
        return _strictly_increasing(self._slots(start, reverse=False), start)

    def between(self, after: datetime, until: datetime, limit: int) -> list[datetime]:
        """The earliest ``limit`` slots with ``after < slot <= until``, ascending."""
        found: list[datetime] = []
        if limit <= 0 or _as_utc(until) <= _as_utc(after):
            return found
        for slot in self.iter_after(after):
            if slot > until:
                break
            found.append(slot)
            if len(found) >= limit:
                break
        return found

    def latest_at_or_before(self, when: datetime, not_before: datetime) -> datetime | None:
        """The newest slot in ``(not_before, when]``, or None.

        One reverse step of cronsim finds it whatever the gap; a short forward walk then picks up
        first-pass slots of a repeated hour that lie before ``when`` in real time although their
        wall-clock time is later (``when`` in the second pass).
        """
        when, not_before = _as_utc(when), _as_utc(not_before)
        if when <= not_before:
            return None
        newest: datetime | None = None
        for dropped, slot in enumerate(self._slots(when + _TICK, reverse=True)):
            if slot <= when:
                newest = slot
                break
            _check_drops(dropped)
        start = newest if newest is not None and newest > not_before else not_before
        found = newest if newest is not None and newest > not_before else None
        for walked, slot in enumerate(self.iter_after(start)):
            if slot > when:
                break
            found = slot
            _check_drops(walked)
        return found

    def _slots(self, start: datetime, *, reverse: bool) -> Iterator[datetime]:
        """cronsim's results from ``start`` on, in UTC; may repeat or precede ``start`` (see module)."""
        local = start.astimezone(self.timezone)
        if self.fixed_time:
            for wall_clock in _cronsim(self.cron, local.replace(tzinfo=None), reverse=reverse):
                yield _place(wall_clock, self.timezone)
        else:
            for moment in _cronsim(self.cron, local, reverse=reverse):
                yield moment.astimezone(UTC)


@lru_cache(maxsize=4096)
def parse_schedule(expr: str, timezone: str | ZoneInfo) -> Schedule:
    """Check ``expr`` and bind it to ``timezone``; raises ScheduleError naming the one problem."""
    expression = parse_expression(expr)
    zone = _zone(timezone)
    return Schedule(expression.text, zone, expression.has_seconds, expression.cron, expression.fixed_time)


def dst_transitions(timezone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, timedelta, timedelta]]:
    """Each change of UTC offset in ``[start, end]``: (instant in UTC, offset before, offset after).

    Scans in 12-hour steps, so its cost grows with the span; two changes within one step (which
    no current zone has) would be missed.
    """
    start, end = _as_utc(start), _as_utc(end)
    found: list[tuple[datetime, timedelta, timedelta]] = []
    previous = start - timedelta(seconds=1)
    previous_offset = _offset(timezone, previous)
    while previous < end:
        current = min(previous + _SCAN_STEP, end)
        offset = _offset(timezone, current)
        if offset != previous_offset:
            instant = _first_instant_with_offset(timezone, previous, current)
            if start <= instant <= end:
                found.append((instant, previous_offset, offset))
        previous, previous_offset = current, offset
    return found


def _zone(timezone: str | ZoneInfo) -> ZoneInfo:
    if isinstance(timezone, ZoneInfo):
        return timezone
    # 'localtime' is whatever the machine says, so the same task would mean different times.
    if not isinstance(timezone, str) or not _ZONE_KEY.match(timezone) or timezone == "localtime":
        raise ScheduleError(f"unknown time zone {timezone!r}")
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleError(f"unknown time zone {timezone!r}") from None


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a schedule needs an aware datetime, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def _cronsim(cron: str, start: datetime, *, reverse: bool) -> Iterator[datetime]:
    try:
        yield from CronSim(cron, start, reverse=reverse)
    except (OverflowError, ValueError):  # walked off the calendar (year 1 or 9999)
        return


def _strictly_increasing(slots: Iterator[datetime], after: datetime) -> Iterator[datetime]:
    previous = after
    dropped = 0
    for slot in slots:
        if slot > previous:
            previous, dropped = slot, 0
            yield slot
        else:
            dropped += 1
            _check_drops(dropped)


def _check_drops(count: int) -> None:
    if count > _DROP_LIMIT:  # a safety net: no valid input comes near it
        raise ScheduleError(f"evaluation gave up after {_DROP_LIMIT} slots out of order")


def _place(wall_clock: datetime, zone: ZoneInfo) -> datetime:
    """The instant a fixed-time slot runs at, per Debian cron."""
    first_pass = wall_clock.replace(tzinfo=zone).astimezone(UTC)  # fold=0: the first pass
    if first_pass.astimezone(zone).replace(tzinfo=None) == wall_clock:
        return first_pass
    # Skipped by a spring-forward. For a wall-clock time in the gap, fold=1 reads it with the
    # offset after the jump (an instant before it) and fold=0 with the one before (after it).
    before_jump = wall_clock.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return _first_instant_with_offset(zone, before_jump, first_pass)


def _offset(zone: ZoneInfo, moment: datetime) -> timedelta:
    return moment.astimezone(zone).utcoffset() or timedelta(0)


def _first_instant_with_offset(zone: ZoneInfo, low: datetime, high: datetime) -> datetime:
    """The first whole second in ``(low, high]`` whose offset is that of ``high`` (``low``'s differs)."""
    target = _offset(zone, high)
    low_second, high_second = math.floor(low.timestamp()), math.ceil(high.timestamp())
    while high_second - low_second > 1:
        middle = (low_second + high_second) // 2
        if _offset(zone, datetime.fromtimestamp(middle, UTC)) == target:
            high_second = middle
        else:
            low_second = middle
    return datetime.fromtimestamp(high_second, UTC)
