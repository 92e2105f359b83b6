"""Whether this runner can reach its database, as every thread that uses it finds out.

A database outage must not end the daemon, flood its log, or go unnoticed (DESIGN 9). So the
threads that touch the database (the loop, the lease keeper, the recorder, the chores) do not
log their database errors one by one; they tell this one place (``failed``/``succeeded``, or
through the engine hooks of :func:`watch_engine`), which logs once per change of state::

    database unreachable since 14:03:12 UTC: connection refused
    database reachable again after 63 s

writes the state to a small status file in the run directory (``smartcron health`` reads it when
it cannot reach the database itself), and calls ``on_outage`` once an outage has lasted
``alert_after`` seconds, so the critical alert can go out through a channel that needs no
database. Errors that are not about reaching the database (a constraint, a bug) are not this
module's business: they are logged where they happen.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from smartcron.clock import Clock
from smartcron.errors import StoreUnavailableError
from smartcron.store.engine import is_retryable

log = logging.getLogger(__name__)

UNREACHABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError, StoreUnavailableError)
"""Errors that mean "the database cannot be used right now", not "this statement is wrong"."""


FIRST_BACKOFF = 0.25
LONGEST_BACKOFF = 4.0
"""A failing pass is tried again after FIRST_BACKOFF, doubling up to LONGEST_BACKOFF, each pause
shortened by up to half at random: the database is tried every few seconds at most while it is
away, and several nodes do not come back in step."""


def backoff(failures: int, rng: random.Random) -> float:
    """The pause after ``failures`` passes in a row failed (1 or more)."""
    return min(LONGEST_BACKOFF, FIRST_BACKOFF * 2.0 ** min(failures - 1, 16)) * rng.uniform(0.5, 1.0)


def is_unreachable(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        if is_retryable(exc):  # a deadlock victim (MySQL says so with an OperationalError): tried again
            return False
    return isinstance(exc, UNREACHABLE)


def first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return text[0][:300] if text else type(orig).__name__


class DatabaseStatus:
    """Thread-safe. ``clock`` is only for the times shown; outages are timed on its monotonic clock."""

    def __init__(
        self,
        *,
        clock: Clock,
        status_file: Path | None = None,
        identity: dict[str, Any] | None = None,
        alert_after: float = 60.0,
        on_outage: Callable[[datetime, str], None] | None = None,
        on_back: Callable[[datetime], None] | None = None,
    ) -> None:
        self._clock = clock
        self._status_file = status_file
        self._identity = identity or {}
        self._alert_after = alert_after
        self._on_outage = on_outage
        self._on_back = on_back
        self._lock = threading.Lock()
        self._down_since: datetime | None = None
        self._down_since_mono = 0.0
        self._reason = ""
        self._alerted = False
        self._up_since_mono = clock.monotonic()

    @property
    def down_since(self) -> datetime | None:
        return self._down_since

    @property
    def reachable(self) -> bool:
        return self._down_since is None

    def reachable_for(self) -> float:
        """Seconds since the database last became reachable (0 while it is not)."""
        with self._lock:
            if self._down_since is not None:
                return 0.0
            return self._clock.monotonic() - self._up_since_mono

    def failed(self, exc: BaseException) -> None:
        """A thread could not reach the database."""
        with self._lock:
            if self._down_since is not None:
                return
            self._down_since = self._clock.now()
            self._down_since_mono = self._clock.monotonic()
            self._reason = first_line(exc)
            self._alerted = False
            since, reason = self._down_since, self._reason
        log.error(
            "database unreachable since %s: %s", since.strftime("%H:%M:%S %Z"), reason, extra={"action": "database"}
        )
        self._write_status()

    def succeeded(self) -> None:
        """A statement went through."""
        if self._down_since is None:  # the common case: one attribute read, no lock
            return
        with self._lock:
            if self._down_since is None:
                return
            lasted = self._clock.monotonic() - self._down_since_mono
            since, alerted = self._down_since, self._alerted
            self._down_since = None
            self._up_since_mono = self._clock.monotonic()
        log.warning("database reachable again after %.0f s", lasted, extra={"action": "database"})
        self._write_status()
        if alerted and self._on_back is not None:
            threading.Thread(target=self._tell_back, args=(since,), name="smartcron-outage", daemon=True).start()

    def _tell_back(self, since: datetime) -> None:
        assert self._on_back is not None
        try:
            self._on_back(since)
        except Exception:
            log.exception("could not send the database-back message", extra={"action": "database"})

    def check(self) -> None:
        """Called now and then (every heartbeat): raise the outage alert once it is due."""
        with self._lock:
            due = (
                self._down_since is not None
                and not self._alerted
                and self._clock.monotonic() - self._down_since_mono >= self._alert_after
            )
            if due:
                self._alerted = True
            since, reason = self._down_since, self._reason
        if due and since is not None and self._on_outage is not None:
            # Its own thread: a mail server that is slow to answer must not hold up the caller.
            threading.Thread(
                target=self._tell_outage, args=(since, reason), name="smartcron-outage", daemon=True
            ).start()

    def _tell_outage(self, since: datetime, reason: str) -> None:
        assert self._on_outage is not None
        try:
            self._on_outage(since, reason)
        except Exception:
            log.exception("could not send the database-outage alert", extra={"action": "database"})

    def _write_status(self) -> None:
        if self._status_file is None:
            return
        with self._lock:
            state = {
                **self._identity,
                "database": "unreachable" if self._down_since else "reachable",
                "since": (self._down_since or datetime.now(UTC)).isoformat(),
                "reason": self._reason if self._down_since else None,
            }
        with contextlib.suppress(OSError):  # a status file is a courtesy; its directory may be gone
            self._status_file.parent.mkdir(parents=True, exist_ok=True)
            temporary = self._status_file.with_name(self._status_file.name + ".tmp")
            temporary.write_text(json.dumps(state) + "\n", encoding="utf-8")
            os.replace(temporary, self._status_file)

    def clear_status(self) -> None:
        """The runner is going away: its status file no longer speaks for anyone."""
        if self._status_file is not None:
            with contextlib.suppress(OSError):
                self._status_file.unlink()


def watch_engine(engine: Engine, status: DatabaseStatus) -> Callable[[], None]:
    """Report every statement's success, and every failure to reach the database, to ``status``;
    returns the function that stops it."""

    def after_execute(*_args: Any) -> None:
        status.succeeded()

    def on_error(context: Any) -> None:
        original = context.original_exception
        error = context.sqlalchemy_exception or original
        if context.is_disconnect or is_unreachable(original) or is_unreachable(error):
            status.failed(error)

    event.listen(engine, "after_cursor_execute", after_execute)
    event.listen(engine, "handle_error", on_error)

    def unwatch() -> None:
        event.remove(engine, "after_cursor_execute", after_execute)
        event.remove(engine, "handle_error", on_error)

    return unwatch


def read_status_files(run_dir: str) -> list[dict[str, Any]]:
    """What the runners of this machine last said about their database (for ``smartcron health``)."""
    found = []
    for path in sorted(Path(run_dir).glob("runner-*.status.json")):
        with contextlib.suppress(OSError, ValueError):
            found.append(json.loads(path.read_text(encoding="utf-8")))
    return found
