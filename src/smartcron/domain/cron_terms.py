"""One field of a cron expression, read term by term: what it means, and what to write instead
when it means nothing.

Debian cron's grammar is the contract: numbers and names, ``*``, ranges, lists and steps, with
Sunday both 0 and 7. A range with a step is filled as Debian fills it, ``for (i = start; i <= stop;
i += step)``, so ``13-13/1`` is the 13th alone; a step without a range (``1/10``), which Debian
refuses, is read as the other cron libraries read it, ``1-59/10``, and ``explain`` says so. The
forms other crons bring are read by :mod:`~smartcron.domain.cron_extensions`.

Each field is read into the values it names and into the text handed to cronsim, in which every
stepped range is spelled out as a list: whatever a cronsim version makes of stepped ranges,
smartcron's answer stays Debian's. Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import NoReturn

from smartcron.domain.cron_extensions import (
    read_any,
    read_day_special,
    read_hash,
    read_weekday_special,
    refuse_misplaced,
)
from smartcron.domain.cron_fields import (
    DAY,
    DAY_NAMES,
    FIELDS,
    MONTH_NAMES,
    WEEKDAY,
    CronField,
    Fail,
    ReadField,
    Reading,
    parse_step,
)
from smartcron.errors import ScheduleError

__all__ = ["DAY_NAMES", "FIELDS", "MONTH_NAMES", "CronField", "ReadField", "read_field"]


def read_field(cron_field: CronField, raw: str, hash_key: str | None = None) -> ReadField:
    """Read one field; raises ScheduleError naming the field, the term and what to write."""

    def fail(problem: str) -> NoReturn:
        raise ScheduleError(f"{cron_field.name} field: {problem}")

    terms = raw.split(",")
    reading = Reading(cron_field, fail, hash_key)
    for position, term in enumerate(terms):
        if not term:
            fail(f"empty item in the list {raw!r}")
        if term == "?":
            read_any(reading, many=len(terms) > 1)
        else:
            _read_term(reading, term, position)
    values = {value % 7 for value in reading.values} if cron_field is WEEKDAY else reading.values
    return ReadField(
        ",".join(reading.text),
        ",".join(reading.cron),
        frozenset(values),
        last_day=reading.last_day,
        last_weekday=reading.last_weekday,
        before_last=frozenset(reading.before_last),
        nearest_weekday=frozenset(reading.nearest_weekday),
        nth_weekday=frozenset(reading.nth_weekday),
        last_of_weekday=frozenset(reading.last_of_weekday),
        notes=tuple(reading.notes),
        hashed=tuple(reading.hashed),
    )


def _read_term(reading: Reading, term: str, position: int) -> None:
    cron_field, fail = reading.cron_field, reading.fail
    word = term.upper()
    if word == "*":
        reading.add("*", range(cron_field.low, cron_field.high + 1))
        return
    if word.startswith("H"):
        read_hash(reading, term, position)
        return
    if cron_field is DAY and read_day_special(reading, term):
        return
    if cron_field is WEEKDAY and read_weekday_special(reading, term):
        return
    refuse_misplaced(cron_field, term, fail)
    if "/" in term:
        _read_step(reading, term)
        return
    if "-" in term:
        low, high = _range(cron_field, term, fail)
        reading.add(word, range(low, high + 1))
        return
    value = cron_field.value(term, fail)
    reading.add(word if word in cron_field.names else str(value), [value])


def _read_step(reading: Reading, term: str) -> None:
    cron_field, fail = reading.cron_field, reading.fail
    base, _, step_text = term.partition("/")
    step = parse_step(step_text, fail)
    if base == "*":
        reading.add(f"*/{step}", range(cron_field.low, cron_field.high + 1, step))
        return
    if not base:
        fail(f"{term!r} has nothing before the step; write */{step_text}")
    if "-" in base:
        low, high = _range(cron_field, base, fail, step=step)
    else:
        low, high = cron_field.value(base, fail), cron_field.high
        # Debian refuses a step without a range; every other cron reads it to the field's end.
        note = f"{cron_field.name} {term} is read as {base}-{high}/{step}, as Debian cron needs it written"
        reading.notes.append(note)
    # Debian fills a range as for (i = start; i <= stop; i += step): 13-13/1 is the 13th alone.
    values = list(range(low, high + 1, step))
    reading.add(term.upper(), values, cron=",".join(str(value) for value in values))


def _range(cron_field: CronField, term: str, fail: Fail, *, step: int | None = None) -> tuple[int, int]:
    start, _, end = term.partition("-")
    if not start or not end:
        fail(f"{term!r} is not a range; write it like 1-5")
    low, high = cron_field.value(start, fail), cron_field.value(end, fail)
    if high < low:
        fail(f"range {term} goes backwards; write {_wrapped(cron_field, start, end, low, high, step)}")
    return low, high


def _wrapped(cron_field: CronField, start: str, end: str, low: int, high: int, step: int | None) -> str:
    """What a range that wraps past the field's end (FRI-MON, 22-2) is written as."""
    top = 6 if cron_field is WEEKDAY else cron_field.high
    first = 0 if cron_field is WEEKDAY and low == 7 else low
    values = [*range(first, top + 1), *range(cron_field.low, high + 1)]
    if cron_field is WEEKDAY and first == 0:  # 7-3: Sunday to Wednesday, no wrap at all
        values = list(range(0, high + 1))
    if step is not None:
        return ",".join(str(value) for value in values[::step])
    if start.upper() in cron_field.names or end.upper() in cron_field.names:
        return ",".join(cron_field.names[value - cron_field.first_named] for value in values)
    return _runs(values)


def _runs(values: list[int]) -> str:
    """22,23,0,1,2 as 22-23,0-2."""
    runs: list[list[int]] = []
    for value in values:
        if runs and value == runs[-1][-1] + 1:
            runs[-1].append(value)
        else:
            runs.append([value])
    return ",".join(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}" for run in runs)
