"""Property tests for schedules: for any valid expression, zone and start, slots are strictly
increasing and every query agrees with iterating; around DST changes the slots match a
brute-force minute-by-minute reading of Debian cron's rules; garbage only ever raises
ScheduleError."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cronsim import CronSim
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from smartcron.domain.describe import describe
from smartcron.domain.schedule import Schedule, parse_schedule
from smartcron.errors import ScheduleError

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ZONES = [
    "UTC",
    "Pacific/Auckland",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "America/Santiago",  # changes at midnight
    "Asia/Kolkata",
]
MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


def field(
    low: int, high: int, names: list[str] | None = None, extra: list[str] | None = None
) -> st.SearchStrategy[str]:
    value = st.integers(low, high).map(str)
    if names:
        value = value | st.sampled_from(names)
    span = st.tuples(st.integers(low, high), st.integers(low, high)).map(lambda p: f"{min(p)}-{max(p)}")
    step = st.integers(1, high - low + 1)
    term = st.one_of(
        st.just("*"),
        value,
        span,
        step.map(lambda k: f"*/{k}"),
        st.tuples(span, step).map(lambda p: f"{p[0]}/{p[1]}"),
        st.sampled_from(extra or ["*"]),
    )
    return st.lists(term, min_size=1, max_size=3).map(",".join)


@st.composite
def expressions(draw: st.DrawFn, with_days: bool = True) -> str:
    parts = [draw(field(0, 59)), draw(field(0, 23))]
    if with_days:
        parts += [
            draw(field(1, 31, extra=["L", "LW", "*"])),
            draw(field(1, 12, MONTHS)),
            draw(field(0, 7, DAYS, extra=["5L", "MON#2", "*"])),
        ]
    else:
        parts += ["*", "*", "*"]
    if draw(st.booleans()):
        parts.insert(0, draw(field(0, 59)))
    return " ".join(parts)


starts = st.datetimes(datetime(2000, 1, 1), datetime(2060, 1, 1), timezones=st.just(UTC))


def valid(expr: str, zone: str) -> Schedule:
    try:
        return parse_schedule(expr, zone)
    except ScheduleError:
        assume(False)
        raise


@SETTINGS
@given(expressions(), st.sampled_from(ZONES), starts)
def test_slots_are_strictly_increasing_and_queries_agree_with_iterating(expr: str, zone: str, start: datetime) -> None:
    schedule = valid(expr, zone)
    slots: list[datetime] = []
    for slot in schedule.iter_after(start):
        slots.append(slot)
        if len(slots) == 12:
            break
    assert slots, "a valid schedule always fires"
    assert all(slot.tzinfo is UTC for slot in slots)
    assert all(a < b for a, b in zip([start, *slots], slots, strict=False))
    assert schedule.next_after(start) == slots[0]
    assert schedule.between(start, slots[-1], 100) == slots
    assert schedule.between(start, slots[-1], 3) == slots[:3]
    for index, slot in enumerate(slots):
        assert schedule.latest_at_or_before(slot, not_before=start) == slot
        before = schedule.latest_at_or_before(slot - timedelta(microseconds=1), not_before=start)
        assert before == (slots[index - 1] if index else None)


# Changes pinned for the reference: (zone, instant of the change in UTC).
CHANGES = [
    ("Pacific/Auckland", datetime(2026, 9, 26, 14, tzinfo=UTC)),  # 02:00 NZST -> 03:00 NZDT
    ("Pacific/Auckland", datetime(2027, 4, 3, 14, tzinfo=UTC)),  # 03:00 NZDT -> 02:00 NZST
    ("America/New_York", datetime(2026, 3, 8, 7, tzinfo=UTC)),  # 02:00 EST -> 03:00 EDT
    ("America/New_York", datetime(2026, 11, 1, 6, tzinfo=UTC)),  # 02:00 EDT -> 01:00 EST
    ("Australia/Lord_Howe", datetime(2026, 10, 3, 15, 30, tzinfo=UTC)),  # 02:00 -> 02:30 (+10:30 -> +11)
    ("Australia/Lord_Howe", datetime(2027, 4, 3, 15, tzinfo=UTC)),  # 02:00 -> 01:30 (+11 -> +10:30)
    ("America/Santiago", datetime(2026, 9, 6, 4, tzinfo=UTC)),  # 00:00 -> 01:00 (-04 -> -03)
    ("America/Santiago", datetime(2026, 4, 5, 3, tzinfo=UTC)),  # 00:00 -> 23:00 the day before
]


def reference_slots(expr: str, zone: ZoneInfo, jump: datetime, start: datetime, end: datetime) -> list[datetime]:
    """Debian cron's rules read literally, one minute at a time."""
    sim = CronSim(expr, datetime(2000, 1, 1))
    parts = expr.split()

    def matches(wall: datetime) -> bool:
        return wall.minute in sim.minutes and wall.hour in sim.hours

    found: set[datetime] = set()
    if parts[0].startswith("*") or parts[1].startswith("*"):  # follows real time
        moment = start.replace(second=0, microsecond=0)
        while moment <= end:
            if matches(moment.astimezone(zone)):
                found.add(moment)
            moment += timedelta(minutes=1)
    else:  # fixed time: each wall-clock minute once, a skipped one at the jump
        wall = start.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0) - timedelta(hours=3)
        last = end.astimezone(zone).replace(tzinfo=None) + timedelta(hours=3)
        while wall <= last:
            if matches(wall):
                first_pass = wall.replace(tzinfo=zone).astimezone(UTC)
                exists = first_pass.astimezone(zone).replace(tzinfo=None) == wall
                found.add(first_pass if exists else jump)
            wall += timedelta(minutes=1)
    return sorted(slot for slot in found if start < slot <= end)


@SETTINGS
@given(expressions(with_days=False).filter(lambda e: len(e.split()) == 5), st.sampled_from(CHANGES), st.data())
def test_slots_around_a_dst_change_match_debian_cron_minute_by_minute(
    expr: str, change: tuple[str, datetime], data: st.DataObject
) -> None:
    zone_name, jump = change
    zone = ZoneInfo(zone_name)
    offset = data.draw(st.integers(-300, 60), label="start minutes from the change")
    start = jump + timedelta(minutes=offset)
    end = start + timedelta(hours=5)
    schedule = valid(expr, zone_name)
    assert schedule.between(start, end, 10_000) == reference_slots(expr, zone, jump, start, end)


cron_garbage = st.text(alphabet="0123456789*/,-#@LWlw ?\tMONJANFRIrebotyH()\x00\n", max_size=40)


@SETTINGS
@given(st.one_of(st.text(max_size=60), cron_garbage), st.sampled_from([*ZONES, "Mars/Base", ""]))
def test_any_text_is_a_schedule_or_one_schedule_error_line(expr: str, zone: str) -> None:
    try:
        schedule = parse_schedule(expr, zone, hash_key="task")
    except ScheduleError as exc:
        assert exc.message and "\n" not in exc.message
        return
    assert schedule.next_after(datetime(2026, 1, 1, tzinfo=UTC)) > datetime(2026, 1, 1, tzinfo=UTC)


@SETTINGS
@given(st.one_of(expressions(), cron_garbage))
def test_describe_gives_one_line_of_words_or_a_schedule_error(expr: str) -> None:
    try:
        words = describe(expr)
    except ScheduleError:
        return
    assert words and "\n" not in words
