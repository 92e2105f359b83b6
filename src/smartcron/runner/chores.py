"""The daemon's background chores, each in its own thread, never on the path to a slot.

* alert sending, every second, and at once when a message is owed (a critical failure recorded);
  several nodes may send: the dispatcher claims each notification by compare-and-swap;
* custom alert rules, every 30 s, and the health monitor, every 5 minutes (first soon after start,
  so the dashboard has checks to show at once): one node per period does these, whichever claims
  the period's chore slot (``store.chores``).

Each waits while the daemon starts a slot (``may_run``), and stops with the daemon. A chore that
fails is logged and tried at its next period; an unreachable database is not logged here (the
runner's ``DatabaseStatus`` says it once).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from smartcron.config import Settings
from smartcron.runner.scheduling.alert_hooks import AlertHook, AlertSender, run_health_checks
from smartcron.runner.scheduling.connectivity import is_unreachable
from smartcron.runner.scheduling.engine import Engine

log = logging.getLogger(__name__)

ALERT_SEND_SECONDS = 1.0
ALERT_RULES_SECONDS = 30.0
HEALTH_SECONDS = 300.0
HEALTH_FIRST_AFTER = 10.0
"""The first health run comes soon after start, so the dashboard has checks to show at once."""


def period_slot(now: datetime, every: float) -> datetime:
    """The start of the period of ``every`` seconds that ``now`` falls in (the chore's slot)."""
    seconds = int(now.timestamp() // every * every)
    return datetime.fromtimestamp(seconds, UTC)


class Chores:
    def __init__(self, engine: Engine, settings: Settings, *, may_run: threading.Event, stopping: threading.Event):
        self._engine = engine
        self._settings = settings
        self._may_run = may_run
        self._stopping = stopping
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        engine, settings = self._engine, self._settings
        sender = AlertSender(engine.store, settings, node=engine.node)
        rules = AlertHook(engine.store, settings)
        chores: list[tuple[str, float, float, Callable[[datetime], object], threading.Event | None]] = [
            ("alerts", ALERT_SEND_SECONDS, ALERT_SEND_SECONDS, sender.send, engine.alerts_due),
            ("alert-rules", ALERT_RULES_SECONDS, ALERT_RULES_SECONDS, self._once_per_period("alert_rules",
             ALERT_RULES_SECONDS, rules.evaluate_rules), None),
            ("health", HEALTH_FIRST_AFTER, HEALTH_SECONDS, self._once_per_period("health", HEALTH_SECONDS,
             lambda now: run_health_checks(engine.store, settings, now)), None),
        ]  # fmt: skip
        for name, first, every, chore, wake in chores:
            thread = threading.Thread(
                target=self._repeat, args=(first, every, chore, wake), name=f"smartcron-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def join(self) -> None:
        for thread in self._threads:
            thread.join()

    def _once_per_period(
        self, name: str, every: float, chore: Callable[[datetime], object]
    ) -> Callable[[datetime], object]:
        engine = self._engine

        def claimed(now: datetime) -> object:
            if not engine.store.chores.claim(name, period_slot(now, every), node=engine.node, now=now):
                return None  # another node has this period's turn
            return chore(now)

        return claimed

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
            if self._stopping.is_set():
                return
            if wake is not None:
                wake.clear()
            wait = every
            self._may_run.wait()
            if self._stopping.is_set():
                return
            try:
                chore(self._engine.clock.now())
            except Exception as exc:
                if not is_unreachable(exc):
                    log.exception("background chore failed", extra={"action": "background"})
