"""A clock that agrees with the database server (DESIGN 3.12, section 9).

Several nodes compare each other's leases and heartbeats, so they must share one notion of now:
the database's. Reading the server's clock for every decision would cost a round trip each time;
instead the runner measures the offset between its own clock and the server's now and then, and
shifts its own. Offsets under one second are ignored: MySQL reports whole seconds, and a jitter of
half a second in every slot would be worse than the skew it corrects.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from smartcron.clock import Clock, SystemClock
from smartcron.store import Store

SIGNIFICANT_OFFSET = timedelta(seconds=1)


class DatabaseClock:
    def __init__(self, store: Store, base: Clock | None = None) -> None:
        self._store = store
        self._base = base or SystemClock()
        self._offset = timedelta(0)

    @property
    def offset(self) -> timedelta:
        return self._offset

    def sync(self) -> None:
        """Measure the offset to the database server's clock (no-op on SQLite: same machine)."""
        if self._store.dialect == "sqlite":
            return
        before = self._base.now()
        server = self._store.database_now()
        after = self._base.now()
        offset = server - (before + (after - before) / 2)
        self._offset = offset if abs(offset) >= SIGNIFICANT_OFFSET else timedelta(0)

    def now(self) -> datetime:
        return self._base.now() + self._offset

    def monotonic(self) -> float:
        return self._base.monotonic()

    def sleep(self, seconds: float, wake: threading.Event | None = None) -> bool:
        return self._base.sleep(seconds, wake)
