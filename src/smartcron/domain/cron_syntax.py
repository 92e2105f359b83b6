"""Cron expression syntax: nicknames, the number of fields, and the "never fires" checks
(DESIGN 3.2); each field is read by :mod:`smartcron.domain.cron_terms`.

cronsim evaluates expressions, but its constructor only says "Bad minute". smartcron reads the
grammar first so a person reads what is wrong ("minute field: 60 is out of range 0-59"), then
lets cronsim confirm. Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import lru_cache

from cronsim import CronSim, CronSimError

from smartcron.domain.cron_days import DayRule
from smartcron.domain.cron_fields import DAY_NAMES, FIELDS, MONTH_NAMES
from smartcron.domain.cron_terms import read_field
from smartcron.errors import ScheduleError

__all__ = [
    "DAY_NAMES",
    "MAX_EXPRESSION_LENGTH",
    "MONTH_NAMES",
    "MONTH_TITLES",
    "NICKNAMES",
    "CronExpression",
    "parse_expression",
    "uses_hash",
]

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

_ALLOWED = re.compile(r"[A-Za-z0-9*/,#@?() \t-]*")
_USES_HASH = re.compile(r"(?:^|[\s,])H(?![A-Z])", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class CronExpression:
    """A checked expression: six fields, seconds first, as smartcron reads them."""

    text: str
    """As given, stripped."""
    fields: tuple[str, str, str, str, str, str]
    """As read: upper case, '?' as '*', each H as the values it picked."""
    has_seconds: bool
    cron_fields: tuple[str, str, str, str, str, str] = field(default=("0", "*", "*", "*", "*", "*"), repr=False)
    """As cronsim gets them: stepped ranges spelled out (``13-13/1`` is ``13``)."""
    notes: tuple[str, ...] = ()
    """How forms that Debian cron does not have were read ('?' as '*', 1/10 as 1-59/10, H)."""
    days: DayRule | None = field(default=None, repr=False)
    """Set when the day fields hold forms cronsim cannot evaluate (15W, L-3)."""

    @property
    def cron(self) -> str:
        """The form handed to cronsim: 5 fields, or 6 with seconds first."""
        return " ".join(self.cron_fields if self.has_seconds else self.cron_fields[1:])

    @property
    def time_cron(self) -> str:
        """Seconds, minutes and hours as cronsim gets them, on every day."""
        return " ".join([*self.cron_fields[:3], "*", "*", "*"])

    @property
    def fixed_time(self) -> bool:
        """Debian cron's "fixed-time job": neither minute nor hour starts with '*'.

        Such jobs keep wall-clock time across DST changes; the others follow real elapsed time.
        An H counts as the number it picked.
        """
        return not self.fields[1].startswith("*") and not self.fields[2].startswith("*")

    @property
    def days_and(self) -> bool:
        """Day-of-month AND day-of-week must match (either starts with '*'); otherwise OR."""
        return self.fields[3].startswith("*") or self.fields[5].startswith("*")


def uses_hash(expr: str) -> bool:
    """Does ``expr`` pick a value from the task name (Jenkins' ``H``)?"""
    return bool(_USES_HASH.search(expr))


def parse_expression(expr: str, hash_key: str | None = None) -> CronExpression:
    """Check ``expr`` and return its fields; raises ScheduleError naming the problem.

    ``hash_key`` (the task's name) is what an ``H`` picks its value from.
    """
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
    return _parse_checked(text, hash_key if uses_hash(text) else None)


@lru_cache(maxsize=4096)
def _parse_checked(text: str, hash_key: str | None) -> CronExpression:
    parts = _expand_nickname(text).split()
    _check_field_count(parts)
    has_seconds = len(parts) == 6
    six = parts if has_seconds else ["0", *parts]
    # Read as written, so messages quote the person's own text.
    read = [read_field(cron_field, raw, hash_key) for cron_field, raw in zip(FIELDS, six, strict=True)]
    day, month, weekday = read[3], read[4], read[5]
    notes = [note for one in read for note in one.notes]
    if hashed := [item for one in read for item in one.hashed]:
        notes.append(f"H picked from the task name {hash_key!r}: {', '.join(hashed)}")
    if any(one.text == "*" and raw == "?" for one, raw in ((day, six[3]), (weekday, six[5]))) and any(
        ch.isdigit() for ch in six[5]
    ):
        notes.append("day-of-week numbers are cron's: 0 and 7 are Sunday, 1 is Monday, unlike Quartz's 1 for Sunday")
    expression = CronExpression(
        text,
        _six(one.text for one in read),
        has_seconds,
        _six(one.cron for one in read),
        tuple(notes),
    )
    if day.beyond_cronsim:
        expression = replace(expression, days=DayRule(day, month, weekday, expression.days_and))
    _check_month_days(expression, days=set(day.values | day.nearest_weekday), months=set(month.values))
    if expression.days is None:
        try:
            CronSim(expression.cron, datetime(2000, 1, 1))
        except CronSimError as exc:  # a case the checks above missed
            raise ScheduleError(f"not a valid cron expression ({exc})") from None
        _check_fires_regularly(*expression.cron_fields[3:])
    else:
        _check_rule_fires_regularly(expression.days)
    return expression


def _six(items: Iterable[str]) -> tuple[str, str, str, str, str, str]:
    a, b, c, d, e, f = items
    return (a, b, c, d, e, f)


_YEAR_ADVICE = (
    "a year field is not supported; drop it, and disable the task (smartcron tasks disable) when its last year is over"
)
_YEARS = re.compile(r"\d{4}([-,]\d{4})*")


def _check_field_count(parts: list[str]) -> None:
    if len(parts) == 6 and _YEARS.fullmatch(parts[5]):
        # Quartz and AWS put a year last: five fields and a year, not seconds and five fields.
        raise ScheduleError(f"6 fields are read seconds first, but the last, {parts[5]!r}, is a year: {_YEAR_ADVICE}")
    if len(parts) in (5, 6):
        return
    if len(parts) == 7:
        raise ScheduleError(f"expected 5 fields (or 6 with seconds first), got 7: {_YEAR_ADVICE}")
    raise ScheduleError(f"expected 5 fields (or 6 with seconds first), got {len(parts)}")


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


def _check_month_days(expression: CronExpression, *, days: set[int], months: set[int]) -> None:
    """Reject a day that exists in none of the months, such as 30 February (or 30W)."""
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


@lru_cache(maxsize=1024)
def _check_rule_fires_regularly(rule: DayRule) -> None:
    """As :func:`_check_fires_regularly`, for the day forms smartcron matches itself."""
    for year in _GAP_CHECK_YEARS:
        if rule.next_match(date(year, 1, 1) - timedelta(days=1)) is None:
            cycle = date(_GAP_CHECK_YEARS[-1], 12, 31) - date(_GAP_CHECK_YEARS[0], 1, 1)
            days = (date(_GAP_CHECK_YEARS[0], 1, 1) + timedelta(days=n) for n in range(cycle.days + 1))
            if not any(rule.matches(day) for day in days):
                raise ScheduleError("never fires: no date matches its day-of-month, month and day-of-week")
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
