"""``smartcron tick``: one scheduling pass, for the crontab line ``* * * * * smartcron tick``.

The pass is the daemon's (``Engine.run_pass``): write what the spool kept, recover rows whose
runner died, take over runs of lost nodes, plan, claim, start. Then the tick supervises what it
started until every run has ended and is recorded, runs the retries it owes when they come due,
and starts rows it claimed that had to wait (queued behind a run, a catch-up chain). So a run
longer than a minute keeps its tick alive (its lease keeper renews the run's lease every
heartbeat); the next tick finds its row live and applies the overlap policy. Ticks that overlap
each other, or a tick beside a daemon, never run a slot twice: the slot key and the start
compare-and-swap see to it. A database that goes away while the tick supervises does not end it:
it keeps supervising, its outcomes wait in the spool, and it tries again with backoff.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from smartcron.clock import Clock
from smartcron.config import Settings
from smartcron.errors import StoreError
from smartcron.runner.scheduling.alert_hooks import AlertSender
from smartcron.runner.scheduling.connectivity import DatabaseStatus, backoff
from smartcron.runner.scheduling.engine import Engine, PassReport
from smartcron.runner.scheduling.recovery import (
    OVERDUE_RETRY,
    look_after_runs,
    recall_owed_retries,
    recover_own_rows,
    take_over_lost_nodes,
)
from smartcron.runner.scheduling.replay import replay_spool
from smartcron.store import Store
from smartcron.store.engine import retry_on_deadlock

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
"""While waiting, look at the store at least this often (rows started or ended elsewhere)."""


@dataclass(frozen=True, slots=True)
class TickReport:
    due: int
    claimed: int
    started: int
    recovered: int


def run_tick(
    settings: Settings,
    store: Store,
    *,
    clock: Clock,
    base_env: Mapping[str, str],
    cwd: str,
    rng: random.Random | None = None,
    stop: threading.Event | None = None,
    db_status: DatabaseStatus | None = None,
) -> TickReport:
    """One pass, then supervision until its runs (and their retries) are over.

    ``stop`` (set on SIGTERM/SIGINT) ends supervision early: running tasks then get
    ``runner_shutdown_grace`` seconds before they are killed (recorded ``killed``, shutdown).
    """
    engine = Engine(settings, store, clock=clock, role="tick", base_env=base_env, cwd=cwd, rng=rng, db_status=db_status)
    engine.start()
    grace = 0.0
    try:
        recovered, first = retry_on_deadlock(lambda: opening_pass(engine))
        started = first.started + supervise(engine, done=lambda: not engine.has_work(), announced=True, stop=stop)
        if stop is not None and stop.is_set():
            grace = settings.runner_shutdown_grace
    finally:
        engine.stop(grace=grace)
    AlertSender(store, settings, node=engine.node).send(clock.now())
    log.info("tick: %d due, %d claimed, %d started", first.due, first.claimed, started, extra={"action": "tick"})
    return TickReport(first.due, first.claimed, started, recovered)


def opening_pass(engine: Engine) -> tuple[int, PassReport]:
    """Renew, replay the spool, recover, recall owed retries, plan and start: how many rows were
    recovered, and the pass's report.

    Every step is one the daemon repeats each pass, so all of it may run again. It does when the
    database picks one of its transactions as a deadlock victim, as it may when fifty ticks start
    in the same second: the tick then carries on instead of ending with a database error."""
    engine.lease_keeper.round()
    now = engine.clock.now()
    replay_spool(engine)
    recovered = recover_own_rows(engine, now, startup=False).total + take_over_lost_nodes(engine, now)
    recall_owed_retries(engine, now, overdue=OVERDUE_RETRY)
    return recovered, engine.run_pass(now)


def supervise(
    engine: Engine,
    *,
    done: Callable[[], bool],
    announced: bool,
    only: set[int] | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Keep starting what may start, and recording what ends, until ``done()`` (or ``stop``);
    how many runs were started.

    No new slots are planned here (that is the next tick's job); waiting rows, manual runs and due
    retries are started. Every heartbeat interval: rows of lost nodes and this node's orphaned
    rows (``look_after_runs``). A database error is tried again after a growing pause.
    """
    clock = engine.clock
    interval = engine.settings.runner_heartbeat_interval
    next_chores = clock.monotonic() + interval
    started = 0
    failures = 0
    rng = random.Random()
    pause = 0.0
    while not done() and not (stop and stop.is_set()):
        wait = min(POLL_SECONDS, next_chores - clock.monotonic())
        retry_at = engine.next_retry_at()
        if retry_at is not None:
            wait = min(wait, (retry_at - clock.now()).total_seconds())
        clock.sleep(max(pause, wait, 0.0), engine.wake)
        engine.wake.clear()
        try:
            now = clock.now()
            started += engine.run_pass(now, plan=False, only=only).started
            if clock.monotonic() >= next_chores:
                next_chores = clock.monotonic() + interval
                look_after_runs(engine, now, announced=announced)
            failures, pause = 0, 0.0
        except (SQLAlchemyError, StoreError):
            failures += 1
            pause = backoff(failures, rng)
            next_chores = max(next_chores, clock.monotonic() + pause)
    return started
