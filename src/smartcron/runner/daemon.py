"""``smartcron run``: the runner daemon.

The loop sleeps on the monotonic clock until the earliest of: half a second before the next
``next_run_at`` in the store, the next retry it owes, one second (manual runs queued by the CLI or
the web are picked up within it), the next round of chores; a run ending wakes it early, and so
does a claim that left due tasks for others (it comes back for them a moment later, if nobody
took them). Ahead of a slot it plans and claims (``Engine.prepare``), sleeps to the slot, starts
(``Engine.start_prepared``), then makes a full pass (``Engine.run_pass``) for whatever else is due.
From the claim until the slot is started, the background chores wait and no garbage is collected.
Sleeping is recomputed every second at most, so a wall-clock jump neither hangs the loop nor fires
a burst: slots it jumped over are planned by the catch-up policy (``scheduling.clocksteps``).

The engine's lease keeper beats, renews and fences every ``runner_heartbeat_interval`` in its own
thread. Every interval the loop also takes over runs of nodes that lost their lease, ends this
node's orphaned rows and takes up owed retries (``scheduling.recovery.look_after_runs``).

A database error never ends the loop: the pass is tried again after a pause that doubles up to a
few seconds, with jitter (so several nodes do not come back in step); running tasks stay
supervised, their outcomes wait in the spool, and ``connectivity.DatabaseStatus`` says once that
the database is gone and once that it is back.

On ``request_stop`` (SIGTERM, SIGINT): no more claiming; running tasks get up to
``runner_shutdown_grace`` seconds, the rest are killed (recorded ``killed``, reason shutdown);
everything is recorded, claimed rows not started are left to other runners or cancelled, retries
still owed are claimed for the next runner, and ``run`` returns. On a drain request
(``smartcron nodes drain``) the daemon stops claiming, lets what runs finish, and returns.
"""

from __future__ import annotations

import gc
import logging
import random
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from smartcron.clock import Clock
from smartcron.config import Settings
from smartcron.errors import StoreError
from smartcron.runner.chores import Chores
from smartcron.runner.scheduling.clocksteps import after_clock_jump, keep_cadence
from smartcron.runner.scheduling.connectivity import DatabaseStatus, backoff, first_line, is_unreachable
from smartcron.runner.scheduling.engine import Engine
from smartcron.runner.scheduling.recovery import (
    look_after_runs,
    recall_owed_retries,
    recover_own_rows,
    take_over_lost_nodes,
)
from smartcron.runner.scheduling.replay import replay_spool
from smartcron.runner.tick import POLL_SECONDS
from smartcron.store import Store

log = logging.getLogger(__name__)

PREPARE_AHEAD = timedelta(milliseconds=500)
"""Slots are planned and claimed this long before they are due, so at the slot only starting
remains; a registry change in this last half second applies from the next slot on."""
BEGIN_AHEAD = timedelta(milliseconds=5)
"""The rows to start at a slot are chosen and begun (running, under our lease) this long before it."""
FINE_WAKE_SECONDS = 0.002
"""The last stretch before a slot is slept in steps of FINE_STEP_SECONDS: one long sleep can end
milliseconds late (an idle virtual CPU is slow to wake, another thread holds the interpreter)."""
FINE_STEP_SECONDS = 0.0001
SHARE_SECONDS = 0.05
"""After a claim that left due tasks to the other nodes, come back this soon for what they left."""


def sleep_until(clock: Clock, instant: datetime, *, at_most: float) -> None:
    """Sleep until ``instant`` (the wall clock, as slots are), ending within about 0.1 ms of it.

    Never longer than ``at_most`` seconds, nor than the wait was when it began, on the monotonic
    clock: a wall clock stepped back just before or during the wait must not hold the loop for
    the size of the step."""
    wait = min((instant - clock.now()).total_seconds(), at_most)
    latest = clock.monotonic() + wait
    coarse = wait - FINE_WAKE_SECONDS
    if coarse > 0:
        clock.sleep(coarse)
    while (left := min((instant - clock.now()).total_seconds(), latest - clock.monotonic())) > 0:
        clock.sleep(min(left, FINE_STEP_SECONDS))


@contextmanager
def collection_paused() -> Iterator[None]:
    """No garbage collection pause in the middle of starting a slot (it would delay every start)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class Daemon:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        clock: Clock,
        base_env: Mapping[str, str],
        cwd: str,
        rng: random.Random | None = None,
        background: bool = True,
        db_status: DatabaseStatus | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self._rng = rng or random.Random()
        self.engine = Engine(
            settings,
            store,
            clock=clock,
            role="runner",
            base_env=base_env,
            cwd=cwd,
            rng=self._rng,
            db_status=db_status,
        )
        self._stopping = threading.Event()
        self._chores_may_run = threading.Event()
        """Cleared from just before a slot until it is started: background chores wait meanwhile."""
        self._chores_may_run.set()
        self._background = background
        self._chores = Chores(self.engine, settings, may_run=self._chores_may_run, stopping=self._stopping)
        self.drained = False
        """True when ``run`` returned because the node was drained."""

    def request_stop(self) -> None:
        """Stop claiming and shut down (safe from a signal handler)."""
        self._stopping.set()
        self._chores_may_run.set()
        self.engine.wake.set()
        self.engine.alerts_due.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def run(self, *, until: datetime | None = None) -> None:
        """Run until ``request_stop`` or a drain (or until the clock reaches ``until``: for tests)."""
        engine = self.engine
        engine.start()
        try:
            self._start_up()
            log.info("runner started on node %s", engine.node, extra={"node": engine.node, "action": "start"})
            if self._background:
                self._chores.start()
            self._loop(until)
        except Exception:  # said now: the shutdown that follows may wait for running tasks a while
            log.exception("the runner's loop failed; stopping", extra={"action": "stop"})
            raise
        finally:
            self._shutdown()

    def _start_up(self) -> None:
        """Before the first pass: be seen, take back what this node left, settle what others left."""
        engine = self.engine
        engine.lease_keeper.round()  # heartbeat, clock, cluster: at once, not one interval later
        engine.store.nodes.clear_drain(engine.node)
        now = self.clock.now()
        replay_spool(engine)
        recover_own_rows(engine, now, startup=True)
        take_over_lost_nodes(engine, now)
        recall_owed_retries(engine, now, overdue=None)
        keep_cadence(engine, now)  # the clock may have gone back while no runner was running

    def _loop(self, until: datetime | None) -> None:
        clock = self.clock
        interval = self.settings.runner_heartbeat_interval
        next_chores = clock.monotonic() + interval
        failures = 0
        while not self.stopping:
            now = clock.now()
            if until is not None and now >= until:
                return
            if self._drain_done():
                return
            try:
                for reading in self.engine.take_clock_jumps():
                    after_clock_jump(self.engine, reading, now)
                claiming = not self.engine.lease_keeper.draining
                upcoming = self._next_slot(now) if claiming else None
                if upcoming is not None and upcoming <= now + PREPARE_AHEAD:
                    now = self._start_slot(upcoming)
                self.engine.run_pass(now, plan=claiming)
                if clock.monotonic() >= next_chores:
                    next_chores = clock.monotonic() + interval
                    look_after_runs(self.engine, now, announced=True)
                wake_at = self._next_wake(now, until, self._next_slot(now) if claiming else None)
                failures = 0
            except (SQLAlchemyError, StoreError) as exc:
                failures += 1
                pause = backoff(failures, self._rng)
                if not is_unreachable(exc):  # an outage is said once, by DatabaseStatus
                    log.warning("pass failed, next try in %.1f s: %s", pause, first_line(exc), extra={"action": "pass"})
                wake_at = clock.now() + timedelta(seconds=pause)
                next_chores = max(next_chores, clock.monotonic() + pause)
            delay = min((wake_at - clock.now()).total_seconds(), next_chores - clock.monotonic())
            clock.sleep(max(0.0, delay), self.engine.wake)
            self.engine.wake.clear()

    def _drain_done(self) -> bool:
        """Act on a drain request: stop claiming (once), and say when nothing is left to finish."""
        keeper = self.engine.lease_keeper
        if not keeper.draining and keeper.cluster.drain_requested:
            keeper.draining = True
            log.warning(
                "draining: no more claims; waiting for %d running run(s) to finish",
                len(self.engine.supervisor.running()),
                extra={"action": "drain"},
            )
            try:
                self.engine.settle_waiting_claims(self.clock.now())
            except (SQLAlchemyError, StoreError):
                keeper.draining = False  # the database is away: the request is seen again next round
        if keeper.draining and not self.engine.supervisor.running() and not self.engine.recorder.busy:
            self.drained = True
            log.warning("drained: nothing runs here any more; stopping", extra={"action": "drain"})
            return True
        return False

    def _start_slot(self, slot: datetime) -> datetime:
        """Claim what falls due at ``slot``, sleep until it, start it; returns when it started.

        Meanwhile the process does as little else as it can: the background chores wait, no
        garbage is collected, and ended runs do not wake this loop."""
        self._chores_may_run.clear()
        try:
            with collection_paused():
                self.engine.prepare(slot)
                # What starts is decided and begun a moment ahead, so that at the slot only the
                # spawns remain; no run is written meanwhile (the recorder waits).
                sleep_until(self.clock, slot - BEGIN_AHEAD, at_most=PREPARE_AHEAD.total_seconds())
                with self.engine.recorder.paused():
                    begun = self.engine.begin_prepared(slot)
                    sleep_until(self.clock, slot, at_most=BEGIN_AHEAD.total_seconds())
                    now = self.clock.now()
                    self.engine.start_prepared(now, begun)
        finally:
            self._chores_may_run.set()
        return now

    def _next_slot(self, now: datetime) -> datetime | None:
        """The next ``next_run_at`` after ``now``. Past ones are not waited for: the pass took what
        was due here, so what is left is another node's, or a task that cannot be planned."""
        return self.store.tasks.next_wakeup(after=now)

    def _next_wake(self, now: datetime, until: datetime | None, next_slot: datetime | None) -> datetime:
        candidates = [now + timedelta(seconds=POLL_SECONDS)]
        if next_slot is not None:
            candidates.append(max(now, next_slot - PREPARE_AHEAD))
        if self.engine.more_due:
            candidates.append(now + timedelta(seconds=SHARE_SECONDS))
        retry_at = self.engine.next_retry_at()
        if retry_at is not None:
            candidates.append(retry_at)
        if until is not None:
            candidates.append(until)
        return min(candidates)

    def _shutdown(self) -> None:
        log.info("stopping: waiting up to %s s for running tasks", self.settings.runner_shutdown_grace,
                 extra={"action": "stop"})  # fmt: skip
        self._stopping.set()
        self._chores_may_run.set()
        self._chores.join()
        self.engine.stop(grace=self.settings.runner_shutdown_grace)
        log.info("runner stopped", extra={"action": "stop"})
