"""``smartcron run``: the runner daemon.

The loop sleeps on the monotonic clock until the earliest of: half a second before the next
``next_run_at`` in the store, the next retry it owes, one second (manual runs queued by the CLI or
the web are picked up within it), the next heartbeat; a run ending wakes it early. Ahead of a slot
it plans and claims (``Engine.prepare``), sleeps to the slot, starts (``Engine.start_prepared``),
then makes a full pass (``Engine.run_pass``) for whatever else is due. From the claim until the
slot is started, the background chores wait and no garbage is collected.
Sleeping is recomputed every second at most, so a wall-clock jump neither hangs the loop nor fires
a burst: slots it jumped over are planned by the catch-up policy.

Every ``runner_heartbeat_interval``: heartbeat, lease renewal, runs of dead runners (this node's
with expired leases, other nodes' that went silent), and the offset to the database's clock.
Background threads, never on the path to a slot: alert sending (every second), custom alert rules
(every 30 s), the health monitor (every 5 minutes).

On ``request_stop`` (SIGTERM, SIGINT): no more claiming; running tasks get up to
``runner_shutdown_grace`` seconds, the rest are killed (recorded ``killed``, reason shutdown);
everything is recorded, retries still owed are claimed for the next runner, and ``run`` returns.
"""

from __future__ import annotations

import gc
import logging
import random
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from smartcron.clock import Clock
from smartcron.config import Settings
from smartcron.errors import StoreError
from smartcron.runner.scheduling.alert_hooks import AlertHook, AlertSender, run_health_checks
from smartcron.runner.scheduling.dbclock import DatabaseClock
from smartcron.runner.scheduling.engine import Engine
from smartcron.runner.scheduling.leases import heartbeat, maintain
from smartcron.runner.scheduling.recovery import recall_owed_retries, reclaim_stale_nodes, recover_own_rows
from smartcron.runner.tick import POLL_SECONDS
from smartcron.store import Store

log = logging.getLogger(__name__)

ALERT_SEND_SECONDS = 1.0
ALERT_RULES_SECONDS = 30.0
HEALTH_SECONDS = 300.0
HEALTH_FIRST_AFTER = 10.0
"""The first health run comes soon after start, so the dashboard has checks to show at once."""
LONGEST_BACKOFF = 30.0
PREPARE_AHEAD = timedelta(milliseconds=500)
"""Slots are planned and claimed this long before they are due, so at the slot only starting
remains; a registry change in this last half second applies from the next slot on."""
BEGIN_AHEAD = timedelta(milliseconds=5)
"""The rows to start at a slot are chosen and begun (running, under our lease) this long before it."""
FINE_WAKE_SECONDS = 0.002
"""The last stretch before a slot is slept in steps of FINE_STEP_SECONDS: one long sleep can end
milliseconds late (an idle virtual CPU is slow to wake, another thread holds the interpreter)."""
FINE_STEP_SECONDS = 0.0001


def sleep_until(clock: Clock, instant: datetime) -> None:
    """Sleep until ``instant`` (the wall clock, as slots are), ending within about 0.1 ms of it."""
    coarse = (instant - clock.now()).total_seconds() - FINE_WAKE_SECONDS
    if coarse > 0:
        clock.sleep(coarse)
    while (left := (instant - clock.now()).total_seconds()) > 0:
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
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.engine = Engine(settings, store, clock=clock, role="runner", base_env=base_env, cwd=cwd, rng=rng)
        self._stopping = threading.Event()
        self._chores_may_run = threading.Event()
        """Cleared from just before a slot until it is started: background chores wait meanwhile."""
        self._chores_may_run.set()
        self._background = background
        self._threads: list[threading.Thread] = []

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
        """Run until ``request_stop`` (or until the clock reaches ``until``: for tests)."""
        engine = self.engine
        engine.start()
        now = self.clock.now()
        heartbeat(engine, now)
        recover_own_rows(engine, now, startup=True)
        reclaim_stale_nodes(engine, now)
        recall_owed_retries(engine, now, overdue=None)
        log.info("runner started on node %s", engine.node, extra={"node": engine.node, "action": "start"})
        if self._background:
            self._start_background()
        try:
            self._loop(until)
        except Exception:  # said now: the shutdown that follows may wait for running tasks a while
            log.exception("the runner's loop failed; stopping", extra={"action": "stop"})
            raise
        finally:
            self._shutdown()

    def _loop(self, until: datetime | None) -> None:
        clock = self.clock
        interval = self.settings.runner_heartbeat_interval
        next_beat = clock.monotonic() + interval
        failures = 0
        while not self.stopping:
            now = clock.now()
            if until is not None and now >= until:
                return
            try:
                upcoming = self._next_slot(now)
                if upcoming is not None and upcoming <= now + PREPARE_AHEAD:
                    now = self._start_slot(upcoming)
                self.engine.run_pass(now)
                if clock.monotonic() >= next_beat:
                    next_beat = clock.monotonic() + interval
                    maintain(self.engine, now, heartbeat_too=True)
                    if isinstance(clock, DatabaseClock):
                        clock.sync()
                wake_at = self._next_wake(now, until, self._next_slot(now))
                failures = 0
            except (SQLAlchemyError, StoreError) as exc:
                failures += 1
                pause = min(LONGEST_BACKOFF, 0.5 * 2**failures)
                log.error(
                    "pass failed, next try in %.1f s: %s", pause, str(exc).splitlines()[0], extra={"action": "pass"}
                )
                wake_at = clock.now() + timedelta(seconds=pause)
            delay = min((wake_at - clock.now()).total_seconds(), next_beat - clock.monotonic())
            clock.sleep(max(0.0, delay), self.engine.wake)
            self.engine.wake.clear()

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
                sleep_until(self.clock, slot - BEGIN_AHEAD)
                with self.engine.recorder.paused():
                    begun = self.engine.begin_prepared(slot)
                    sleep_until(self.clock, slot)
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
        for thread in self._threads:
            thread.join()
        self.engine.stop(grace=self.settings.runner_shutdown_grace)
        try:
            heartbeat(self.engine, self.clock.now(), active=False)
        except (SQLAlchemyError, StoreError):
            log.warning("could not write the last heartbeat", extra={"action": "stop"})
        log.info("runner stopped", extra={"action": "stop"})

    # -- background chores ------------------------------------------------------------------------

    def _start_background(self) -> None:
        sender = AlertSender(self.store, self.settings, node=self.engine.node)
        rules = AlertHook(self.store, self.settings)
        # The sender also wakes as soon as an alert's message is owed (a critical failure recorded).
        chores: list[tuple[str, float, float, Callable[[datetime], object], threading.Event | None]] = [
            ("alerts", ALERT_SEND_SECONDS, ALERT_SEND_SECONDS, sender.send, self.engine.alerts_due),
            ("alert-rules", ALERT_RULES_SECONDS, ALERT_RULES_SECONDS, rules.evaluate_rules, None),
            (
                "health",
                HEALTH_FIRST_AFTER,
                HEALTH_SECONDS,
                lambda now: run_health_checks(self.store, self.settings, now),
                None,
            ),
        ]
        for name, first, every, chore, wake in chores:
            thread = threading.Thread(
                target=self._repeat, args=(first, every, chore, wake), name=f"smartcron-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _repeat(
        self, first: float, every: float, chore: Callable[[datetime], object], wake: threading.Event | None
    ) -> None:
        # Real time, not the injected clock: these chores pace themselves and never decide slots.
        # ``wake`` (set by request_stop too) cuts the wait short; cleared before the chore runs, so
        # a wake-up during the chore brings another pass at once.
        bell = wake or self._stopping
        wait = first
        while True:
            bell.wait(wait)
            if self.stopping:
                return
            if wake is not None:
                wake.clear()
            wait = every
            self._chores_may_run.wait()
            if self.stopping:
                return
            try:
                chore(self.clock.now())
            except Exception:
                log.exception("background chore failed", extra={"action": "background"})
