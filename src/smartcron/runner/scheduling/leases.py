"""Keeping a runner's claims alive: the heartbeat, lease renewal and fencing (DESIGN 3.11, section 9).

A :class:`LeaseKeeper` thread, in every engine, does this every ``runner_heartbeat_interval``
seconds, whatever the scheduling loop is doing:

1. syncs the clock to the database's (``dbclock``), noting this node's skew and any jump;
2. renews the lease of every row it runs, by the database's clock (``LeaseRepository.renew``); a
   run it supervises whose row was *not* renewed was taken over by another node while this one was
   paused or cut off: its process group is killed at once and nothing more is written for it (the
   token is the fence);
3. acts on cancel requests found in that renewal (the run is ended, recorded ``cancelled``);
4. writes the node's heartbeat (daemons and ticks; a manual run done in-process does not announce
   itself), with what ``smartcron nodes`` shows: tags, running count, clock offset, state;
5. reads the cluster: how many runners are alive (to claim a fair share of a crowded slot) and
   whether this node was asked to drain.

A database error skips the rest of the round; the next round comes one interval later, never
sooner (no spinning), and ``connectivity.DatabaseStatus`` says once that the database is gone.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from smartcron import __version__
from smartcron.errors import StoreError
from smartcron.runner.scheduling.connectivity import is_unreachable
from smartcron.runner.scheduling.dbclock import ClockReading, DatabaseClock
from smartcron.store.nodes import Heartbeat

if TYPE_CHECKING:
    from smartcron.runner.scheduling.engine import Engine

log = logging.getLogger(__name__)

RUNNER_ROLES = ("runner", "tick")
LOST_LEASE_REASON = "lost lease"
CANCEL_REASON_PREFIX = "cancelled by "


@dataclass(frozen=True, slots=True)
class ClusterView:
    """What this node last read of the others (every heartbeat)."""

    runners: int = 1
    """Runners alive (heartbeat within a lease, active), this one included."""
    others: tuple[str, ...] = ()
    """Names of the other live runners."""
    drain_requested: bool = False


def live_runners(beats: list[Heartbeat], now: datetime, *, within: timedelta) -> list[Heartbeat]:
    """Runners and ticks that beat within ``within`` of ``now`` and said they are active."""
    return [
        beat
        for beat in beats
        if beat.role in RUNNER_ROLES
        and bool((beat.info or {}).get("active", True))
        and now - beat.heartbeat_at <= within
    ]


class LeaseKeeper:
    def __init__(self, engine: Engine, *, announce: bool) -> None:
        self._engine = engine
        self._announce = announce
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._killed: set[int] = set()  # runs already told to end (lost lease, cancelled)
        self._lock = threading.Lock()
        self.cluster = ClusterView()
        self.last_reading: ClockReading | None = None
        self.draining = False
        """Set by the daemon once it drains: the heartbeat says so."""

    @property
    def interval(self) -> float:
        return self._engine.settings.runner_heartbeat_interval

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="smartcron-leases", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the thread; a last heartbeat says this runner is going away."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._announce:
            try:
                self.beat(self._engine.clock.now(), active=False)
            except (SQLAlchemyError, StoreError):
                log.warning("could not write the last heartbeat", extra={"action": "stop"})

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.round()

    def round(self) -> None:
        """One heartbeat round (see the module docstring); never raises."""
        engine = self._engine
        try:
            clock = engine.clock
            if isinstance(clock, DatabaseClock):
                reading = clock.sync()
                if reading is not None:
                    self.last_reading = reading
                    if reading.jumped:
                        engine.note_clock_jump(reading)
            now = clock.now()
            self.renew(now)  # first: a heartbeat row many ticks share may wait on a lock, a lease must not
            if self._announce:
                self.beat(now)
            self.read_cluster(now)
        except (SQLAlchemyError, StoreError) as exc:
            if not is_unreachable(exc):
                log.exception("heartbeat round failed", extra={"action": "lease"})
        except Exception:
            log.exception("heartbeat round failed", extra={"action": "lease"})
        engine.db_status.check()

    def beat(self, now: datetime, *, active: bool = True) -> None:
        engine = self._engine
        reading = self.last_reading
        state = "stopped" if not active else ("draining" if self.draining else "active")
        engine.store.nodes.beat(
            engine.node,
            engine.role,
            now=now,
            pid=os.getpid(),
            started_at=engine.started_at,
            version=__version__,
            info={
                "active": active,
                "state": state,
                "running": len(engine.supervisor.running()),
                "tags": list(engine.tags),
                "host": socket.gethostname(),
                "clock_offset_ms": round(reading.skew.total_seconds() * 1000) if reading else None,
                "lease_seconds": engine.settings.runner_lease_seconds,
                "heartbeat_seconds": engine.settings.runner_heartbeat_interval,
            },
        )

    def renew(self, now: datetime) -> None:
        """Renew our leases; end the runs that are ours no longer, and those asked to stop."""
        engine = self._engine
        contexts = engine.supervised()
        tokens = {engine.lease_token} | {c.token for c in contexts.values() if c.token}
        renewal = engine.store.leases.renew(
            node=engine.node, tokens=tokens, until=now + timedelta(seconds=engine.settings.runner_lease_seconds)
        )
        running = engine.supervisor.running()
        with self._lock:
            self._killed &= running
            for execution_id in running:
                context = contexts.get(execution_id)
                if context is None or context.token is None or execution_id in self._killed:
                    continue
                if execution_id not in renewal.renewed:
                    log.warning(
                        "lease lost (another node took the run over): killing its processes",
                        extra={"task": context.task.name, "execution": execution_id, "action": "kill"},
                    )
                    reason = LOST_LEASE_REASON
                elif execution_id in renewal.cancel_requests:
                    reason = CANCEL_REASON_PREFIX + renewal.cancel_requests[execution_id]
                    log.info(reason, extra={"task": context.task.name, "execution": execution_id, "action": "kill"})
                else:
                    continue
                if engine.supervisor.kill(execution_id, reason):
                    self._killed.add(execution_id)

    def read_cluster(self, now: datetime) -> None:
        engine = self._engine
        beats = engine.store.nodes.all()
        lease = timedelta(seconds=engine.settings.runner_lease_seconds)
        live = live_runners(beats, now, within=lease)
        others = tuple(sorted({beat.name for beat in live if beat.name != engine.node}))
        mine = [beat for beat in beats if beat.name == engine.node and beat.role == engine.role]
        drain = bool(mine and mine[0].drain_requested_at is not None)
        self.cluster = ClusterView(runners=len(others) + 1, others=others, drain_requested=drain)
