"""Opening the database: one SQLAlchemy engine, tuned per dialect."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from smartcron.errors import ConfigError

SQLITE_BUSY_TIMEOUT_MS = 30_000
CONNECT_TIMEOUT_SECONDS = 10
UNACKNOWLEDGED_TIMEOUT_MS = 30_000
RUNNER_STALL_SECONDS = 10.0
"""How long a runner (daemon, tick, exec) waits for its server database to answer one call before
it takes the server for unreachable (its statements are small; a longer wait only holds up leases
and records). Other commands (migrations, maintenance, exports) wait as long as their work takes."""


def create_store_engine(
    url: str, *, pool_size: int = 5, echo: bool = False, stall_timeout: float | None = None
) -> Engine:
    """``stall_timeout``: seconds a call may wait for a PostgreSQL or MySQL server to answer; then
    the call fails as a lost connection (SQLite, a local file, has no such wait)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"setting database.url: cannot parse {url!r}") from None
    backend = parsed.get_backend_name()
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if backend == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        # A server that went away must be noticed, not waited for: a bounded connect, and a socket
        # that gives up on data left unacknowledged (a partition) instead of hanging for minutes.
        kwargs["connect_args"] = {
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
            "tcp_user_timeout": UNACKNOWLEDGED_TIMEOUT_MS,
        }
    elif backend in ("mysql", "mariadb"):
        if "+" not in parsed.drivername:
            parsed = parsed.set(drivername=f"{backend}+pymysql")
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
        kwargs["pool_recycle"] = 3600
        # DATETIME columns hold UTC; NOW() must agree with them.
        kwargs["connect_args"] = {
            "init_command": "SET time_zone = '+00:00'",
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        }
        if stall_timeout is not None:
            kwargs["connect_args"].update(read_timeout=stall_timeout, write_timeout=stall_timeout)
    else:
        raise ConfigError(f"setting database.url: unsupported database {backend!r}")
    kwargs.update(pool_size=pool_size, max_overflow=10, pool_pre_ping=True)
    engine = create_engine(parsed, **kwargs)
    if backend == "postgresql" and stall_timeout is not None:
        from smartcron.store.stalls import guard_stalls

        guard_stalls(engine, stall_timeout)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide where transactions begin, so that rollback and
    # savepoints work (the driver's legacy mode starts transactions only before DML).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    # A transaction that reads before it writes must take the write lock up front: a deferred one
    # would fail at its first write (SQLITE_BUSY) instead of waiting when another writer committed.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "BEGIN")


WRITE_OPTION = "smartcron_write"


@contextmanager
def write_transaction(engine: Engine, *, read_committed: bool = False) -> Iterator[Connection]:
    """A transaction that will write after reading: BEGIN IMMEDIATE on SQLite, plain elsewhere.

    ``read_committed``: on MySQL, whose default (repeatable read) keeps a lock on every row a
    locking read looked at, use read committed, which keeps locks only on the rows it returns
    (PostgreSQL's default already; SQLite has one writer)."""
    with engine.connect() as conn:
        conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            if read_committed and conn.dialect.name == "mysql":
                # For this one transaction (it begins at the next statement): nothing to reset
                # when the connection goes back to the pool, so nothing to fail there either
                # when the server has gone away meanwhile.
                conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            yield conn


T = TypeVar("T")
_RETRYABLE_MYSQL = {
    1205,  # lock wait timeout
    1213,  # deadlock: InnoDB rolled the whole transaction back
    1305,  # savepoint does not exist: what rolling back to a savepoint says after that
}
_RETRYABLE_PG = {"40P01", "40001"}  # deadlock detected, serialization failure


def is_retryable(exc: DBAPIError) -> bool:
    """The database rolled the transaction back to break a deadlock; running it again is safe."""
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code in _RETRYABLE_PG:
        return True
    args: tuple[Any, ...] = getattr(orig, "args", ())
    return bool(args) and args[0] in _RETRYABLE_MYSQL


def retry_on_deadlock(work: Callable[[], T], *, attempts: int = 9) -> T:
    """Run ``work`` (one whole transaction, or steps each safe to repeat), again if the database
    chose it as a deadlock victim.

    The pauses grow from 5 ms and are each shortened by up to half at random, so that fifty
    processes that met in one deadlock do not all come back in the same millisecond (about 1.3 s
    in all before the error is raised)."""
    for attempt in range(attempts):
        try:
            return work()
        except DBAPIError as exc:
            if attempt == attempts - 1 or not is_retryable(exc):
                raise
            time.sleep(0.005 * 2**attempt * random.uniform(0.5, 1.0))  # let the winner commit
    raise AssertionError("unreachable")
