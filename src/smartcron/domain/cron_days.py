"""Which days a cron expression fires on, for the day-of-month forms cronsim does not have.

cronsim evaluates ``L``, ``LW``, ``5L`` and ``MON#2`` itself; the nearest weekday (``15W``) and
the days before the last (``L-3``) it does not, so an expression with one of them is evaluated
by cronsim for the time of day and by :class:`DayRule` for the date. The rule is Debian cron's:
day-of-month OR day-of-week when both are restricted, AND when either starts with ``*``.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from smartcron.domain.cron_fields import ReadField

# Past this many days without a match a rule never matches: expressions are refused when they
# can go five years (1,830 days) without firing, so a walk never needs more.
MAX_DAYS_WALKED = 5 * 366 + 1


@dataclass(frozen=True, slots=True)
class DayRule:
    day: ReadField
    month: ReadField
    weekday: ReadField
    days_and: bool
    """Day-of-month AND day-of-week (either field starts with '*'); else OR."""

    def matches(self, day: date) -> bool:
        if day.month not in self.month.values:
            return False
        if self.days_and:
            return self._day_of_month(day) and self._day_of_week(day)
        return self._day_of_month(day) or self._day_of_week(day)

    def next_match(self, after: date) -> date | None:
        """The first matching day after ``after``, or None within the walk's bound."""
        return self._walk(after, timedelta(days=1))

    def previous_match(self, before: date) -> date | None:
        """The last matching day before ``before``, or None within the walk's bound."""
        return self._walk(before, timedelta(days=-1))

    def _walk(self, start: date, step: timedelta) -> date | None:
        day = start
        for _ in range(MAX_DAYS_WALKED):
            try:
                day += step
            except OverflowError:  # the end of the calendar
                return None
            if self.matches(day):
                return day
        return None

    def _day_of_month(self, day: date) -> bool:
        field = self.day
        if day.day in field.values:
            return True
        last = calendar.monthrange(day.year, day.month)[1]
        if field.last_day and day.day == last:
            return True
        if last - day.day in field.before_last:
            return True
        if field.last_weekday and day.day == _weekday_nearest(day.year, day.month, last, last):
            return True
        return any(_weekday_nearest(day.year, day.month, wanted, last) == day.day for wanted in field.nearest_weekday)

    def _day_of_week(self, day: date) -> bool:
        field = self.weekday
        weekday = day.isoweekday() % 7  # Sunday 0, as cron counts
        if weekday in field.values:
            return True
        last = calendar.monthrange(day.year, day.month)[1]
        if weekday in field.last_of_weekday and day.day + 7 > last:
            return True
        return (weekday, (day.day - 1) // 7 + 1) in field.nth_weekday


def _weekday_nearest(year: int, month: int, wanted: int, last: int) -> int | None:
    """The Monday-to-Friday nearest day ``wanted`` without leaving its month (Quartz's ``W``):
    Saturday moves to the Friday before, Sunday to the Monday after, unless that crosses the
    month's edge (1W on a Saturday is Monday the 3rd). None when the month has no such day."""
    if wanted > last:
        return None
    weekday = date(year, month, wanted).weekday()  # Monday 0
    if weekday == 5:
        return wanted - 1 if wanted > 1 else wanted + 2
    if weekday == 6:
        return wanted + 1 if wanted < last else wanted - 2
    return wanted
