"""``smartcron health``: one health pass, for the seed's crontab line every 5 minutes."""

from __future__ import annotations

import sys

import click

from smartcron.cli.context import AppContext, echo_json, json_option, pass_app
from smartcron.clock import utcnow
from smartcron.domain.enums import CheckStatus
from smartcron.monitor.service import HealthMonitor, HealthReport
from smartcron.store import open_store

MARKS = {CheckStatus.OK: ("ok", "green"), CheckStatus.WARN: ("WARN", "yellow"), CheckStatus.FAIL: ("FAIL", "red")}


def _value(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _print_table(report: HealthReport) -> None:
    width = max(len(result.name) for result in report.checks)
    for result in report.checks:
        mark, colour = MARKS[result.status]
        status = click.style(f"{mark:<4}", fg=colour)
        click.echo(f"{status}  {result.name:<{width}}  {_value(result.value):>9}  {result.message}")
    click.echo(f"worst: {report.worst.value}")


@click.command("health")
@json_option
@pass_app
def health_cmd(app: AppContext, as_json: bool) -> None:
    """Check the database, disks, memory, CPU, runner heartbeat and runs, and the success indicators.

    Dead runs are marked abandoned, hung runs killed, stale queued runs recorded missed; results
    go to the database and raise or resolve alerts, and pending alert messages are sent.
    Exit status 1 when a check fails (a warning alone still exits 0).
    """
    from smartcron.logs import configure

    settings = app.settings
    configure(settings.log_dir, "health")
    # Not app.store: that refuses an unreachable database, which here is a finding to report.
    store = open_store(settings)
    try:
        now = utcnow()
        report = HealthMonitor(store, settings).run(now)
        if report.database_reachable:
            from smartcron.alerts.dispatcher import Dispatcher

            Dispatcher(store, settings, node=settings.node).send_pending(now)
    finally:
        store.close()
    if as_json:
        echo_json([result.to_dict() for result in report.checks])
    else:
        _print_table(report)
    if report.worst is CheckStatus.FAIL:
        sys.exit(1)  # a value returned through click would be lost under `python -m smartcron`
