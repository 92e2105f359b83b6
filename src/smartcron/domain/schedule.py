"""Cron schedules in an IANA time zone, evaluated through cronsim with Debian cron's DST rules.

cronsim only ever walks naive wall-clock time here; this module puts each wall-clock slot on the
real time line, by DESIGN 3.3:

- A *fixed-time* expression (neither minute nor hour starts with '*', as Debian cron decides)
  keeps wall-clock time: in a repeated (fall-back) hour it runs in the first pass only; a slot
  skipped by a spring-forward runs at the instant of the jump. Slots that land on the same
  instant run once.
- Any other expression follows real elapsed time: a wall-clock time that does not exist is not
  a slot, and one that happens twice is a slot in both passes.

cronsim has DST handling of its own for aware datetimes, but it is not usable as it stands: it
applies the fixed-time rule to 5-field expressions only, can return a slot before its start when
the start lies in the second pass of a repeated hour, and loses slots where a zone's change does
not fall on a whole hour (Australia/Lord_Howe's 30-minute shift). Property tests compare this
module with a minute-by-minute reading of the rules.
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim

from smartcron.domain.cron_days import DayRule
from smartcron.domain.cron_syntax import MAX_EXPRESSION_LENGTH, NICKNAMES, parse_expression, uses_hash
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
# Longer than any DST shift (the largest, double summer time, was 2 hours).
_LONGEST_SHIFT = timedelta(hours=3)
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
    """The form cronsim evaluates (nicknames expanded, upper case, stepped ranges spelled out);
    only the time of day when ``days`` is set."""
    fixed_time: bool = field(repr=False)
    """Debian cron's fixed-time job: keeps wall-clock time across DST changes."""
    days: DayRule | None = field(default=None, repr=False)
    """The days it fires on, when they hold forms cronsim cannot evaluate (15W, L-3)."""
    notes: tuple[str, ...] = field(default=(), repr=False)
    """How forms Debian cron does not have were read ('?' as '*', 1/10 as 1-59/10, H)."""

    def next_after(self, after: datetime) -> datetime:
        """The first slot strictly after ``after``."""
        for slot in self.iter_after(after):
            return slot
        raise ScheduleError(f"no fire time within 50 years after {after.isoformat()}")

    def iter_after(self, after: datetime) -> Iterator[datetime]:
        """Slots strictly after ``after``, ascending; ends only at the end of the calendar."""
        start = _as_utc(after)
        return _strictly_increasing(self._slots(start), start)

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
        newest = self._slot_at_or_before(when)
        found = newest if newest is not None and newest > not_before else None
        for walked, slot in enumerate(self.iter_after(found or not_before)):
            if slot > when:
                break
            found = slot
            _check_drops(walked)
        return found

    def wall_clock_between(self, start: datetime, end: datetime, limit: int) -> list[datetime]:
        """The naive wall-clock times in ``[start, end)`` the expression matches, at most ``limit``,
        whether or not they exist in the zone: what explaining a DST change needs."""
        found: list[datetime] = []
        for wall in self._wall_clock(start - timedelta(seconds=1), reverse=False):
            if wall >= end or len(found) >= limit:
                break
            if wall >= start:
                found.append(wall)
        return found

    def _slots(self, start: datetime) -> Iterator[datetime]:
        """Slots after ``start`` in UTC, ascending, but possibly repeating or preceding ``start``."""
        if self.fixed_time:
            wall_clock = start.astimezone(self.timezone).replace(tzinfo=None)
            for wall in self._wall_clock(wall_clock, reverse=False):
                yield _place(wall, self.timezone)
            return
        # From a little earlier when clocks go back soon: the second pass of the repeated hour
        # comes after ``start`` although its wall-clock times are earlier.
        offset = min(_offset(self.timezone, start), _offset(self.timezone, start + _LONGEST_SHIFT))
        wall_clock = (start + offset).replace(tzinfo=None)
        pending: list[datetime] = []
        for wall in self._wall_clock(wall_clock, reverse=False):
            instants = _instants(wall, self.timezone)
            for instant in instants:
                heapq.heappush(pending, instant)
            # Later wall-clock times never map before this one's first pass: all up to it are final.
            while instants and pending and pending[0] <= instants[0]:
                yield heapq.heappop(pending)
        while pending:
            yield heapq.heappop(pending)

    def _slot_at_or_before(self, when: datetime) -> datetime | None:
        """A slot at or before ``when``, the newest one except near a repeated hour."""
        wall_clock = (when + _TICK).astimezone(self.timezone).replace(tzinfo=None)
        for dropped, wall in enumerate(self._wall_clock(wall_clock, reverse=True)):
            candidates = [_place(wall, self.timezone)] if self.fixed_time else _instants(wall, self.timezone)
            on_time = [instant for instant in candidates if instant <= when]
            if on_time:
                return max(on_time)
            _check_drops(dropped)
        return None

    def _wall_clock(self, start: datetime, *, reverse: bool) -> Iterator[datetime]:
        """Naive wall-clock slots after (or before) ``start``."""
        if self.days is None:
            return _cronsim(self.cron, start, reverse=reverse)
        return _wall_clock_on_days(self.cron, self.days, start, reverse=reverse)


def parse_schedule(expr: str, timezone: str | ZoneInfo, *, hash_key: str | None = None) -> Schedule:
    """Check ``expr`` and bind it to ``timezone``; raises ScheduleError naming the one problem.

    ``hash_key`` is the task's name, from which an ``H`` picks its value; it is ignored by an
    expression without H, so those stay one cached schedule however many tasks share them.
    """
    if hash_key is not None and not (isinstance(expr, str) and uses_hash(expr)):
        hash_key = None
    return _parse_schedule(expr, timezone, hash_key)


@lru_cache(maxsize=4096)
def _parse_schedule(expr: str, timezone: str | ZoneInfo, hash_key: str | None) -> Schedule:
    expression = parse_expression(expr, hash_key)
    zone = _zone(timezone)
    cron = expression.cron if expression.days is None else expression.time_cron
    return Schedule(
        expression.text,
        zone,
        expression.has_seconds,
        cron,
        expression.fixed_time,
        expression.days,
        expression.notes,
    )


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


def _wall_clock_on_days(cron: str, days: DayRule, start: datetime, *, reverse: bool) -> Iterator[datetime]:
    """cronsim's times of day (``cron``), on the days ``days`` matches only.

    A time on a day that does not match restarts cronsim at the next (or previous) day that does,
    so a rare day costs one restart, not a day of slots.
    """
    moment = start
    while True:
        for wall in _cronsim(cron, moment, reverse=reverse):
            if days.matches(wall.date()):
                yield wall
                continue
            found = days.previous_match(wall.date()) if reverse else days.next_match(wall.date())
            if found is None:
                return
            # cronsim starts strictly after (before) its start: a second before midnight (after
            # the day's end) lets the day's first (last) slot through.
            try:
                moment = datetime.combine(found, time()) + (timedelta(days=1) if reverse else -timedelta(seconds=1))
            except OverflowError:  # the end of the calendar
                return
            break
        else:
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


def _instants(wall_clock: datetime, zone: ZoneInfo) -> list[datetime]:
    """Every instant showing this wall-clock time: none in a gap, two in a repeated hour."""
    found = set()
    for fold in (0, 1):
        instant = wall_clock.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == wall_clock:
            found.add(instant)
    return sorted(found)


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
