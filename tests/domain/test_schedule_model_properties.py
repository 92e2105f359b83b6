"""Random expressions of every accepted form, compared slot by slot with the brute-force model of
Debian cron (tests/domain/debian_cron_model.py) across the DST changes of 2026 in four zones:
Pacific/Auckland (the southern hemisphere), Europe/Berlin, America/New_York, and
America/Santiago (whose clocks change at midnight, so whole days start twice or not at all)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from smartcron.domain.cron_syntax import parse_expression
from smartcron.domain.schedule import Schedule, parse_schedule
from smartcron.errors import ScheduleError
from tests.domain.debian_cron_model import DebianCron

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ZONES = ["Pacific/Auckland", "Europe/Berlin", "America/New_York", "America/Santiago"]
MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


@cache
def changes_in_2026(zone_name: str) -> list[datetime]:
    """Each instant of 2026 at which the zone's UTC offset changes, found hour by hour."""
    zone = ZoneInfo(zone_name)
    found = []
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    while moment.year == 2026:
        later = moment + timedelta(hours=1)
        if moment.astimezone(zone).utcoffset() != later.astimezone(zone).utcoffset():
            found.append(later)
        moment = later
    return found


def terms(low: int, high: int, names: list[str] | None = None) -> st.SearchStrategy[str]:
    value = st.integers(low, high).map(str)
    if names:
        value = value | st.sampled_from(names)
    pair = st.tuples(st.integers(low, high), st.integers(low, high)).map(sorted)
    step = st.integers(1, high - low + 2)
    return st.one_of(
        st.just("*"),
        value,
        pair.map(lambda p: f"{p[0]}-{p[1]}"),
        step.map(lambda k: f"*/{k}"),
        st.tuples(pair, step).map(lambda p: f"{p[0][0]}-{p[0][1]}/{p[1]}"),
        # a one-value range with a step, and a step without a range (read as to the field's end)
        st.tuples(st.integers(low, high), step).map(lambda p: f"{p[0]}-{p[0]}/{p[1]}"),
        st.tuples(st.integers(low, high), step).map(lambda p: f"{p[0]}/{p[1]}"),
    )


def field(strategy: st.SearchStrategy[str], extra: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[str]:
    term = strategy if extra is None else strategy | extra
    return st.lists(term, min_size=1, max_size=3).map(",".join)


day_forms = st.one_of(
    st.just("L"),
    st.just("LW"),
    st.integers(1, 27).map(lambda n: f"L-{n}"),
    st.integers(1, 31).map(lambda n: f"{n}W"),
)
weekday_forms = st.one_of(
    st.integers(0, 7).map(lambda n: f"{n}L"),
    st.tuples(st.sampled_from([*DAYS, "0", "3", "7"]), st.integers(1, 5)).map(lambda p: f"{p[0]}#{p[1]}"),
)


@st.composite
def expressions(draw: st.DrawFn) -> str:
    minute = draw(field(terms(0, 59)))
    hour = draw(field(terms(0, 23)))
    day = draw(st.just("?") | field(terms(1, 31), day_forms))
    month = draw(field(terms(1, 12, MONTHS)))
    weekday = draw(st.just("?") | field(terms(0, 7, DAYS), weekday_forms))
    parts = [minute, hour, day, month, weekday]
    if draw(st.integers(0, 4)) == 0:  # seconds: a few per minute, so four days stay a few thousand slots
        parts.insert(0, draw(st.sampled_from(["0", "30", "0,30", "15,45", "*/20", "7", "50-59/5", "1/30"])))
    return " ".join(parts)


def valid(expr: str, zone: str) -> Schedule:
    try:
        return parse_schedule(expr, zone)
    except ScheduleError:
        assume(False)
        raise


def _slots(schedule: Schedule, start: datetime, end: datetime) -> list[datetime]:
    return schedule.between(start, end, 100_000)


@SETTINGS
@given(expressions(), st.sampled_from(ZONES), st.data())
def test_random_expression_fires_as_debian_cron_across_a_dst_change(
    expr: str, zone_name: str, data: st.DataObject
) -> None:
    schedule = valid(expr, zone_name)
    change = data.draw(st.sampled_from(changes_in_2026(zone_name)), label="DST change")
    start = change + timedelta(minutes=data.draw(st.integers(-3 * 1440, 600), label="start minutes from it"))
    end = start + timedelta(days=4)
    expected = DebianCron(expr).slots(ZoneInfo(zone_name), start, end)
    assert _slots(schedule, start, end) == expected


# Rare days (15W, 5L, MON#3, February 29) need months: a few times of day keep that quick.
@st.composite
def day_form_expressions(draw: st.DrawFn) -> str:
    minute = draw(st.sampled_from(["0", "30", "*/20", "59", "*"]))
    hour = draw(st.sampled_from(["0", "2", "3", "1-3", "23", "*/12", "*"]))
    assume(not (minute == "*" and hour == "*"))
    special_day = st.tuples(day_forms, st.just("") | field(terms(1, 31), day_forms)).map(_joined)
    special_weekday = st.tuples(weekday_forms, st.just("") | field(terms(0, 7, DAYS), weekday_forms)).map(_joined)
    if draw(st.booleans()):
        day, weekday = draw(special_day), draw(st.sampled_from(["?", "*", "MON-FRI", "0"]))
    else:
        day, weekday = draw(st.sampled_from(["?", "*", "1-7", "*/10", "15"])), draw(special_weekday)
    month = draw(st.sampled_from(["*", "2", "3,4", "9-11", "*/2"]))
    return f"{minute} {hour} {day} {month} {weekday}"


def _joined(pair: tuple[str, str]) -> str:
    return ",".join(part for part in pair if part)


@SETTINGS
@given(day_form_expressions(), st.sampled_from(ZONES), st.data())
def test_day_forms_fire_as_the_model_says_over_months(expr: str, zone_name: str, data: st.DataObject) -> None:
    schedule = valid(expr, zone_name)
    change = data.draw(st.sampled_from(changes_in_2026(zone_name)), label="DST change")
    start = change - timedelta(days=data.draw(st.integers(0, 60), label="days before it"))
    end = start + timedelta(days=100)
    assert _slots(schedule, start, end) == DebianCron(expr).slots(ZoneInfo(zone_name), start, end)


hash_terms = st.one_of(
    st.just("H"),
    st.integers(2, 30).map(lambda k: f"H/{k}"),
    st.tuples(st.integers(0, 29), st.integers(30, 59)).map(lambda p: f"H({p[0]}-{p[1]})"),
    st.tuples(st.integers(0, 29), st.integers(30, 59), st.integers(2, 20)).map(lambda p: f"H({p[0]}-{p[1]})/{p[2]}"),
)


@SETTINGS
@given(hash_terms, st.sampled_from(["H", "H(0-5)", "H/6", "*", "3"]), st.text("abcdefgh_0123", min_size=1), st.data())
def test_hashed_values_stay_in_their_window_and_fire_as_the_values_they_picked(
    minute: str, hour: str, task: str, data: st.DataObject
) -> None:
    expr = f"{minute} {hour} * * *"
    zone_name = data.draw(st.sampled_from(ZONES), label="zone")
    expression = parse_expression(expr, task)
    minutes = [int(value) for value in expression.fields[1].split(",")]
    low, high = 0, 59
    if "(" in minute:
        low, high = (int(bound) for bound in minute[2 : minute.index(")")].split("-"))
    assert all(low <= value <= high for value in minutes)
    if "/" in minute:
        step = int(minute.rsplit("/", 1)[1])
        assert minutes[0] < low + step
        assert all(later - earlier == step for earlier, later in pairwise(minutes))
        assert minutes[-1] + step > high
    else:
        assert len(minutes) == 1
    assert parse_expression(expr, task) == expression  # the same name picks the same values
    resolved = " ".join(expression.fields[1:])
    change = data.draw(st.sampled_from(changes_in_2026(zone_name)), label="DST change")
    start, end = change - timedelta(days=1), change + timedelta(days=1)
    schedule = parse_schedule(expr, zone_name, hash_key=task)
    assert _slots(schedule, start, end) == DebianCron(resolved).slots(ZoneInfo(zone_name), start, end)
