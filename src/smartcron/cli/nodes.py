"""``smartcron nodes``: the runners sharing this database, and draining one for an upgrade."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import click

from smartcron.cli.context import AppContext, echo_json, json_option, pass_app


@click.group("nodes", invoke_without_command=True)
@json_option
@click.pass_context
def nodes(ctx: click.Context, as_json: bool) -> None:
    """The runners (daemons, and ticks while they run) that share this database.

    For each: state (active; draining: finishing its runs before it stops; lost: its heartbeat is
    older than its lease, so other runners take its runs over; stopped), tags, version, the age
    of its last heartbeat, how far its clock is from the database's (over 2 s is flagged: slots
    and leases follow the database's clock), its running runs and their latest lease.
    """
    if ctx.invoked_subcommand is not None:
        return
    app: AppContext = ctx.ensure_object(AppContext)
    from smartcron.monitor.nodes import node_views

    store = app.store
    views = node_views(store, app.settings, store.database_now())
    if as_json:
        echo_json([view.to_dict() for view in views])
        return
    if not views:
        click.echo("no runner has ever reported: start `smartcron run` (or `smartcron install`)")
        return
    zone = ZoneInfo(app.settings.timezone)
    header = ("NODE", "ROLE", "STATE", "TAGS", "VERSION", "HEARTBEAT", "CLOCK", "RUNNING", "LEASE UNTIL")
    rows = [
        (
            view.name,
            view.role,
            view.state + (f" (by {view.drain_requested_by})" if view.drain_requested_by else ""),
            ",".join(view.tags) or "-",
            view.version or "-",
            f"{view.heartbeat_age:.0f} s ago",
            _offset(view.clock_offset_ms, view.skewed),
            str(view.running),
            _local(view.lease_expires_at, zone),
        )
        for view in views
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _offset(milliseconds: int | None, skewed: bool) -> str:
    if milliseconds is None:
        return "-"
    return f"{milliseconds / 1000:+.1f} s" + (" (skewed)" if skewed else "")


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%H:%M:%S %Z") if moment else "-"


@nodes.command("drain")
@click.argument("name")
@pass_app
def drain_cmd(app: AppContext, name: str) -> None:
    """Ask runner NAME to drain, for a rolling upgrade: it stops claiming at its next heartbeat,
    leaves its queued runs to the other runners, finishes what runs, and exits 0. Starting it
    again puts it back in service."""
    from smartcron.cli.tasks import cli_actor
    from smartcron.services.node_actions import DRAIN_MESSAGE, drain_node

    drain_node(app.store, name, by=cli_actor())
    click.echo(DRAIN_MESSAGE.format(name=name))
