"""Cron expression syntax: nicknames, field-by-field checks with precise messages, and the
"never fires" checks (DESIGN 3.2).

cronsim evaluates expressions, but its constructor only says "Bad minute". This module walks the
same grammar first so a person reads what is wrong ("minute field: 60 is out of range 0-59"),
then lets cronsim confirm. Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import NoReturn

from cronsim import CronSim, CronSimError

from smartcron.errors import ScheduleError

MAX_EXPRESSION_LENGTH = 255
"""Same bound as the task file's schedule key: nothing legitimate is longer."""

NICKNAMES: dict[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
MONTH_TITLES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
# The longest each month can be (February in a leap year).
MAX_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

# An expression must fire at least once in this long from any start, so evaluation is bounded.
MAX_GAP = timedelta(days=5 * 366)
# First days of the years checked for MAX_GAP: 28 years hold every kind of year (leap or not,
# starting on each weekday) of the Gregorian calendar between 1901 and 2099.
_GAP_CHECK_YEARS = range(2000, 2029)

_ALLOWED = re.compile(r"[A-Za-z0-9*/,#@ \t-]*")


@dataclass(frozen=True, slots=True)
class CronField:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    first_named: int = 0
    """Value of ``names[0]`` (JAN is 1, SUN is 0)."""

    def value(self, raw: str, fail: Callable[[str], NoReturn]) -> int:
        if raw.upper() in self.names:
            return self.names.index(raw.upper()) + self.first_named
        if not raw.isascii() or not raw.isdigit():
            if self.names:
                kind = "month" if self.names is MONTH_NAMES else "day"
                fail(f"{raw!r} is not a number or a {kind} name ({self.names[0]}-{self.names[-1]})")
            fail(f"{raw!r} is not a number")
        number = int(raw)
        if not self.low <= number <= self.high:
            fail(f"{number} is out of range {self.low}-{self.high}")
        return number


SECOND = CronField("second", 0, 59)
MINUTE = CronField("minute", 0, 59)
HOUR = CronField("hour", 0, 23)
DAY = CronField("day-of-month", 1, 31)
MONTH = CronField("month", 1, 12, MONTH_NAMES, 1)
WEEKDAY = CronField("day-of-week", 0, 7, DAY_NAMES, 0)
FIELDS = (SECOND, MINUTE, HOUR, DAY, MONTH, WEEKDAY)


@dataclass(frozen=True, slots=True)
class CronExpression:
    """A checked expression: six fields, seconds first, upper case."""

    text: str
    """As given, stripped."""
    fields: tuple[str, str, str, str, str, str]
    has_seconds: bool

    @property
    def cron(self) -> str:
        """The form handed to cronsim: 5 fields, or 6 with seconds first."""
        return " ".join(self.fields if self.has_seconds else self.fields[1:])

    @property
    def fixed_time(self) -> bool:
        """Debian cron's "fixed-time job": neither minute nor hour starts with '*'.

        Such jobs keep wall-clock time across DST changes; the others follow real elapsed time.
        """
        return not self.fields[1].startswith("*") and not self.fields[2].startswith("*")

    @property
    def days_and(self) -> bool:
        """Day-of-month AND day-of-week must match (either starts with '*'); otherwise OR."""
        return self.fields[3].startswith("*") or self.fields[5].startswith("*")


def parse_expression(expr: str) -> CronExpression:
    """Check ``expr`` and return its fields; raises ScheduleError naming the problem."""
    if not isinstance(expr, str):
        raise ScheduleError(f"must be a string, got {type(expr).__name__}")
    text = expr.strip()
    if not text:
        raise ScheduleError("is empty; write five fields such as '*/30 * * * *'")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ScheduleError(f"is too long ({len(text)} characters, at most {MAX_EXPRESSION_LENGTH})")
    if not _ALLOWED.fullmatch(text):
        bad = next(ch for ch in text if not _ALLOWED.fullmatch(ch))
        raise ScheduleError(f"contains the character {bad!r}, which cron does not use")
    return _parse_checked(text)


@lru_cache(maxsize=4096)
def _parse_checked(text: str) -> CronExpression:
    parts = _expand_nickname(text).split()
    if len(parts) not in (5, 6):
        raise ScheduleError(f"expected 5 fields (or 6 with seconds first), got {len(parts)}")
    has_seconds = len(parts) == 6
    six = parts if has_seconds else ["0", *parts]
    # Checked as written, so messages quote the person's own text; cronsim reads upper case.
    values = [_field_values(field, raw) for field, raw in zip(FIELDS, six, strict=True)]
    upper = [part.upper() for part in six]
    expression = CronExpression(text, (upper[0], upper[1], upper[2], upper[3], upper[4], upper[5]), has_seconds)
    _check_month_days(expression, days=values[3], months=values[4])
    try:
        CronSim(expression.cron, datetime(2000, 1, 1))
    except CronSimError as exc:  # a case the checks above missed
        raise ScheduleError(f"not a valid cron expression ({exc})") from None
    _check_fires_regularly(*expression.fields[3:])
    return expression


def _expand_nickname(text: str) -> str:
    if not text.startswith("@"):
        return text
    words = text.split()
    word = words[0].lower()
    if word == "@reboot":
        raise ScheduleError("@reboot is not supported: smartcron has no boot trigger (use a systemd unit)")
    if word.startswith("@every"):
        raise ScheduleError(f"{text!r} is not cron syntax; write a step such as '*/5 * * * *'")
    if word not in NICKNAMES:
        raise ScheduleError(f"unknown nickname {words[0]!r}; use one of {', '.join(NICKNAMES)}")
    if len(words) > 1:
        raise ScheduleError(f"{words[0]} stands alone; nothing may follow it")
    return NICKNAMES[word]


def _field_values(field: CronField, raw: str) -> set[int]:
    """The plain values a field names (``L``, ``LW``, ``5L``, ``MON#2`` add none)."""

    def fail(problem: str) -> NoReturn:
        raise ScheduleError(f"{field.name} field: {problem}")

    found: set[int] = set()
    for term in raw.split(","):
        if not term:
            fail(f"empty item in the list {raw!r}")
        found |= _term_values(field, term, fail)
    return found


def _term_values(field: CronField, term: str, fail: Callable[[str], NoReturn]) -> set[int]:
    # Same order of cases as cronsim's parser, so both read a term the same way.
    if term == "*":
        return set(range(field.low, field.high + 1))
    if field is WEEKDAY and "L" in term.upper():
        if not re.fullmatch(r"[0-9]+[Ll]", term):
            fail(f"{term!r} is not valid; the last given weekday of the month is written like 5L")
        field.value(term[:-1], fail)
        return set()
    if field is WEEKDAY and "#" in term:
        weekday, _, nth = term.partition("#")
        field.value(weekday, fail)
        if not re.fullmatch(r"[1-5]", nth):
            fail(f"in {term!r} the week of the month must be 1-5")
        return set()
    if "/" in term:
        return _step_values(field, term, fail)
    if "-" in term:
        start, _, end = term.partition("-")
        low, high = field.value(start, fail), field.value(end, fail)
        if high < low:
            fail(f"range {term} goes backwards")
        return set(range(low, high + 1))
    if field is DAY and term.upper() in ("L", "LW"):
        return set()
    return {field.value(term, fail)}


def _step_values(field: CronField, term: str, fail: Callable[[str], NoReturn]) -> set[int]:
    base, _, step_text = term.partition("/")
    if not step_text.isascii() or not step_text.isdigit():
        fail(f"step {step_text!r} is not a number")
    step = int(step_text)
    if step == 0:
        fail("step 0 is not allowed")
    if base == "*":
        return set(range(field.low, field.high + 1, step))
    if "-" in base:
        return set(sorted(_term_values(field, base, fail))[::step])
    if not base or "L" in base.upper() or "#" in base:
        fail(f"{term!r} is not valid; a step follows '*', a range or a number")
    return set(range(field.value(base, fail), field.high + 1, step))


def _check_month_days(expression: CronExpression, *, days: set[int], months: set[int]) -> None:
    """Reject a day that exists in none of the months, such as 30 February."""
    day_field = expression.fields[3]
    if not expression.days_and or not days or "L" in day_field:
        return
    smallest = min(days)
    if all(smallest > MAX_DAYS_IN_MONTH[month - 1] for month in months):
        names = [MONTH_TITLES[month - 1] for month in sorted(months)]
        where = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        raise ScheduleError(f"never fires: day {smallest} does not exist in {where}")


@lru_cache(maxsize=1024)
def _check_fires_regularly(day: str, month: str, weekday: str) -> None:
    """Reject day/month/weekday combinations that fire never, or less than once in MAX_GAP.

    Hours, minutes and seconds cannot make a day without a slot, so only the day fields matter.
    """
    if _evidently_regular(day, weekday):
        return
    day_only = f"0 0 0 {day} {month} {weekday}"
    for year in _GAP_CHECK_YEARS:
        start = datetime(year, 1, 1) - timedelta(seconds=1)
        try:
            first = next(CronSim(day_only, start))
        except StopIteration:  # cronsim looked 50 years ahead
            raise ScheduleError("never fires: no date matches its day-of-month, month and day-of-week") from None
        if first - start > MAX_GAP:
            raise ScheduleError("fires too rarely: it can go more than 5 years without firing")


def _evidently_regular(day: str, weekday: str) -> bool:
    """The usual shapes (every day, some days of every month, some weekdays) need no search."""
    plain_weekdays = weekday == "*" or not any(mark in weekday for mark in "L#")
    early_days = day == "*" or bool(re.fullmatch(r"([1-9]|1[0-9]|2[0-8])(-[0-9]+)?", day.split(",")[0]))
    if day == "*" and weekday == "*":
        return True
    if weekday == "*":
        return early_days
    if day == "*":
        return plain_weekdays
    return False
