"""What ``smartcron why`` says a daylight-saving change did to a schedule's slots (pure).

Pacific/Auckland: on 2026-04-05 at 03:00 NZDT (14:00 UTC the day before) clocks go back to 02:00
NZST, so 02:00-02:59 happens twice; on 2026-09-27 at 02:00 NZST (14:00 UTC the day before) they
jump to 03:00 NZDT, so 02:00-02:59 does not exist.
"""

from __future__ import annotations

from smartcron.domain.schedule import parse_schedule
from smartcron.domain.why_dst import dst_notes
from tests.conftest import utc

AUCKLAND = "Pacific/Auckland"


def test_several_skipped_times_of_a_fixed_time_task_are_named_and_run_once_at_the_jump() -> None:
    schedule = parse_schedule("0,30 2 * * *", AUCKLAND)
    [note] = dst_notes(schedule, utc(2026, 9, 26, 12), utc(2026, 9, 26, 16))
    assert (note.instant, note.not_due) == (utc(2026, 9, 26, 14), False)
    assert note.text == (
        "02:00 and 02:30 do not exist on 2026-09-27 in Pacific/Auckland: the clock jumped from 02:00 to 03:00; "
        "as Debian cron does, a fixed-time task runs once right after the jump, at 03:00"
    )
    assert schedule.between(utc(2026, 9, 26, 12), utc(2026, 9, 26, 16), 10) == [utc(2026, 9, 26, 14)]


def test_a_skipped_hour_of_a_task_with_seconds_is_one_range_not_thousands_of_lines() -> None:
    schedule = parse_schedule("*/2 * * * * *", AUCKLAND)
    [note] = dst_notes(schedule, utc(2026, 9, 26, 13, 59), utc(2026, 9, 26, 14, 1))
    assert note.not_due
    assert note.text.startswith(
        "the 1,800 times from 02:00:00 to 02:59:58 do not exist on 2026-09-27 in Pacific/Auckland"
    )


def test_the_second_pass_of_a_fixed_time_slot_in_auckland_is_not_due() -> None:
    schedule = parse_schedule("15 2 * * *", AUCKLAND)
    [note] = dst_notes(schedule, utc(2026, 4, 4, 12), utc(2026, 4, 4, 16))
    # 02:15 NZDT is 13:15 UTC (the slot); 02:15 NZST, an hour later, is not.
    assert (note.instant, note.not_due) == (utc(2026, 4, 4, 14, 15), True)
    assert note.text.endswith("a fixed-time task runs in the first pass only, at 02:15 NZDT")
    assert schedule.between(utc(2026, 4, 4, 12), utc(2026, 4, 4, 16), 10) == [utc(2026, 4, 4, 13, 15)]


def test_a_window_without_a_change_has_no_note() -> None:
    schedule = parse_schedule("15 2 * * *", AUCKLAND)
    assert dst_notes(schedule, utc(2026, 6, 1), utc(2026, 6, 3)) == []
