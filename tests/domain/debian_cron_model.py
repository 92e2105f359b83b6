"""A small brute-force model of Debian cron, independent of smartcron's code, for the tests.

It reads an expression into plain sets and walks the clock minute by minute:

- each field is a set of values; a range with a step is filled as Debian fills it,
  ``for (i = start; i <= stop; i += step)``; a step without a range runs to the field's end (the
  reading every peer library has and smartcron keeps on purpose); Sunday is 0 and 7;
- day-of-month and day-of-week are OR-ed when both are restricted, AND-ed when either starts with
  ``*`` (``?`` counts as ``*``);
- the extensions smartcron accepts, each by its definition, found by searching the month:
  ``L`` the last day, ``L-n`` n days before it, ``LW`` and ``nW`` the Monday-to-Friday closest to
  that day within the month, ``dL`` the last such weekday, ``d#k`` the k-th one;
- DST per DESIGN 3.3 as Debian does it (docs/architecture.md, "Where we differ"): a job whose
  minute and hour fields both start with something other than ``*`` keeps wall-clock time (a
  repeated time runs in the first pass only; a skipped one runs at the instant clocks jump, once);
  any other job fires at every real minute whose local time matches.

No H: the model is given the values smartcron says it picked, and the tests check those values.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
BOUNDS = [(0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
MINUTE = timedelta(minutes=1)


def _number(text: str, index: int) -> int:
    word = text.upper()
    if index == 4 and word in MONTHS:
        return MONTHS.index(word) + 1
    if index == 5 and word in DAYS:
        return DAYS.index(word)
    return int(text)


def _plain(term: str, index: int) -> set[int]:
    low, high = BOUNDS[index]
    base, _, step_text = term.partition("/")
    step = int(step_text) if step_text else 1
    if base in ("*", "?"):
        start, stop = low, high
    elif "-" in base:
        first, _, last = base.partition("-")
        start, stop = _number(first, index), _number(last, index)
    else:
        start = _number(base, index)
        stop = high if step_text else start
    found = set()
    value = start
    while value <= stop:
        found.add(value)
        value += step
    return found


@dataclass(frozen=True)
class DebianCron:
    expr: str

    @property
    def fields(self) -> list[str]:
        text = NICKNAMES.get(self.expr.strip().lower(), self.expr)
        parts = text.upper().split()
        return parts if len(parts) == 6 else ["0", *parts]

    @property
    def fixed_time(self) -> bool:
        return not self.fields[1].startswith("*") and not self.fields[2].startswith("*")

    def plain(self, index: int) -> set[int]:
        found: set[int] = set()
        for term in self.fields[index].split(","):
            if index == 3 and ("L" in term or "W" in term):
                continue
            if index == 5 and ("L" in term or "#" in term):
                continue
            found |= _plain(term, index)
        if index == 5 and 7 in found:
            found.add(0)
        return found

    def day_matches(self, day: date) -> bool:
        return _day_matches(self, day)

    def slots(self, zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
        """Every slot in ``(start, end]``, in UTC."""
        seconds, minutes, hours = self.plain(0), self.plain(1), self.plain(2)
        found: set[datetime] = set()
        if self.fixed_time:
            wall = start.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0) - timedelta(hours=3)
            last = end.astimezone(zone).replace(tzinfo=None) + timedelta(hours=3)
            while wall <= last:
                if not self.day_matches(wall.date()):
                    wall = datetime.combine(wall.date() + timedelta(days=1), datetime.min.time())
                    continue
                if wall.hour in hours and wall.minute in minutes:
                    for second in seconds:
                        found.add(_place(wall + timedelta(seconds=second), zone))
                wall += MINUTE
        else:
            moment = start.astimezone(UTC).replace(second=0, microsecond=0)
            while moment <= end:
                local = moment.astimezone(zone)
                if not self.day_matches(local.date()):
                    # On to the next local midnight (or the first minute after it, if it is skipped).
                    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), tzinfo=zone)
                    moment = max(moment + MINUTE, midnight.astimezone(UTC))
                    continue
                if local.hour in hours and local.minute in minutes:
                    found.update(moment + timedelta(seconds=second) for second in seconds)
                moment += MINUTE
        return sorted(slot for slot in found if start < slot <= end)


@cache
def _day_matches(cron: DebianCron, day: date) -> bool:
    fields = cron.fields
    if day.month not in cron.plain(4):
        return False
    dom = day.day in cron.plain(3) or _special_dom(fields[3], day)
    dow = (day.isoweekday() % 7) in cron.plain(5) or _special_dow(fields[5], day)
    if fields[3].startswith(("*", "?")) or fields[5].startswith(("*", "?")):
        return dom and dow
    return dom or dow


def _month_days(day: date) -> list[date]:
    return [day.replace(day=number) for number in range(1, calendar.monthrange(day.year, day.month)[1] + 1)]


def _closest_weekday(day: date, wanted: int) -> date | None:
    days = _month_days(day)
    if wanted > len(days):
        return None
    weekdays = [one for one in days if one.isoweekday() <= 5]
    return min(weekdays, key=lambda one: abs(one.day - wanted))


def _special_dom(field: str, day: date) -> bool:
    last = _month_days(day)[-1].day
    for term in field.split(","):
        if term == "L" and day.day == last:
            return True
        if term == "LW" and _closest_weekday(day, last) == day:
            return True
        if term.startswith("L-") and day.day == last - int(term[2:]):
            return True
        if term.endswith("W") and term[:-1].isdigit() and _closest_weekday(day, int(term[:-1])) == day:
            return True
    return False


def _special_dow(field: str, day: date) -> bool:
    weekday = day.isoweekday() % 7
    same = [one for one in _month_days(day) if one.isoweekday() % 7 == weekday]
    for term in field.split(","):
        if term.endswith("L") and int(term[:-1]) % 7 == weekday and same[-1] == day:
            return True
        if "#" in term:
            name, _, nth = term.partition("#")
            if _number(name, 5) % 7 == weekday and int(nth) <= len(same) and same[int(nth) - 1] == day:
                return True
    return False


@cache
def _place(wall: datetime, zone: ZoneInfo) -> datetime:
    """Where a fixed-time wall-clock slot runs: its first pass, or the jump over it."""
    first_pass = wall.replace(tzinfo=zone).astimezone(UTC)
    if first_pass.astimezone(zone).replace(tzinfo=None) == wall:
        return first_pass
    # In a gap: the first real minute whose local time is past it is the jump.
    moment = (wall - timedelta(hours=15)).replace(tzinfo=UTC, second=0)
    while moment.astimezone(zone).replace(tzinfo=None) <= wall:
        moment += MINUTE
    return moment
