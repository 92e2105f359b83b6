"""A task's schedule as a person reads it: plain words and the next fire times in its own zone,
with the runs that come after a daylight-saving change marked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from smartcron.domain.schedule import describe, parse_schedule
from smartcron.errors import SmartcronError


@dataclass(frozen=True, slots=True)
class FireTime:
    utc: datetime
    local: datetime
    dst_change: str | None
    """Set when the zone's UTC offset changed since the previous fire time (or since now)."""


def _offset_text(offset: timedelta | None) -> str:
    minutes = int((offset or timedelta()).total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def mark_dst_changes(times: list[datetime], zone: ZoneInfo, now: datetime) -> list[FireTime]:
    """Pure: each UTC time in ``zone``, marked where the offset differs from the one before."""
    previous = now.astimezone(zone).utcoffset()
    out = []
    for moment in times:
        local = moment.astimezone(zone)
        offset = local.utcoffset()
        change = None
        if offset != previous:
            change = f"clocks change: {_offset_text(previous)} -> {_offset_text(offset)}"
        out.append(FireTime(utc=moment.astimezone(UTC), local=local, dst_change=change))
        previous = offset
    return out


def next_fire_times(
    schedule: str, zone_name: str, now: datetime, count: int = 10, *, task_name: str | None = None
) -> list[FireTime] | str:
    """The next ``count`` fire times, or a one-line reason why they cannot be shown.

    ``task_name`` is what an ``H`` in the schedule picks its value from."""
    try:
        zone = ZoneInfo(zone_name)
        parsed = parse_schedule(schedule, zone_name, hash_key=task_name)
        times: list[datetime] = []
        moment = now
        for _ in range(count):
            moment = parsed.next_after(moment).astimezone(UTC)
            times.append(moment)
    except (SmartcronError, ValueError, KeyError) as exc:
        return str(exc)
    return mark_dst_changes(times, zone, now)


def describe_schedule(schedule: str, *, task_name: str | None = None) -> str:
    try:
        return str(describe(schedule, hash_key=task_name))
    except (SmartcronError, ValueError):
        return schedule
