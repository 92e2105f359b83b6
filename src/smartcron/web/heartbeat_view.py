"""How old a heartbeat may be before the health page calls it late or lost, by how its process
runs: a daemon beats every ``runner.heartbeat_interval`` and is lost when its lease would be past;
a tick beats when the crontab line starts it, once a minute; the health monitor every 5 minutes.
A tick runner that beats every minute is therefore fine at 59 s, late past its minute plus a grace,
and down past ``health.runner_down_after``, as the health check says."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from smartcron.config import Settings

TICK_EVERY = 60.0
"""The crontab line ``smartcron install`` writes runs a tick every minute."""
HEALTH_EVERY = 300.0
"""... and the health monitor every 5 minutes."""
GRACE = 30.0
"""A start of cron, a slow pass: this much past the expected beat is not yet late."""
MISSED_BEATS = 3
"""A daemon is late after this many heartbeat intervals without one."""


@dataclass(frozen=True, slots=True)
class Expectation:
    """When a heartbeat of one role is due, and when its absence is a fault."""

    every: float
    late_after: float
    lost_after: float

    def tone(self, age: float) -> str:
        """The badge class for a heartbeat this old: ok, warn (late) or bad (lost)."""
        if age > self.lost_after:
            return "bad"
        if age > self.late_after:
            return "warn"
        return "ok"

    def words(self) -> str:
        late, lost = _seconds(self.late_after), _seconds(self.lost_after)
        return f"beats every {_seconds(self.every)}; late after {late}, lost after {lost}"


def _seconds(value: float) -> str:
    if value >= 60 and value % 60 == 0:
        return f"{value / 60:g} min"
    return f"{value:g} s"


def _number(info: Any, key: str) -> float | None:
    value = info.get(key) if isinstance(info, dict) else None
    return float(value) if isinstance(value, int | float) and value > 0 else None


def expectation(role: str, info: Any, settings: Settings) -> Expectation:
    """What to expect of a heartbeat of ``role``; a daemon's own figures come from its ``info``."""
    down_after = settings.health_runner_down_after
    if role == "runner":
        every = _number(info, "heartbeat_seconds") or settings.runner_heartbeat_interval
        lease = _number(info, "lease_seconds") or settings.runner_lease_seconds
        late = min(MISSED_BEATS * every, lease)
        return Expectation(every=every, late_after=late, lost_after=max(lease, late))
    if role == "tick":
        late = TICK_EVERY + GRACE
        return Expectation(every=TICK_EVERY, late_after=late, lost_after=max(down_after, late))
    if role == "health":
        late = HEALTH_EVERY + GRACE
        return Expectation(every=HEALTH_EVERY, late_after=late, lost_after=2 * HEALTH_EVERY + GRACE)
    return Expectation(every=down_after, late_after=down_after, lost_after=down_after)
