"""A bound on every round trip to a PostgreSQL server, so that one that stops answering is noticed.

A server that has gone away outright is noticed by itself: a reset, a refused connect, data left
unacknowledged past ``tcp_user_timeout``, keepalives unanswered. One that keeps the connection
open and never answers is not: a hung server process, a pooler or proxy that stopped forwarding,
a partition behind a middlebox that still acknowledges. The calling thread would wait forever,
holding its lease renewals, its records and its passes with it, and the outage would go unsaid.

MySQL's driver has read and write timeouts of its own (:func:`~smartcron.store.engine.create_store_engine`
sets them); psycopg has none. So for PostgreSQL every call into the driver that waits for the
server (execute, commit, rollback, ping) is registered here with its deadline, and one thread
shuts down the socket of a call that is overdue. The driver then fails that call as a lost
connection, SQLAlchemy discards the connection, and the caller sees an ordinary
``OperationalError`` saying how long the server did not answer.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine

GUARDED_METHODS = ("do_execute", "do_executemany", "do_execute_no_params", "do_commit", "do_rollback", "do_ping")
"""The dialect's calls that wait for the server. The first three get a cursor, the rest a connection."""


class StallWatchdog:
    """Thread-safe. ``seconds``: how long a call may wait for the server."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._cond = threading.Condition()
        self._calls: dict[int, tuple[float, int]] = {}  # token: (deadline, socket fd), oldest first
        self._tripped: set[int] = set()
        self._tokens = itertools.count()
        self._thread: threading.Thread | None = None

    def enter(self, dbapi_connection: Any) -> int | None:
        """A call on ``dbapi_connection`` begins; the token to hand to ``leave``."""
        try:
            fd = dbapi_connection.fileno()
        except Exception:  # closed already: the call fails by itself
            return None
        with self._cond:
            token = next(self._tokens)
            idle = not self._calls
            self._calls[token] = (time.monotonic() + self.seconds, fd)
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="smartcron-stalls", daemon=True)
                self._thread.start()
            elif idle:
                self._cond.notify()
        return token

    def leave(self, token: int | None) -> bool:
        """The call ended; True when it was cut short because the server did not answer."""
        if token is None:
            return False
        with self._cond:
            self._calls.pop(token, None)
            if token in self._tripped:
                self._tripped.discard(token)
                return True
        return False

    def _watch(self) -> None:
        with self._cond:
            while True:
                if not self._calls:
                    self._cond.wait()
                    continue
                token, (deadline, fd) = next(iter(self._calls.items()))  # every call has the same bound
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                # Under the lock: the call has not left, so its connection and fd are still open.
                del self._calls[token]
                self._tripped.add(token)
                _shut_down(fd)


def _shut_down(fd: int) -> None:
    with contextlib.suppress(OSError):
        sock = socket.socket(fileno=os.dup(fd))
        try:
            sock.shutdown(socket.SHUT_RDWR)  # acts on the connection itself, not only this copy
        finally:
            sock.close()


def guard_stalls(engine: Engine, seconds: float) -> StallWatchdog:
    """Bound every server round trip of ``engine`` (PostgreSQL, psycopg) to ``seconds``."""
    watchdog = StallWatchdog(seconds)
    dialect = engine.dialect
    error = dialect.loaded_dbapi.OperationalError
    for name in GUARDED_METHODS:
        takes_cursor = name.startswith("do_execute")
        setattr(dialect, name, _guarded(getattr(dialect, name), watchdog, error, takes_cursor=takes_cursor))
    return watchdog


def _guarded(
    method: Callable[..., Any], watchdog: StallWatchdog, error: type[Exception], *, takes_cursor: bool
) -> Callable[..., Any]:
    def call(target: Any, *args: Any, **kwargs: Any) -> Any:
        token = watchdog.enter(target.connection if takes_cursor else target)
        try:
            result = method(target, *args, **kwargs)
        except error as exc:
            if watchdog.leave(token):
                raise error(f"no answer from the database server for {watchdog.seconds:g} s") from exc
            raise
        except BaseException:
            watchdog.leave(token)
            raise
        watchdog.leave(token)
        return result

    return call
