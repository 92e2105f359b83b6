"""smartcron's schedules against Debian cron: the cases of five other cron libraries' suites
(tests/domain/peer_cases.py) and the model (tests/domain/debian_cron_model.py), in UTC and in
four zones with daylight saving time."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from smartcron.domain.schedule import parse_schedule
from smartcron.errors import ScheduleError
from tests.domain.debian_cron_model import DebianCron
from tests.domain.peer_cases import ALL_CASES, REFUSED

DST_ZONES = ["Pacific/Auckland", "Europe/Berlin", "America/New_York", "America/Santiago"]


def _moment(text: str, zone: ZoneInfo) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


def _next(expr: str, zone: ZoneInfo, start: datetime, count: int) -> list[datetime]:
    schedule = parse_schedule(expr, zone)
    found = []
    for slot in schedule.iter_after(start):
        found.append(slot)
        if len(found) == count:
            break
    return found


def _shown(slots: list[datetime], zone: ZoneInfo) -> list[str]:
    return [slot.astimezone(zone).replace(tzinfo=None).isoformat(sep=" ", timespec="seconds") for slot in slots]


@pytest.mark.parametrize(("expr", "start", "expected"), ALL_CASES, ids=[f"{c[0]}@{c[1]}" for c in ALL_CASES])
def test_peer_case_fires_when_debian_cron_would(expr: str, start: str, expected: list[str] | None) -> None:
    count = len(expected) if expected else 3
    begin = _moment(start, UTC)
    slots = _next(expr, ZoneInfo("UTC"), begin, count)
    if expected is not None:
        assert _shown(slots, ZoneInfo("UTC")) == [datetime.fromisoformat(t).isoformat(sep=" ") for t in expected]
    assert slots == DebianCron(expr).slots(ZoneInfo("UTC"), begin, slots[-1])


@pytest.mark.parametrize("zone_name", DST_ZONES)
@pytest.mark.parametrize(("expr", "start", "expected"), ALL_CASES, ids=[f"{c[0]}@{c[1]}" for c in ALL_CASES])
def test_peer_case_agrees_with_the_model_in_zones_with_dst(
    expr: str, start: str, expected: list[str] | None, zone_name: str
) -> None:
    zone = ZoneInfo(zone_name)
    begin = _moment(start, zone)
    slots = _next(expr, zone, begin, 3)
    assert slots == DebianCron(expr).slots(zone, begin, slots[-1])


@pytest.mark.parametrize(("expr", "message"), REFUSED, ids=[case[0] for case in REFUSED])
def test_input_other_crons_accept_is_refused_with_one_line_saying_what_to_write(expr: str, message: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(expr, "UTC")
    assert message in caught.value.message
    assert "\n" not in caught.value.message
