"""``smartcron init`` and ``smartcron db``."""

from __future__ import annotations

import click

from smartcron.cli.context import AppContext, echo_json, json_option, pass_app
from smartcron.services.setup import initialise


@click.command()
@json_option
@pass_app
def init(app: AppContext, as_json: bool) -> None:
    """Create the config file, directories and database, and register the built-in tasks.

    Safe to run again: existing files and tasks are left as they are, the schema is upgraded.
    """
    report = initialise(app.settings)
    if as_json:
        echo_json(report)
        return
    click.echo(f"config file   {report['config_file']}{'' if report['config_created'] else ' (kept)'}")
    click.echo(f"database      {report['database']}")
    click.echo(f"data dir      {report['data_dir']}")
    click.echo(f"log dir       {report['log_dir']}")
    if report["builtin_added"]:
        click.echo(f"built-in tasks added: {', '.join(report['builtin_added'])}")
    click.echo("next: `smartcron tasks apply FILE` to register tasks, then `smartcron run`")


@click.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@pass_app
def db_upgrade(app: AppContext) -> None:
    """Apply pending schema migrations (idempotent)."""
    from smartcron.store import open_store
    from smartcron.store.migrate import current_revision

    store = open_store(app.settings)
    try:
        store.upgrade()
        click.echo(f"schema at revision {current_revision(store.engine)} ({store.url})")
    finally:
        store.close()
