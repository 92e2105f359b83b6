"""``smartcron exec``: a line of an existing crontab, run and recorded the way smartcron runs a task."""

from __future__ import annotations

import os
import sys

import click

from smartcron.cli.context import AppContext, pass_app


@click.command("exec")
@click.argument("name")
@click.option("--schedule", required=True, help="The crontab line's schedule: used only to tell when a run is late.")
@click.option("--tz", "timezone", help="Time zone of that schedule (default: the configured one).")
@click.option("--shell", is_flag=True, help="COMMAND is one shell string, run by /bin/sh -c (as cron runs it).")
@click.option("--timeout", type=click.IntRange(min=0), help="Seconds before it is ended (default 300; 0: none).")
@click.option("--priority", type=click.IntRange(1, 3), default=2, show_default=True,
              help="Alert priority when it fails: 1 critical, 2 high, 3 low.")  # fmt: skip
@click.option("--category", default="default", show_default=True, help="Category of the task (names its log file).")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@pass_app
def exec_cmd(
    app: AppContext,
    name: str,
    schedule: str,
    timezone: str | None,
    shell: bool,
    timeout: int | None,
    priority: int,
    category: str,
    command: tuple[str, ...],
) -> None:
    """Run COMMAND as task NAME, for a line of an existing crontab, and exit with its status.

    \b
        */5 * * * *  smartcron exec pos_sync --schedule '*/5 * * * *' -- /opt/pos/sync --all

    Cron keeps starting the job; smartcron runs it in its own process group with the task's
    timeout and limits, captures its output to the task's log, records the run, and alerts by the
    task's priority. The task NAME is made on first use (smartcron never schedules it: cron does;
    the schedule only tells when a run is late or missed). With the database unreachable the
    command still runs, and its record is written by the next smartcron command that reaches the
    database. Exit status: the command's; 124 when it timed out; 128 + N when a signal N ended it.
    `smartcron tasks import-crontab --wrap` rewrites a whole crontab this way.
    """
    from smartcron.clock import system_clock
    from smartcron.domain.schedule import parse_schedule
    from smartcron.domain.taskfields import FieldProblem
    from smartcron.domain.taskfields import category as check_category
    from smartcron.errors import UserError
    from smartcron.logs import configure
    from smartcron.runner.wrapped import Wrapped, WrappedRun, install_stop_handlers

    settings = app.settings
    if shell and len(command) != 1:
        raise UserError("option --shell: give the command as one shell string after --")
    try:
        check_category(category)
    except FieldProblem as exc:
        raise UserError(f"option --category: {exc}") from None
    parse_schedule(schedule, timezone or settings.timezone, hash_key=name)
    wrapped = Wrapped(name, tuple(command), shell, schedule, timezone, category, priority, timeout)
    configure(settings.log_dir, "exec", console=False)
    run = WrappedRun(settings, wrapped, clock=system_clock(settings.clock_offset_file), base_env=os.environ,
                     cwd=os.getcwd())  # fmt: skip
    install_stop_handlers(run)
    from smartcron.store.engine import RUNNER_STALL_SECONDS

    app.stall_timeout = RUNNER_STALL_SECONDS
    sys.exit(run.run(lambda: app.store))
