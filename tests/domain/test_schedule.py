"""Cron expressions: what is accepted, what is rejected and why, and how slots are found."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cronsim import CronSim

from smartcron.domain import schedule as schedule_module
from smartcron.domain.schedule import Schedule, parse_schedule
from smartcron.errors import ScheduleError, UserError
from tests.conftest import utc


def next_times(expr: str, after: datetime, count: int = 4, zone: str = "UTC") -> list[str]:
    times = parse_schedule(expr, zone).between(after, after + timedelta(days=3000), count)
    return [moment.astimezone(ZoneInfo(zone)).isoformat() for moment in times]


# --- accepted syntax -------------------------------------------------------------------------


def test_five_fields_with_a_step_fire_every_thirty_minutes() -> None:
    assert next_times("*/30 * * * *", utc(2026, 1, 1, 10, 10)) == [
        "2026-01-01T10:30:00+00:00",
        "2026-01-01T11:00:00+00:00",
        "2026-01-01T11:30:00+00:00",
        "2026-01-01T12:00:00+00:00",
    ]


def test_six_fields_put_seconds_first() -> None:
    schedule = parse_schedule("*/20 * * * * *", "UTC")
    assert schedule.has_seconds
    assert next_times("*/20 * * * * *", utc(2026, 1, 1, 0, 0, 5), 3) == [
        "2026-01-01T00:00:20+00:00",
        "2026-01-01T00:00:40+00:00",
        "2026-01-01T00:01:00+00:00",
    ]


def test_five_field_expression_has_no_seconds() -> None:
    assert not parse_schedule("0 * * * *", "UTC").has_seconds


def test_month_and_day_names_in_any_case_with_ranges_and_lists() -> None:
    # 2026-01-01 is a Thursday; MON-WED of January and July only.
    assert next_times("0 9 * jan,JUL Mon-wed", utc(2026, 1, 1), 4) == [
        "2026-01-05T09:00:00+00:00",
        "2026-01-06T09:00:00+00:00",
        "2026-01-07T09:00:00+00:00",
        "2026-01-12T09:00:00+00:00",
    ]


def test_range_with_step_offsets_the_hours() -> None:
    assert next_times("0 1-23/4 * * *", utc(2026, 1, 1), 7) == [
        f"2026-01-01T{hour:02d}:00:00+00:00" for hour in (1, 5, 9, 13, 17, 21)
    ] + ["2026-01-02T01:00:00+00:00"]


def test_zero_and_seven_both_mean_sunday() -> None:
    start = utc(2026, 1, 1)
    assert next_times("0 0 * * 0", start) == next_times("0 0 * * 7", start) == next_times("0 0 * * SUN", start)
    assert next_times("0 0 * * 7", start, 1) == ["2026-01-04T00:00:00+00:00"]


def test_day_of_month_or_day_of_week_when_both_are_restricted() -> None:
    # The 13th, or any Friday: Fri 2 Jan, Fri 9 Jan, Tue 13 Jan, Fri 16 Jan.
    assert next_times("0 0 13 * 5", utc(2026, 1, 1), 4) == [
        "2026-01-02T00:00:00+00:00",
        "2026-01-09T00:00:00+00:00",
        "2026-01-13T00:00:00+00:00",
        "2026-01-16T00:00:00+00:00",
    ]


def test_day_of_month_and_day_of_week_when_one_starts_with_a_star() -> None:
    # Debian cron: a '*'-led day field makes the two an AND: odd days that are Fridays.
    assert next_times("0 0 */2 * 5", utc(2026, 1, 1), 3) == [
        "2026-01-09T00:00:00+00:00",
        "2026-01-23T00:00:00+00:00",
        "2026-02-13T00:00:00+00:00",
    ]


def test_l_means_the_last_day_of_the_month() -> None:
    assert next_times("0 0 L * *", utc(2026, 1, 15), 3) == [
        "2026-01-31T00:00:00+00:00",
        "2026-02-28T00:00:00+00:00",
        "2026-03-31T00:00:00+00:00",
    ]


def test_weekday_extensions_last_friday_second_monday_and_last_weekday() -> None:
    assert next_times("0 0 * * 5L", utc(2026, 1, 1), 1) == ["2026-01-30T00:00:00+00:00"]
    assert next_times("0 0 * * MON#2", utc(2026, 1, 1), 1) == ["2026-01-12T00:00:00+00:00"]
    # 31 January 2026 is a Saturday: the last weekday is Friday the 30th.
    assert next_times("0 0 LW * *", utc(2026, 1, 1), 1) == ["2026-01-30T00:00:00+00:00"]


def test_leap_day_is_accepted_and_fires_every_four_years() -> None:
    assert next_times("0 0 29 2 *", utc(2026, 1, 1), 2) == ["2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00"]


@pytest.mark.parametrize(
    ("nickname", "equivalent"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
        ("@Daily", "0 0 * * *"),
    ],
)
def test_nicknames_mean_their_cron_expressions(nickname: str, equivalent: str) -> None:
    start = utc(2026, 3, 15, 12, 30)
    assert next_times(nickname, start, 3) == next_times(equivalent, start, 3)
    assert parse_schedule(nickname, "UTC").expr == nickname


def test_expression_is_kept_as_given_after_stripping() -> None:
    schedule = parse_schedule("  */5 * * * mon  ", "Pacific/Auckland")
    assert schedule.expr == "*/5 * * * mon"
    assert schedule.timezone == ZoneInfo("Pacific/Auckland")


def test_parsing_the_same_expression_twice_gives_the_cached_schedule() -> None:
    assert parse_schedule("7 * * * *", "UTC") is parse_schedule("7 * * * *", "UTC")


# --- rejected input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("60 * * * *", "minute field: 60 is out of range 0-59"),
        ("* * *", "expected 5 fields (or 6 with seconds first), got 3"),
        ("0 0 * * * * *", "expected 5 fields (or 6 with seconds first), got 7"),
        ("*/0 * * * *", "minute field: step 0 is not allowed"),
        ("0 0 30 2 *", "never fires: day 30 does not exist in February"),
        ("0 0 31 4,6,9,11 *", "never fires: day 31 does not exist in April, June, September or November"),
        ("0 0 * * 8", "day-of-week field: 8 is out of range 0-7"),
        ("0 24 * * *", "hour field: 24 is out of range 0-23"),
        ("0 0 0 * *", "day-of-month field: 0 is out of range 1-31"),
        ("0 0 1 13 *", "month field: 13 is out of range 1-12"),
        ("60 0 0 * * *", "second field: 60 is out of range 0-59"),
        ("5-1 * * * *", "minute field: range 5-1 goes backwards"),
        ("0 0 1 foo *", "month field: 'foo' is not a number or a month name (JAN-DEC)"),
        ("0 0 * * FUN", "day-of-week field: 'FUN' is not a number or a day name (SUN-SAT)"),
        ("1,,2 * * * *", "minute field: empty item in the list '1,,2'"),
        ("*/x * * * *", "minute field: step 'x' is not a number"),
        ("0 0 * * FRIL", "day-of-week field: 'FRIL' is not valid"),
        ("0 0 * * MON#6", "day-of-week field: in 'MON#6' the week of the month must be 1-5"),
        ("0 0 15X * *", "day-of-month field: '15X' is not a number"),
        ("0 0 * [ *", "contains the character '[', which cron does not use"),
        ("", "is empty"),
        ("   \t ", "is empty"),
        ("0 0 * * *\x00", "contains the character '\\x00'"),
        ("0\n0 * * *", "contains the character '\\n'"),
        ("\uff10 0 * * *", "contains the character '\uff10'"),
        ("1," * 200 + "1 * * * *", "is too long (409 characters, at most 255)"),
        ("@reboot", "@reboot is not supported: smartcron has no boot trigger"),
        ("@every 5m", "'@every 5m' is not cron syntax"),
        ("@fortnightly", "unknown nickname '@fortnightly'"),
        ("@daily 5", "@daily stands alone"),
        ("0 0 */40 * MON#2", "never fires: no date matches its day-of-month, month and day-of-week"),
        ("0 0 * 2 MON#5", "fires too rarely: it can go more than 5 years without firing"),
    ],
)
def test_invalid_expression_is_rejected_with_one_line_naming_the_problem(expr: str, message: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(expr, "UTC")
    assert message in caught.value.message
    assert "\n" not in caught.value.message
    assert isinstance(caught.value, UserError)


@pytest.mark.parametrize("zone", ["Mars/Base", "localtime", "../etc/passwd", "", "Pacific"])
def test_unknown_time_zone_is_rejected(zone: str) -> None:
    with pytest.raises(ScheduleError, match="unknown time zone"):
        parse_schedule("* * * * *", zone)


def test_naive_datetime_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_schedule("* * * * *", "UTC").next_after(datetime(2026, 1, 1))


# --- evaluation ------------------------------------------------------------------------------


def test_next_after_is_strictly_after_a_slot() -> None:
    schedule = parse_schedule("0 * * * *", "UTC")
    assert schedule.next_after(utc(2026, 1, 1, 10)) == utc(2026, 1, 1, 11)
    assert schedule.next_after(utc(2026, 1, 1, 10) - timedelta(microseconds=1)) == utc(2026, 1, 1, 10)


def test_every_second_schedule_skips_the_second_of_a_start_with_microseconds() -> None:
    schedule = parse_schedule("* * * * * *", "UTC")
    assert schedule.next_after(utc(2026, 1, 1) + timedelta(microseconds=500)) == utc(2026, 1, 1, 0, 0, 1)


def test_results_are_utc_whatever_the_zone_of_the_input() -> None:
    schedule = parse_schedule("0 9 * * *", "Pacific/Auckland")
    after = datetime(2026, 1, 1, tzinfo=ZoneInfo("America/New_York"))
    slot = schedule.next_after(after)
    assert slot.tzinfo is UTC
    assert slot.isoformat() == "2026-01-01T20:00:00+00:00"  # 09:00 NZDT on 2 January


def test_between_excludes_after_includes_until_and_stops_at_the_limit() -> None:
    schedule = parse_schedule("*/15 * * * *", "UTC")
    assert schedule.between(utc(2026, 1, 1, 0, 0), utc(2026, 1, 1, 1, 0), 10) == [
        utc(2026, 1, 1, 0, 15),
        utc(2026, 1, 1, 0, 30),
        utc(2026, 1, 1, 0, 45),
        utc(2026, 1, 1, 1, 0),
    ]
    assert schedule.between(utc(2026, 1, 1), utc(2026, 1, 2), 2) == [utc(2026, 1, 1, 0, 15), utc(2026, 1, 1, 0, 30)]
    assert schedule.between(utc(2026, 1, 1), utc(2026, 1, 2), 0) == []
    assert schedule.between(utc(2026, 1, 2), utc(2026, 1, 1), 5) == []


def test_latest_at_or_before_includes_when_and_excludes_not_before() -> None:
    schedule = parse_schedule("0 * * * *", "UTC")
    assert schedule.latest_at_or_before(utc(2026, 1, 1, 10), utc(2026, 1, 1)) == utc(2026, 1, 1, 10)
    assert schedule.latest_at_or_before(utc(2026, 1, 1, 10, 59), utc(2026, 1, 1)) == utc(2026, 1, 1, 10)
    assert schedule.latest_at_or_before(utc(2026, 1, 1, 10, 59), utc(2026, 1, 1, 10)) is None
    assert schedule.latest_at_or_before(utc(2026, 1, 1, 10), utc(2026, 1, 1, 10)) is None


def test_latest_at_or_before_with_microseconds_in_when() -> None:
    schedule = parse_schedule("* * * * * *", "UTC")
    when = utc(2026, 1, 1, 0, 0, 7) + timedelta(microseconds=999_999)
    assert schedule.latest_at_or_before(when, utc(2026, 1, 1)) == utc(2026, 1, 1, 0, 0, 7)


class _CountingCronSim(CronSim):
    steps = 0

    def __next__(self) -> datetime:
        _CountingCronSim.steps += 1
        return super().__next__()


def test_latest_slot_of_an_every_second_schedule_months_back_takes_a_few_steps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(schedule_module, "CronSim", _CountingCronSim)
    _CountingCronSim.steps = 0
    schedule = Schedule("* * * * * *", ZoneInfo("Pacific/Auckland"), True, "* * * * * *", False)
    when = utc(2026, 9, 1, 12, 0, 0) + timedelta(milliseconds=300)
    assert schedule.latest_at_or_before(when, not_before=utc(2026, 3, 1)) == utc(2026, 9, 1, 12, 0, 0)
    assert _CountingCronSim.steps <= 4


def test_next_after_at_the_end_of_the_calendar_says_so() -> None:
    with pytest.raises(ScheduleError, match="no fire time"):
        parse_schedule("0 0 1 1 *", "UTC").next_after(datetime(9999, 6, 1, tzinfo=UTC))
