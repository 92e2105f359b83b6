"""The cron forms people bring from Quartz, Jenkins and the other cron libraries, read where
Debian cron has no meaning of its own for them: ``?`` (no particular value, read as ``*``), ``L``,
``LW``, ``L-n`` and ``nW`` in day-of-month, ``nL`` and ``d#k`` in day-of-week, and ``H`` (a value
hashed from the task name, as Jenkins spreads jobs). Misplaced ones are refused with one line
saying where they belong. Pure.
"""

from __future__ import annotations

import hashlib
import re

from smartcron.domain.cron_fields import DAY, DAY_NAMES, WEEKDAY, CronField, Fail, Reading, parse_step

_HASH = re.compile(r"H(?:\((?P<low>[^()-]+)-(?P<high>[^()]+)\))?(?:/(?P<step>.*))?")
_DAY_FIELD_L = re.compile(r"L(?:-(?P<before>[0-9]+))?")
_NEAREST = re.compile(r"(?P<day>[0-9]+)W")
_LAST_WEEKDAY_OF = re.compile(r"(?P<day>[0-9]+)L")
# The special forms of the two day fields, to say where a misplaced one belongs.
_DAY_OF_MONTH_FORM = re.compile(r"[0-9]*W|LW|L(?:-[0-9]+)?")
_DAY_OF_WEEK_FORM = re.compile(r"[0-9]+L|L[0-9]+|[^#]*#[^#]*")


def read_any(reading: Reading, *, many: bool) -> None:
    """Quartz's ``?``: no particular value, which is what ``*`` says."""
    if reading.cron_field not in (DAY, WEEKDAY):
        reading.fail("'?' (no particular value) is only for day-of-month and day-of-week; write *")
    if many:
        reading.fail("'?' stands alone in its field; write * or a list without it")
    reading.notes.append(f"{reading.cron_field.name} '?' is read as '*'")
    reading.add("*", range(reading.cron_field.low, reading.cron_field.high + 1))


def read_hash(reading: Reading, term: str, position: int) -> None:
    """Jenkins' H: a value (or a step's offset) picked from the task name, the same every time."""
    cron_field, fail = reading.cron_field, reading.fail
    match = _HASH.fullmatch(term.upper())
    if match is None:
        fail(f"{term!r} is not valid; H is written H, H(0-5), H/15 or H(0-29)/15")
    low, high = cron_field.low, cron_field.hash_high or cron_field.high
    if match["low"] is not None:
        low, high = cron_field.value(match["low"], fail), cron_field.value(match["high"], fail)
        if high < low:
            fail(f"in {term!r} the range {match['low']}-{match['high']} goes backwards")
    step = parse_step(match["step"], fail) if match["step"] is not None else None
    if reading.hash_key is None:
        fail(f"{term!r} picks its value from the task name, and there is no task here (next and explain: --task NAME)")
    candidates = list(range(low, high + 1))
    if cron_field is WEEKDAY:  # 7 is Sunday again: each day once, in the window's order
        candidates = list(dict.fromkeys(value % 7 for value in candidates))
    number = stable_hash(reading.hash_key, cron_field.name, position)
    if step is None:
        values = [candidates[number % len(candidates)]]
    else:
        values = candidates[number % min(step, len(candidates)) :: step]
    text = ",".join(str(value) for value in values)
    reading.hashed.append(f"{cron_field.name} {term.upper()} = {text}")
    reading.add(text, values)


def stable_hash(key: str, field_name: str, position: int) -> int:
    """A number from ``key`` that is the same in every process and every release.

    SHA-256 of "key/field/position", first 8 bytes big-endian: Python's ``hash()`` of a string
    changes with every interpreter start, which would move every task at each restart.
    """
    digest = hashlib.sha256(f"{key}/{field_name}/{position}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def read_day_special(reading: Reading, term: str) -> bool:
    """Day-of-month L, LW, L-n and nW; False for a term that is none of them."""
    word, fail = term.upper(), reading.fail
    if word == "LW":
        reading.last_weekday = True
        reading.special("LW")
        return True
    if match := _DAY_FIELD_L.fullmatch(word):
        before = int(match["before"] or 0)
        if before > 30:
            fail(f"in {term!r} the days before the last must be 0-30")
        if before == 0:
            reading.last_day = True
            reading.special("L")
        else:
            reading.before_last.add(before)
            reading.special(f"L-{before}")
        return True
    if match := _NEAREST.fullmatch(word):
        day = DAY.value(match["day"], fail)
        reading.nearest_weekday.add(day)
        reading.special(f"{day}W")
        return True
    if word.startswith("L") and "/" in word:
        fail(f"{term!r} is not valid; a step cannot follow L or LW (write L, LW or L-3)")
    if _LAST_WEEKDAY_OF.fullmatch(word) or "#" in word:
        fail(f"{term!r} is day-of-week syntax (5L: the last Friday, MON#2: the second Monday); move it there")
    if "W" in word:
        if not word.startswith("L") and ("-" in word or "/" in word):
            fail(f"{term!r} is not valid; W takes one day (15W), so list them: 1W,15W")
        fail(f"{term!r} is not valid; the weekday nearest a day is written like 15W, the last weekday LW")
    if "L" in word:
        fail(f"{term!r} is not valid; L stands alone (the last day), or as LW or L-3, never inside a range or step")
    return False


def read_weekday_special(reading: Reading, term: str) -> bool:
    """Day-of-week dL and d#k; False for a term that is neither."""
    word, fail = term.upper(), reading.fail
    if "#" in word:
        weekday, _, nth = word.partition("#")
        if "-" in weekday or "/" in weekday or weekday == "*":
            fail(f"{term!r} is not valid; '#' takes one weekday, so list them: {_each_nth(weekday, nth)}")
        value = WEEKDAY.value(weekday, fail) % 7
        if not re.fullmatch(r"[1-5]", nth):
            fail(f"in {term!r} the week of the month must be 1-5")
        reading.nth_weekday.add((value, int(nth)))
        reading.special(f"{DAY_NAMES[value]}#{nth}")
        return True
    if match := _LAST_WEEKDAY_OF.fullmatch(word):
        value = WEEKDAY.value(match["day"], fail) % 7
        reading.last_of_weekday.add(value)
        reading.special(f"{value}L")
        return True
    if word.endswith("L") and word[:-1] in DAY_NAMES:
        fail(f"{term!r} is not valid; the last {word[:-1]} of the month is written {DAY_NAMES.index(word[:-1])}L")
    if word.startswith("L") and word[1:].isdigit():
        fail(f"{term!r} is not valid; the last such weekday of the month is written {word[1:]}L")
    if _DAY_OF_MONTH_FORM.fullmatch(word) and word != "L":
        fail(f"{term!r} is day-of-month syntax (L-3, 15W, LW); in day-of-week the last Friday is 5L")
    if word == "L" or ("L" in word and not word.isalpha()):
        fail(f"{term!r} is not valid; the last given weekday of the month is written like 5L")
    return False


def _each_nth(weekdays: str, nth: str) -> str:
    """MON-FRI#1 spelled out: MON#1,TUE#1,WED#1,THU#1,FRI#1."""
    start, _, end = weekdays.partition("-")
    names = DAY_NAMES
    try:
        low = 0 if start == "*" else (names.index(start) if start in names else int(start) % 7)
        high = 6 if start == "*" else (names.index(end) if end in names else int(end) % 7)
    except ValueError:  # not a plain range of weekdays either
        return f"such as MON#{nth},FRI#{nth}"
    days = range(low, high + 1) if low <= high else [*range(low, 7), *range(0, high + 1)]
    return ",".join(f"{names[day]}#{nth}" for day in days)


def refuse_misplaced(cron_field: CronField, term: str, fail: Fail) -> None:
    """The day fields' special forms in another field: say where they belong."""
    word = term.upper()
    if cron_field is not DAY and _DAY_OF_MONTH_FORM.fullmatch(word):
        if word == "L" and cron_field is not WEEKDAY:
            fail(f"{term!r} is not valid here; L (last) is only for day-of-month (L, LW, L-3) and day-of-week (5L)")
        fail(f"{term!r} is not valid here; it is day-of-month syntax (L, LW, L-3, 15W)")
    if cron_field is not WEEKDAY and _DAY_OF_WEEK_FORM.fullmatch(word):
        fail(f"{term!r} is not valid here; it is day-of-week syntax (5L: the last Friday, MON#2: the second Monday)")
