"""``/metrics`` kept between scrapes: built again only when the database changed, or once it is a
second old.

With 10,000 tasks the exposition is ~5 MB and building it (reading every task row, joining its
lines) took most of a 100 ms scrape. Several Prometheus servers, or a burst of scrapes, ask for the
same text within a second, so each scrape now reads the cheap change snapshot of the database
(:mod:`smartcron.store.changes`, a few index lookups) and reuses the text built for the same
snapshot while it is younger than ``max_age``. The age bound covers what the snapshot does not see
(an alert escalated to another severity, a task's last success written without its edit time).

Heartbeat ages depend on the time of the scrape, not on the database: they are written at every
scrape from the heartbeats the snapshot just read, so they are exact and never keep the text from
being reused. Only one request builds at a time; the ones that arrive meanwhile wait for it and
take what it built, rather than each building the same text again.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass

from smartcron.clock import Clock
from smartcron.store.changes import StateSnapshot
from smartcron.web.metrics import heartbeat_section

MAX_AGE_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class _Built:
    key: StateSnapshot  # the snapshot read before the build began (heartbeats left out)
    number: int  # builds begun up to and including this one
    began_at: float  # monotonic
    body: bytes


class CachedMetrics:
    """The exposition of a :class:`~smartcron.web.metrics.MetricsExposition`, reused between
    scrapes. ``build`` is its ``render_stored``; ``snapshot`` reads the change snapshot. Safe to
    call from several request threads at once."""

    def __init__(
        self,
        build: Callable[[], bytes],
        snapshot: Callable[[], StateSnapshot],
        clock: Clock,
        *,
        max_age: float = MAX_AGE_SECONDS,
    ) -> None:
        self._build = build
        self._snapshot = snapshot
        self._clock = clock
        self._max_age = max_age
        self._lock = threading.Lock()  # held by the one request that builds
        self._built: _Built | None = None
        self._begun = 0
        self.builds = 0
        """Builds finished so far (read by tests and the benchmark)."""

    def render(self) -> bytes:
        seen = self._begun  # a build begun after this point read the database after this request came
        snapshot = self._snapshot()
        beats = [(name, at) for name, role, at in snapshot.heartbeats if role == "runner"]
        return self._stored(_key_of(snapshot), seen) + heartbeat_section(beats, self._clock.now())

    def _stored(self, key: StateSnapshot, seen: int) -> bytes:
        built = self._built
        if built is not None and self._fresh(built, key):
            return built.body
        with self._lock:
            built = self._built
            if built is not None and (built.number > seen or self._fresh(built, key)):
                return built.body
            self._begun += 1
            # The key was read before the build's own queries: a change between the two costs one
            # more build at the next scrape, and is never hidden.
            began = _Built(key, self._begun, self._clock.monotonic(), b"")
            body = self._build()
            self._built = dataclasses.replace(began, body=body)
            self.builds += 1
            return body

    def _fresh(self, built: _Built, key: StateSnapshot) -> bool:
        return built.key == key and self._clock.monotonic() - built.began_at < self._max_age


def _key_of(snapshot: StateSnapshot) -> StateSnapshot:
    """The snapshot without heartbeats: a runner beating changes only the ages, written per scrape."""
    return dataclasses.replace(snapshot, heartbeats=())
