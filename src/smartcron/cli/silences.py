"""``smartcron alerts silence add|list|remove``: no message about a task's or a rule's alerts for
a while (maintenance, a known outage); the alerts are still stored and shown."""

from __future__ import annotations

from datetime import datetime

import click
from rich.markup import escape
from rich.table import Table

from smartcron.cli.context import AppContext, echo_json, json_option, pass_app
from smartcron.cli.tasks import cli_actor
from smartcron.cli.tasks_render import console, local_time
from smartcron.errors import UserError
from smartcron.services.silence_actions import remove_silence, silence_alerts

ISO_FORMATS = ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d %H:%M%z"]


@click.group("silence")
def silence() -> None:
    """Silences: for a while, no message about the alerts of a task or of a custom rule.

    Alerts raised meanwhile are stored, counted and shown as usual. When a silence ends (or is
    removed) an alert that is still open gets its message at once.
    """


@silence.command("add")
@click.option("--task", help="The task whose alerts to silence.")
@click.option("--rule", help="The custom rule whose alerts to silence (with --task: only on that task).")
@click.option("--for", "duration", metavar="DURATION", help="How long: 30m, 2h, 1d (1 min to 90 days).")
@click.option("--until", "until", type=click.DateTime(ISO_FORMATS), help="Until this time (ISO 8601, with an offset).")
@click.option("--reason", help="Why, for the others (shown in the list and the audit log).")
@json_option
@pass_app
def add_cmd(
    app: AppContext,
    task: str | None,
    rule: str | None,
    duration: str | None,
    until: datetime | None,
    reason: str | None,
    as_json: bool,
) -> None:
    """Silence a task's or a rule's alerts for a while.

    \b
    smartcron alerts silence add --task nightly_backup --for 2h --reason "disk swap"
    smartcron alerts silence add --rule flaky --until 2026-03-02T08:00:00+13:00
    """
    if duration is None and until is None:
        raise UserError("give --for DURATION or --until TIME")
    found = silence_alerts(
        app.store, by=cli_actor(), task=task, rule=rule, duration=duration, until=until, reason=reason
    )
    if as_json:
        echo_json(found.to_dict())
        return
    click.echo(
        f"silence {found.id}: no message about {found.describe()} until "
        f"{local_time(found.until, app.settings.timezone)}"
    )


@silence.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include silences that have ended.")
@json_option
@pass_app
def list_cmd(app: AppContext, show_all: bool, as_json: bool) -> None:
    """Silences in force (with --all, also those that have ended), ending soonest first."""
    store = app.store
    found = store.silences.list(now=store.database_now(), include_ended=show_all)
    if as_json:
        echo_json([item.to_dict() for item in found])
        return
    if not found:
        click.echo("no silences" if show_all else "no silence in force")
        return
    table = Table(box=None, pad_edge=False)
    for column in ("ID", "SILENCES", "UNTIL", "BY", "REASON"):
        table.add_column(column, no_wrap=column != "REASON")
    for item in found:
        table.add_row(
            str(item.id),
            escape(item.describe()),
            local_time(item.until, app.settings.timezone),
            escape(item.created_by),
            escape(item.reason or "-"),
        )
    console().print(table)


@silence.command("remove")
@click.argument("silence_id", type=click.IntRange(1, 2**62))
@pass_app
def remove_cmd(app: AppContext, silence_id: int) -> None:
    """End silence SILENCE_ID now; alerts it held back that are still open are sent at once."""
    found = remove_silence(app.store, silence_id, by=cli_actor())
    click.echo(f"removed silence {found.id} of {found.describe()}")
