"""Cron expressions in plain English, for the CLI and the dashboard.

The usual shapes get short phrases written here ("every 30 minutes", "at 08:00-18:00 on the
hour", "at 06:00 on Monday"); anything else is worded by cronsim's explainer. How smartcron read
a form Debian cron does not have ('?' as '*', ``1/10`` as ``1-59/10``, the value an ``H`` picked)
follows in brackets, so nobody is surprised by a reading they did not know about.
"""

from __future__ import annotations

import re
from datetime import datetime

from cronsim import CronSim

from smartcron.domain.cron_syntax import DAY_NAMES, MONTH_NAMES, MONTH_TITLES, CronExpression, parse_expression

WEEKDAY_TITLES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_NUMBER = re.compile(r"^[0-9]+$")
_STEP = re.compile(r"^\*/([0-9]+)$")
_MAX_LISTED_TIMES = 6


def describe(expr: str, *, hash_key: str | None = None) -> str:
    """``expr`` in plain English; raises ScheduleError when it is not valid.

    ``hash_key`` is the task name an ``H`` picks its value from.
    """
    expression = parse_expression(expr, hash_key)
    words = _words(expression)
    if expression.notes:
        words += f" ({'; '.join(expression.notes)})"
    return words


def _words(expression: CronExpression) -> str:
    second, minute, hour, day, month, weekday = expression.fields
    times = _times(second, minute, hour)
    days = _days(day, month, weekday)
    if times is not None and days is not None:
        phrase, is_interval = times
        if not days and not is_interval:
            days = " every day"
        return phrase + days
    if expression.days is not None:  # 15W, L-3: not cronsim's to word
        return " ".join(expression.fields if expression.has_seconds else expression.fields[1:])
    return _by_cronsim(expression.cron)


def _times(second: str, minute: str, hour: str) -> tuple[str, bool] | None:
    """The time-of-day part, and whether it repeats within a day by a fixed interval."""
    if second != "0":
        return _times_with_seconds(second, minute, hour)
    if hour == "*":
        if minute == "*":
            return "every minute", True
        if step := _step(minute):
            return f"every {step} minutes", True
        if _NUMBER.match(minute):
            return _past_every_hour(int(minute)), True
        return None
    minutes = _numbers(minute)
    if minutes is None or len(minutes) != 1:
        return _fixed_times(minutes, hour)
    (at_minute,) = minutes
    if step := _step(hour):
        past = "on the hour" if at_minute == 0 else f"at {at_minute} minutes past"
        return f"every {step} hours, {past}", True
    if match := re.fullmatch(r"([0-9]+)-([0-9]+)(?:/([0-9]+))?", hour):
        first, last, step_text = int(match[1]), int(match[2]), match[3]
        if step_text is None:
            if at_minute == 0:
                return f"at {_clock(first, 0)}-{_clock(last, 0)} on the hour", True
            window = f"from {_clock(first, at_minute)} to {_clock(last, at_minute)}"
            return f"{_past_every_hour(at_minute)} {window}", True
        hours = range(first, last + 1, int(step_text))
        return f"every {step_text} hours from {_clock(hours[0], at_minute)} to {_clock(hours[-1], at_minute)}", True
    return _fixed_times(minutes, hour)


def _times_with_seconds(second: str, minute: str, hour: str) -> tuple[str, bool] | None:
    if minute == "*" and hour == "*":
        if second == "*":
            return "every second", True
        if step := _step(second):
            return f"every {step} seconds", True
        return None
    seconds, minutes, hours = _numbers(second), _numbers(minute), _numbers(hour)
    if seconds and minutes and hours and len(seconds) == len(minutes) == len(hours) == 1:
        return f"at {_clock(hours[0], minutes[0])}:{seconds[0]:02d}", False
    return None


def _fixed_times(minutes: list[int] | None, hour: str) -> tuple[str, bool] | None:
    hours = _numbers(hour)
    if not minutes or not hours or len(minutes) * len(hours) > _MAX_LISTED_TIMES:
        return None
    times = [_clock(h, m) for h in sorted(hours) for m in sorted(minutes)]
    return f"at {_join(times)}", False


def _days(day: str, month: str, weekday: str) -> str | None:
    """The calendar part, with a leading space; "" for every day; None when cronsim words it better."""
    if month != "*":
        days, months = _numbers(day), _month_numbers(month)
        if weekday == "*" and days is not None and months is not None and len(days) == 1:
            return f" on {days[0]} {_join([MONTH_TITLES[m - 1] for m in months], 'or')}"
        return None
    if day == "*" and weekday == "*":
        return ""
    if day == "*":
        names = _weekdays(weekday)
        return f" on {names}" if names else None
    if weekday == "*":
        if special := _special_day(day):
            return special
        days = _numbers(day)
        if days is not None:
            noun = "day" if len(days) == 1 else "days"
            return f" on {noun} {_join([str(d) for d in days])} of every month"
    return None


def _special_day(day: str) -> str | None:
    """L, LW, L-3 and 15W in words, with a leading separator."""
    if day == "L":
        return " on the last day of every month"
    if day == "LW":
        return " on the last weekday of every month"
    if match := re.fullmatch(r"L-([0-9]+)", day):
        count = int(match[1])
        return f", {count} day{'s' if count != 1 else ''} before the last day of every month"
    if match := re.fullmatch(r"([0-9]+)W", day):
        return f" on the weekday nearest day {match[1]} of every month"
    return None


def _weekdays(field: str) -> str | None:
    words: list[str] = []
    for term in field.split(","):
        start, _, end = term.partition("-")
        first, last = _weekday_number(start), _weekday_number(end) if end else None
        if first is None or (end and last is None):
            return None
        if last is None:
            words.append(WEEKDAY_TITLES[first])
        else:
            words.append(f"{WEEKDAY_TITLES[first]} through {WEEKDAY_TITLES[last]}")
    return _join(words)


def _weekday_number(text: str) -> int | None:
    if text in DAY_NAMES:
        return DAY_NAMES.index(text)
    return int(text) if _NUMBER.match(text) else None


def _month_numbers(field: str) -> list[int] | None:
    found: list[int] = []
    for term in field.split(","):
        if term in MONTH_NAMES:
            found.append(MONTH_NAMES.index(term) + 1)
        elif _NUMBER.match(term):
            found.append(int(term))
        else:
            return None
    return found


def _numbers(field: str) -> list[int] | None:
    """The values of a plain list of numbers ("0,30"), else None."""
    terms = field.split(",")
    if not all(_NUMBER.match(term) for term in terms):
        return None
    return sorted({int(term) for term in terms})


def _step(field: str) -> int | None:
    match = _STEP.match(field)
    return int(match[1]) if match else None


def _past_every_hour(minute: int) -> str:
    if minute == 0:
        return "every hour, on the hour"
    return f"at {minute} minute{'s' if minute != 1 else ''} past every hour"


def _clock(hour: int, minute: int) -> str:
    return f"{hour:02d}:{minute:02d}"


def _join(items: list[str], last_word: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last_word} {items[-1]}"


def _by_cronsim(cron: str) -> str:
    try:
        words = CronSim(cron, datetime(2000, 1, 1)).explain()
    except Exception:  # a description must never break a page; the expression still says it
        return cron
    return words[:1].lower() + words[1:]
