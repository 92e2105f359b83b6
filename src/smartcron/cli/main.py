"""Entry point. Subcommands live one module per group and are imported only when used."""

from __future__ import annotations

import gc
import importlib
import sys
from typing import Any

import click

from smartcron import __version__
from smartcron.cli import completion
from smartcron.cli.context import AppContext
from smartcron.errors import SmartcronError

# name -> "module:attribute"; keeps `smartcron next` from importing the web stack.
COMMANDS: dict[str, str] = {
    "init": "smartcron.cli.setup:init",
    "db": "smartcron.cli.setup:db",
    "next": "smartcron.cli.schedule:next_cmd",
    "explain": "smartcron.cli.schedule:explain_cmd",
    "tasks": "smartcron.cli.tasks:tasks",
    "run": "smartcron.cli.runner:run_cmd",
    "tick": "smartcron.cli.runner:tick_cmd",
    "exec": "smartcron.cli.exec:exec_cmd",
    "runs": "smartcron.cli.history:runs_cmd",
    "logs": "smartcron.cli.history:logs_cmd",
    "why": "smartcron.cli.why:why_cmd",
    "install": "smartcron.cli.install:install_cmd",
    "uninstall": "smartcron.cli.install:uninstall_cmd",
    "health": "smartcron.cli.health:health_cmd",
    "nodes": "smartcron.cli.nodes:nodes",
    "alerts": "smartcron.cli.alerts:alerts",
    "maintenance": "smartcron.cli.maintenance:maintenance",
    "web": "smartcron.cli.web:web_cmd",
    "users": "smartcron.cli.users:users",
    "tokens": "smartcron.cli.users:tokens",
    "demo": "smartcron.cli.demo:demo_cmd",
    "completion": "smartcron.cli.completion:completion_cmd",
    "help": "smartcron.cli.help:help_cmd",
}


_collection_deferred = False
"""True while garbage collection waits for the command's imports (a command run from the shell)."""


def _defer_collection() -> None:
    # Importing a command creates a few hundred thousand objects that live as long as the process;
    # collecting among them while they are being created is wasted start-up time (a tenth of a
    # `smartcron tick`). Collection resumes once the command is imported, with those objects frozen
    # (never scanned again), so a long-running command collects as usual.
    global _collection_deferred
    if gc.isenabled():
        gc.disable()
        _collection_deferred = True


def _resume_collection() -> None:
    global _collection_deferred
    if _collection_deferred:
        _collection_deferred = False
        gc.freeze()
        gc.enable()


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if self._load(name) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # not built yet
                return None
            raise
        _resume_collection()
        command = getattr(module, attribute, None)
        if not isinstance(command, click.Command):
            return None
        if completion.completing():  # a shell asks what may come next: task names, execution ids
            completion.attach((name,), command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    envvar="SMARTCRON_CONFIG",
    help="Config file (default: $SMARTCRON_HOME/smartcron.toml, /etc/smartcron/smartcron.toml "
    "for root, else ~/.config/smartcron/smartcron.toml).",
)
@click.version_option(__version__, prog_name="smartcron")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None) -> None:
    """smartcron: every recurring job run once, safely, on time, and remembered.

    A task registry in a database, a runner that runs each due task in its own process with
    timeout, overlap lock, retries and limits, a health monitor, alerts by severity, and a web
    dashboard. Set SMARTCRON_HOME to keep everything in one folder; SMARTCRON_DATABASE_URL picks
    SQLite (default), PostgreSQL or MySQL/MariaDB.

    \b
    Start here:
      smartcron init                      create config, database and built-in tasks
      smartcron tasks apply tasks.toml    register your tasks from a file
      smartcron run                       run the scheduler daemon (or: install + tick)
      smartcron web                       open the dashboard
    """
    ctx.obj = AppContext(config_file=config_file)
    ctx.call_on_close(ctx.obj.close)


def main(argv: list[str] | None = None) -> Any:
    if argv is None:  # from the shell (not a test calling main in its own process)
        _defer_collection()
    try:
        result = cli.main(args=argv, prog_name="smartcron", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except SmartcronError as exc:
        click.echo(f"smartcron: {exc.message}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    # Without standalone mode click returns what `ctx.exit(code)` asked for instead of exiting.
    if isinstance(result, int) and result != 0:
        sys.exit(result)
    return result
