"""What a runner does when its reference clock steps (DESIGN 3.12).

The runner sleeps on the monotonic clock, so a step never hangs its loop or fires a burst. What a
step means for the schedule, by direction:

* **Forward**: the slots jumped over are due at once, and each task's catch-up policy decides them
  as after any downtime (``domain.planning``): nothing here.
* **Back**: every task's ``next_run_at`` now lies further ahead than it should. A fixed-time task
  (``0 2 * * *``) keeps it: the slot it already ran is not run again (the unique slot key would
  refuse it anyway), as Debian cron refuses to re-run fixed-time jobs. An interval or wildcard task
  (``*/5 * * * *``) keeps its cadence: its ``next_run_at`` moves back to its next slot after now,
  instead of waiting hours for the clock to catch up.

Either way a "clock jump" alert says what happened, within the heartbeat that noticed it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from smartcron.domain.enums import Severity
from smartcron.runner.scheduling.dbclock import ClockReading
from smartcron.runner.scheduling.engine import Engine
from smartcron.store.slots import Move

log = logging.getLogger(__name__)

CLOCK_JUMP_ALERT = "clock_jump"


def after_clock_jump(engine: Engine, reading: ClockReading, now: datetime) -> None:
    seconds = reading.jump.total_seconds()
    direction = "forward" if seconds > 0 else "back"
    message = f"the clock of node {engine.node} (or of its database) jumped {direction} by {abs(seconds):.0f} s"
    log.warning(message, extra={"action": "clock"})
    engine.ledger.alerts.raise_system(CLOCK_JUMP_ALERT, Severity.HIGH, message, now)
    if seconds < 0:
        moved = keep_cadence(engine, now)
        if moved:
            log.info("%d interval or wildcard task(s) keep their cadence after the step back", moved,
                     extra={"action": "clock"})  # fmt: skip


def keep_cadence(engine: Engine, now: datetime) -> int:
    """Move back the ``next_run_at`` of interval and wildcard tasks that lie beyond their next slot
    after ``now`` (the clock went back); fixed-time tasks keep theirs. Returns how many moved."""
    moves: list[Move] = []
    for task in engine.store.tasks.list(active_only=True):
        schedule = engine.schedule_of(task)
        if schedule is None or schedule.fixed_time or task.next_run_at is None:
            continue
        upcoming = schedule.next_after(now)
        if task.next_run_at > upcoming:
            moves.append((task.id, task.next_run_at, upcoming))
    return engine.store.tasks.advance(moves) if moves else 0
