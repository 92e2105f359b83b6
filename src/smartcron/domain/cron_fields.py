"""The six fields of a cron expression and what reading one of them yields.

Shared by :mod:`~smartcron.domain.cron_terms` (Debian's grammar) and
:mod:`~smartcron.domain.cron_extensions` (the forms other crons bring). Pure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NoReturn

MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")

Fail = Callable[[str], NoReturn]


@dataclass(frozen=True, slots=True)
class CronField:
    """One of the six fields: its name in messages, its range and its names (JAN, SUN)."""

    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    first_named: int = 0
    """Value of ``names[0]`` (JAN is 1, SUN is 0)."""
    hash_high: int | None = None
    """Top of the window a bare ``H`` picks from, when not ``high`` (day-of-month: 28, so every
    month has the day; day-of-week: 6, so Sunday is not twice as likely)."""

    def value(self, raw: str, fail: Fail) -> int:
        word = raw.upper()
        if word in self.names:
            return self.names.index(word) + self.first_named
        if not raw.isascii() or not raw.isdigit():
            fail(self._not_a_value(raw))
        number = int(raw)
        if not self.low <= number <= self.high:
            fail(f"{number} is out of range {self.low}-{self.high}")
        return number

    def _not_a_value(self, raw: str) -> str:
        word = raw.upper()
        if self.names:
            kind = "month" if self.names is MONTH_NAMES else "day"
            # MONDAY, Tues, SEPTEMBER: the three-letter name is what cron reads.
            if word.isascii() and word.isalpha() and len(word) > 3:
                for name in self.names:
                    if word.startswith(name):
                        return f"{raw!r} is not a {kind} name; write {name}"
            return f"{raw!r} is not a number or a {kind} name ({self.names[0]}-{self.names[-1]})"
        return f"{raw!r} is not a number"


SECOND = CronField("second", 0, 59)
MINUTE = CronField("minute", 0, 59)
HOUR = CronField("hour", 0, 23)
DAY = CronField("day-of-month", 1, 31, hash_high=28)
MONTH = CronField("month", 1, 12, MONTH_NAMES, 1)
WEEKDAY = CronField("day-of-week", 0, 7, DAY_NAMES, 0, hash_high=6)
FIELDS = (SECOND, MINUTE, HOUR, DAY, MONTH, WEEKDAY)


@dataclass(frozen=True, slots=True)
class ReadField:
    """One field as smartcron reads it."""

    text: str
    """The field as read: upper case, ``?`` as ``*``, each ``H`` as the values it picked."""
    cron: str
    """The field as cronsim gets it: stepped ranges spelled out as lists."""
    values: frozenset[int]
    """The plain values it names; day-of-week Sunday is 0 (a 7 counts as 0)."""
    last_day: bool = False
    """Day-of-month ``L``."""
    last_weekday: bool = False
    """Day-of-month ``LW``: the last Monday-to-Friday of the month."""
    before_last: frozenset[int] = frozenset()
    """Day-of-month ``L-n``: n days before the last day."""
    nearest_weekday: frozenset[int] = frozenset()
    """Day-of-month ``nW``: the Monday-to-Friday nearest day n, within its month."""
    nth_weekday: frozenset[tuple[int, int]] = frozenset()
    """Day-of-week ``d#k``: (weekday with Sunday 0, k from 1 to 5)."""
    last_of_weekday: frozenset[int] = frozenset()
    """Day-of-week ``dL``: the last such weekday of the month (Sunday 0)."""
    notes: tuple[str, ...] = ()
    """How a form Debian cron does not have was read, for ``explain``."""
    hashed: tuple[str, ...] = ()
    """What each H picked: ``minute H = 36``."""

    @property
    def beyond_cronsim(self) -> bool:
        """Forms cronsim cannot evaluate, so smartcron matches the days itself."""
        return bool(self.before_last or self.nearest_weekday)


@dataclass(slots=True)
class Reading:
    """What the terms of one field have said so far."""

    cron_field: CronField
    fail: Fail
    hash_key: str | None
    text: list[str] = field(default_factory=list)
    cron: list[str] = field(default_factory=list)
    values: set[int] = field(default_factory=set)
    last_day: bool = False
    last_weekday: bool = False
    before_last: set[int] = field(default_factory=set)
    nearest_weekday: set[int] = field(default_factory=set)
    nth_weekday: set[tuple[int, int]] = field(default_factory=set)
    last_of_weekday: set[int] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    hashed: list[str] = field(default_factory=list)

    def add(self, text: str, values: range | list[int], cron: str | None = None) -> None:
        self.text.append(text)
        self.cron.append(text if cron is None else cron)
        self.values.update(values)

    def special(self, text: str) -> None:
        """A term cronsim reads as smartcron does (L, LW, 5L, MON#2), or that it never sees."""
        self.text.append(text)
        self.cron.append(text)


def parse_step(text: str, fail: Fail) -> int:
    if not text.isascii() or not text.isdigit():
        fail(f"step {text!r} is not a number")
    step = int(text)
    if step == 0:
        fail("step 0 is not allowed")
    return step
