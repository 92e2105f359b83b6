"""``smartcron run`` (the daemon) and ``smartcron tick`` (one pass, for cron).

The runner is imported with this module (not in the commands): the CLI imports a command's module
with garbage collection paused (``cli.main``), which is most of a tick's start-up.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import click
from sqlalchemy.exc import SQLAlchemyError

from smartcron.cli.context import AppContext, echo_json, json_option, pass_app
from smartcron.clock import system_clock
from smartcron.errors import StoreError
from smartcron.logs import configure
from smartcron.runner.daemon import Daemon
from smartcron.runner.runlock import hold_runner_lock
from smartcron.runner.scheduling.dbclock import DatabaseClock
from smartcron.runner.startup import database_status_for, wait_for_database
from smartcron.runner.tick import run_tick
from smartcron.store.engine import RUNNER_STALL_SECONDS


@contextmanager
def database_errors_as_one_line() -> Iterator[None]:
    """A database that fails outside the loops' own retries ends the command with one line, no traceback."""
    try:
        yield
    except SQLAlchemyError as exc:
        orig = getattr(exc, "orig", None) or exc
        raise StoreError(f"database error: {str(orig).splitlines()[0]}") from exc


@click.command("run")
@click.option("--verbose", "-v", is_flag=True, help="Log debug lines too.")
@click.option("--quiet", "-q", is_flag=True, help="Log only to the log files, not to stderr.")
@pass_app
def run_cmd(app: AppContext, verbose: bool, quiet: bool) -> None:
    """Run the scheduler daemon in the foreground.

    Wakes at each slot (6-field schedules with seconds work), runs every due task in its own
    process, records every run, picks up manual runs within a second, and beats every
    runner.heartbeat_interval seconds, renewing the leases of its runs. Several daemons may share
    a PostgreSQL or MySQL database (one per node name per machine): a node that stops renewing
    has its runs taken over within runner.lease_seconds. A database outage does not end it: it
    waits, keeps supervising what runs, and records the outcomes when the database is back.
    SIGTERM or Ctrl-C: stops claiming, lets running tasks finish (runner.shutdown_grace
    seconds), kills the rest, records everything and exits 0; so does `smartcron nodes drain`,
    without killing anything. Logs go to master.log.
    """
    settings = app.settings
    configure(settings.log_dir, "runner", verbose=verbose, console=not quiet)
    stopping = threading.Event()
    daemon: Daemon | None = None

    def stop(signum: int, _frame: FrameType | None) -> None:
        stopping.set()
        if daemon is not None:
            daemon.request_stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with hold_runner_lock(settings):
        base_clock = system_clock(settings.clock_offset_file)
        status = database_status_for(settings, base_clock, role="runner")
        app.stall_timeout = RUNNER_STALL_SECONDS
        store = wait_for_database(lambda: app.store, status, stopping)
        if store is None:
            return
        daemon = Daemon(
            settings,
            store,
            clock=DatabaseClock(store, base_clock),
            base_env=os.environ,
            cwd=os.getcwd(),
            db_status=status,
        )
        if stopping.is_set():
            daemon.request_stop()
        with database_errors_as_one_line():
            daemon.run()
        status.clear_status()


@click.command("tick")
@json_option
@pass_app
def tick_cmd(app: AppContext, as_json: bool) -> None:
    """One scheduling pass, for the crontab line `* * * * * smartcron tick`.

    Runs and records the due tasks exactly as the daemon would, then waits for the runs it
    started (and their retries) to end. Overlapping ticks, or a tick beside the daemon, never run
    a slot twice. SIGTERM or Ctrl-C: running tasks get runner.shutdown_grace seconds, then are
    killed and recorded. `smartcron install` writes the crontab line.
    """
    settings = app.settings
    configure(settings.log_dir, "tick")
    app.stall_timeout = RUNNER_STALL_SECONDS
    store = app.store
    base_clock = system_clock(settings.clock_offset_file)
    status = database_status_for(settings, base_clock, role="tick")
    stop = threading.Event()
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda _signum, _frame: stop.set())
    with database_errors_as_one_line():
        report = run_tick(
            settings,
            store,
            clock=DatabaseClock(store, base_clock),
            base_env=os.environ,
            cwd=os.getcwd(),
            stop=stop,
            db_status=status,
        )
    status.clear_status()
    if as_json:
        echo_json(
            {"due": report.due, "claimed": report.claimed, "started": report.started, "recovered": report.recovered}
        )
