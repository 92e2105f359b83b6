"""Cron expressions in plain English."""

from __future__ import annotations

import pytest

from smartcron.domain.schedule import describe
from smartcron.errors import ScheduleError


@pytest.mark.parametrize(
    ("expr", "words"),
    [
        ("* * * * *", "every minute"),
        ("*/30 * * * *", "every 30 minutes"),
        ("0 * * * *", "every hour, on the hour"),
        ("@hourly", "every hour, on the hour"),
        ("15 * * * *", "at 15 minutes past every hour"),
        ("1 * * * *", "at 1 minute past every hour"),
        ("0 8-18 * * *", "at 08:00-18:00 on the hour"),
        ("15 8-18 * * *", "at 15 minutes past every hour from 08:15 to 18:15"),
        ("0 */4 * * *", "every 4 hours, on the hour"),
        ("30 */2 * * *", "every 2 hours, at 30 minutes past"),
        ("0 1-23/4 * * *", "every 4 hours from 01:00 to 21:00"),
        ("0 6 * * 1", "at 06:00 on Monday"),
        ("0 6 * * mon", "at 06:00 on Monday"),
        ("0 9 * * 1-5", "at 09:00 on Monday through Friday"),
        ("0 9 * * 1,3,5", "at 09:00 on Monday, Wednesday and Friday"),
        ("0 0 * * 7", "at 00:00 on Sunday"),
        ("0 0 * * *", "at 00:00 every day"),
        ("@daily", "at 00:00 every day"),
        ("0 0,12 * * *", "at 00:00 and 12:00 every day"),
        ("30 2 * * *", "at 02:30 every day"),
        ("0 0 1 * *", "at 00:00 on day 1 of every month"),
        ("0 0 1,15 * *", "at 00:00 on days 1 and 15 of every month"),
        ("0 0 L * *", "at 00:00 on the last day of every month"),
        ("@yearly", "at 00:00 on 1 January"),
        ("0 0 29 2 *", "at 00:00 on 29 February"),
        ("0 8-18 * * 1-5", "at 08:00-18:00 on the hour on Monday through Friday"),
        ("*/10 * * * * *", "every 10 seconds"),
        ("* * * * * *", "every second"),
        ("15 30 9 * * *", "at 09:30:15 every day"),
        ("0 30 9 * * *", "at 09:30 every day"),
    ],
)
def test_usual_shapes_read_as_short_phrases(expr: str, words: str) -> None:
    assert describe(expr) == words


@pytest.mark.parametrize(
    ("expr", "words"),
    [
        ("0 0 * * 5L", "at 00:00 on the last Friday of the month"),
        ("0 0 * * MON#2", "at 00:00 on the second Monday of the month"),
        ("0 0 LW * *", "at 00:00 on the last weekday of every month"),
        ("5,35 * * * *", "at minutes 5 and 35 of every hour"),
    ],
)
def test_other_shapes_are_worded_by_cronsim_in_lower_case(expr: str, words: str) -> None:
    assert describe(expr) == words


def test_describing_an_invalid_expression_raises_the_schedule_error() -> None:
    with pytest.raises(ScheduleError, match="minute field: 60 is out of range 0-59"):
        describe("60 * * * *")
