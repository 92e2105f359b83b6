"""A clock that follows the database server's (DESIGN 3.12, section 9).

Several nodes compare each other's leases and heartbeats, and claim slots by time, so they must
share one notion of now: the database's. Reading the server's clock for every decision would cost
a round trip each time; instead :meth:`DatabaseClock.sync` (every heartbeat) reads it once and
notes the monotonic time of the reading, and :meth:`DatabaseClock.now` is that reading plus the
monotonic time elapsed since. So:

* a node whose own clock is wrong (fast, slow, stepped) still claims and judges leases by the
  server's time; how far its own clock is off is measured (``skew``) and reported;
* a step of the reference clock itself (the server's, or on SQLite this machine's, where the
  database has no clock of its own) shows up at the next sync as a ``jump``, which the runner
  handles (DESIGN 3.12: slots jumped over go to the catch-up policy, a step back keeps
  wildcard schedules on their cadence) and reports as a "clock jump" alert;
* between syncs time moves smoothly, even across a step of the local clock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from smartcron.clock import Clock, SystemClock
from smartcron.store import Store

MAX_ROUND_TRIP = 0.5
"""A reading that took longer than this (seconds) is too vague to anchor to, or to call a jump:
it is ignored (a database answering slowly, or reconnecting)."""
JUMP_THRESHOLD = timedelta(seconds=2)
"""A disagreement between the reference clock and the monotonic clock above this is a step of the
reference clock (NTP slews far less: at most 0.5 ms a second)."""


@dataclass(frozen=True, slots=True)
class ClockReading:
    """One sync: the reference time read, how far this node's own clock was from it (positive:
    ahead), and how far the reference moved against the monotonic clock since the last sync."""

    reference: datetime
    skew: timedelta
    jump: timedelta

    @property
    def jumped(self) -> bool:
        return abs(self.jump) > JUMP_THRESHOLD


class DatabaseClock:
    def __init__(self, store: Store, base: Clock | None = None) -> None:
        self._store = store
        self._base = base or SystemClock()
        now = self._base.now()
        self._anchor: tuple[datetime, float] = (now, self._base.monotonic())
        self._anchored = False
        self._skew = timedelta(0)
        self._lock = threading.Lock()

    @property
    def skew(self) -> timedelta:
        """This node's clock minus the reference clock, as of the last sync."""
        return self._skew

    def sync(self) -> ClockReading | None:
        """Read the reference clock (one query on PostgreSQL and MySQL; this machine's clock on
        SQLite) and anchor ``now`` to it; None when the reading took too long to be trusted.
        Raises what the store raises when it is unreachable."""
        before = self._base.monotonic()
        local = self._base.now()
        reference = local if self._store.dialect == "sqlite" else self._store.database_now()
        after = self._base.monotonic()
        if after - before > MAX_ROUND_TRIP:
            return None
        middle = before + (after - before) / 2
        with self._lock:
            anchor_time, anchor_mono = self._anchor
            predicted = anchor_time + timedelta(seconds=middle - anchor_mono)
            jump = reference - predicted if self._anchored else timedelta(0)
            self._anchor = (reference, middle)
            self._anchored = True
            self._skew = local + timedelta(seconds=middle - before) - reference
        return ClockReading(reference, self._skew, jump)

    def now(self) -> datetime:
        anchor_time, anchor_mono = self._anchor
        return anchor_time + timedelta(seconds=self._base.monotonic() - anchor_mono)

    def monotonic(self) -> float:
        return self._base.monotonic()

    def sleep(self, seconds: float, wake: threading.Event | None = None) -> bool:
        return self._base.sleep(seconds, wake)
