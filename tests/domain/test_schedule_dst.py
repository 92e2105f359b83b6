"""Daylight saving time follows Debian cron (DESIGN 3.3), pinned on New Zealand's changes.

Pacific/Auckland:
- spring forward: 2026-09-27 at 02:00 NZST (+12:00) clocks jump to 03:00 NZDT (+13:00); local
  02:00-02:59 does not exist that day. The jump is at 2026-09-26T14:00:00Z.
- fall back: 2027-04-04 at 03:00 NZDT (+13:00) clocks go back to 02:00 NZST (+12:00); local
  02:00-02:59 happens twice, first at +13:00, then at +12:00. The change is at 2027-04-03T14:00:00Z.

Fixed-time jobs (neither minute nor hour starts with '*') keep wall-clock time: a skipped time
runs once right after the jump, a repeated time runs once (in the first pass). Jobs with '*' in
the minute or hour field follow real elapsed time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from smartcron.domain.schedule import dst_transitions, parse_schedule
from tests.conftest import utc

NZ = ZoneInfo("Pacific/Auckland")


def nz(year: int, month: int, day: int, hour: int = 0, minute: int = 0, fold: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NZ, fold=fold)


def fires(expr: str, after: datetime, count: int) -> list[str]:
    schedule = parse_schedule(expr, NZ)
    return [slot.astimezone(NZ).isoformat() for slot in schedule.between(after, after + timedelta(days=30), count)]


# --- spring forward, 2026-09-27 ----------------------------------------------------------------


def test_every_thirty_minutes_follows_real_time_across_spring_forward() -> None:
    # 01:30 NZST, then 30 real minutes later it is 03:00 NZDT.
    assert fires("*/30 * * * *", nz(2026, 9, 27, 1, 0), 4) == [
        "2026-09-27T01:30:00+12:00",
        "2026-09-27T03:00:00+13:00",
        "2026-09-27T03:30:00+13:00",
        "2026-09-27T04:00:00+13:00",
    ]


def test_fixed_time_job_at_two_runs_once_right_after_the_jump() -> None:
    # 02:00 does not exist on the 27th: it runs at 03:00 NZDT, then at 02:00 as usual.
    assert fires("0 2 * * *", nz(2026, 9, 26, 12, 0), 3) == [
        "2026-09-27T03:00:00+13:00",
        "2026-09-28T02:00:00+13:00",
        "2026-09-29T02:00:00+13:00",
    ]


def test_fixed_time_job_inside_the_skipped_hour_also_runs_at_the_jump() -> None:
    assert fires("30 2 * * *", nz(2026, 9, 27, 0, 0), 1) == ["2026-09-27T03:00:00+13:00"]


def test_skipped_slot_and_the_slot_at_the_jump_run_once() -> None:
    # 02:00 moves to 03:00, where the 03:00 slot already is: one run.
    assert fires("0 2,3 * * *", nz(2026, 9, 27, 0, 0), 3) == [
        "2026-09-27T03:00:00+13:00",
        "2026-09-28T02:00:00+13:00",
        "2026-09-28T03:00:00+13:00",
    ]


def test_fixed_hour_range_across_spring_forward() -> None:
    assert fires("0 1-4 * * *", nz(2026, 9, 27, 0, 0), 3) == [
        "2026-09-27T01:00:00+12:00",
        "2026-09-27T03:00:00+13:00",
        "2026-09-27T04:00:00+13:00",
    ]


def test_hourly_follows_real_time_across_spring_forward() -> None:
    # '@hourly' is '0 * * * *': an hour after 01:00 NZST is 03:00 NZDT.
    assert fires("@hourly", nz(2026, 9, 27, 0, 30), 3) == [
        "2026-09-27T01:00:00+12:00",
        "2026-09-27T03:00:00+13:00",
        "2026-09-27T04:00:00+13:00",
    ]


def test_six_field_fixed_time_job_also_runs_at_the_jump() -> None:
    assert fires("0 30 2 * * *", nz(2026, 9, 27, 0, 0), 2) == [
        "2026-09-27T03:00:00+13:00",
        "2026-09-28T02:30:00+13:00",
    ]


# --- fall back, 2027-04-04 ---------------------------------------------------------------------


def test_every_thirty_minutes_fires_in_both_passes_of_the_repeated_hour() -> None:
    assert fires("*/30 * * * *", nz(2027, 4, 4, 1, 0), 6) == [
        "2027-04-04T01:30:00+13:00",
        "2027-04-04T02:00:00+13:00",
        "2027-04-04T02:30:00+13:00",
        "2027-04-04T02:00:00+12:00",
        "2027-04-04T02:30:00+12:00",
        "2027-04-04T03:00:00+12:00",
    ]


def test_fixed_time_job_in_the_repeated_hour_runs_once() -> None:
    assert fires("30 2 * * *", nz(2027, 4, 3, 12, 0), 3) == [
        "2027-04-04T02:30:00+13:00",
        "2027-04-05T02:30:00+12:00",
        "2027-04-06T02:30:00+12:00",
    ]


def test_hourly_fires_twice_at_two_oclock_when_clocks_go_back() -> None:
    assert fires("@hourly", nz(2027, 4, 4, 0, 30), 4) == [
        "2027-04-04T01:00:00+13:00",
        "2027-04-04T02:00:00+13:00",
        "2027-04-04T02:00:00+12:00",
        "2027-04-04T03:00:00+12:00",
    ]


def test_fixed_hour_range_across_fall_back_runs_two_oclock_once() -> None:
    assert fires("0 1-4 * * *", nz(2027, 4, 4, 0, 0), 4) == [
        "2027-04-04T01:00:00+13:00",
        "2027-04-04T02:00:00+13:00",
        "2027-04-04T03:00:00+12:00",
        "2027-04-04T04:00:00+12:00",
    ]


def test_star_in_the_minute_field_alone_follows_real_time_in_both_passes() -> None:
    # Debian cron: a job is "wildcard" when its minute or its hour field starts with '*'.
    assert fires("*/30 2 * * *", nz(2027, 4, 4, 0, 0), 5) == [
        "2027-04-04T02:00:00+13:00",
        "2027-04-04T02:30:00+13:00",
        "2027-04-04T02:00:00+12:00",
        "2027-04-04T02:30:00+12:00",
        "2027-04-05T02:00:00+12:00",
    ]


def test_hour_step_that_does_not_start_with_a_star_is_fixed_time_as_in_debian_cron() -> None:
    assert fires("0 2-22/4 * * *", nz(2027, 4, 4, 0, 0), 2) == [
        "2027-04-04T02:00:00+13:00",
        "2027-04-04T06:00:00+12:00",
    ]


def test_six_field_fixed_time_job_runs_once_in_the_repeated_hour() -> None:
    # cronsim alone would fire this one twice; smartcron applies the Debian rule to 6 fields too.
    assert fires("0 30 2 * * *", nz(2027, 4, 3, 12, 0), 2) == [
        "2027-04-04T02:30:00+13:00",
        "2027-04-05T02:30:00+12:00",
    ]


def test_start_in_the_second_pass_never_returns_an_earlier_slot() -> None:
    # 02:10 NZST is after 02:30 NZDT in real time: the day's 02:30 run is already past.
    second_pass = nz(2027, 4, 4, 2, 10, fold=1)
    assert fires("30 2 * * *", second_pass, 1) == ["2027-04-05T02:30:00+12:00"]


def test_latest_slot_seen_from_the_second_pass_is_the_first_pass_run() -> None:
    schedule = parse_schedule("30 2 * * *", NZ)
    latest = schedule.latest_at_or_before(nz(2027, 4, 4, 2, 10, fold=1), not_before=utc(2027, 1, 1))
    assert latest is not None
    assert latest.astimezone(NZ).isoformat() == "2027-04-04T02:30:00+13:00"


@pytest.mark.parametrize(
    "expr", ["*/30 * * * *", "30 2 * * *", "0 1-4 * * *", "@hourly", "0 30 2 * * *", "*/20 * * * * *"]
)
@pytest.mark.parametrize("day", [(2026, 9, 26), (2027, 4, 3)])
def test_latest_at_or_before_agrees_with_walking_forward_across_the_change(
    expr: str, day: tuple[int, int, int]
) -> None:
    schedule = parse_schedule(expr, NZ)
    start = utc(*day, 12)
    slots = schedule.between(start, start + timedelta(hours=5), 10_000)
    for earlier, later in pairwise(slots):
        assert schedule.latest_at_or_before(later - timedelta(microseconds=1), not_before=start) == earlier
        assert schedule.latest_at_or_before(later, not_before=start) == later


# --- transitions -------------------------------------------------------------------------------


def test_dst_transitions_lists_both_changes_with_their_offsets() -> None:
    changes = dst_transitions(NZ, utc(2026, 6, 1), utc(2027, 6, 1))
    assert [(at.isoformat(), before, after) for at, before, after in changes] == [
        ("2026-09-26T14:00:00+00:00", timedelta(hours=12), timedelta(hours=13)),
        ("2027-04-03T14:00:00+00:00", timedelta(hours=13), timedelta(hours=12)),
    ]


def test_dst_transitions_includes_a_change_at_either_end() -> None:
    jump = utc(2026, 9, 26, 14)
    assert [at for at, _, _ in dst_transitions(NZ, jump, jump + timedelta(hours=1))] == [jump]
    assert [at for at, _, _ in dst_transitions(NZ, jump - timedelta(hours=1), jump)] == [jump]
    assert dst_transitions(NZ, jump + timedelta(seconds=1), jump + timedelta(days=30)) == []


def test_zone_without_dst_has_no_transitions() -> None:
    assert dst_transitions(ZoneInfo("UTC"), utc(2026, 1, 1), utc(2027, 1, 1)) == []
