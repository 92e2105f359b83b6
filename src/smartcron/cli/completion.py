"""``smartcron completion bash|zsh|fish``: the shell's completion script, through click's shell
completion machinery, and what it completes beyond commands and options: task names (from the
registry) and the ids of recent executions.

The completers are attached only while a shell asks for completions (``_SMARTCRON_COMPLETE`` is
set), as commands are loaded; an ordinary run never sees them. A completer never prints an
error: with no database or no configuration there is simply nothing to offer.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click
from click.shell_completion import CompletionItem, get_completion_class

from smartcron.cli.context import AppContext

PROGRAM = "smartcron"
COMPLETE_VAR = "_SMARTCRON_COMPLETE"
SHELLS = ("bash", "zsh", "fish")
RECENT_EXECUTIONS = 20
# Commands under `tasks` whose NAME is a registered task (`tasks add` names a new one).
_TASK_COMMANDS = frozenset({"show", "edit", "remove", "enable", "disable", "pause", "resume", "run"})

Completer = Callable[[click.Context, str], list[CompletionItem]]


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion_cmd(ctx: click.Context, shell: str) -> None:
    """Print the completion script for SHELL (commands, options, task names, recent execution ids).

    \b
    bash:  eval "$(smartcron completion bash)"     in ~/.bashrc
    zsh:   eval "$(smartcron completion zsh)"      in ~/.zshrc
    fish:  smartcron completion fish > ~/.config/fish/completions/smartcron.fish
    """
    completion_class = get_completion_class(shell)
    assert completion_class is not None  # click.Choice let only known shells through
    script = completion_class(ctx.find_root().command, {}, PROGRAM, COMPLETE_VAR).source()
    click.echo(script, nl=not script.endswith("\n"))


def completing() -> bool:
    """Is this process answering a shell's request for completions?"""
    return COMPLETE_VAR in os.environ


def attach(path: tuple[str, ...], command: click.Command) -> None:
    """Give the parameters of ``command`` (at ``path`` under smartcron) and of its subcommands
    their completers: task names for a task's NAME and every --task, ids for EXECUTION_ID."""
    for param in command.params:
        completer = _completer_for(path, param)
        if completer is not None and not isinstance(param.type, _Completing):
            param.type = _Completing(param.type, completer)
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            attach((*path, name), sub)


def _completer_for(path: tuple[str, ...], param: click.Parameter) -> Completer | None:
    if param.name == "execution_id":
        return recent_executions
    if param.name in ("task", "task_name"):
        return task_names
    if param.name == "name" and len(path) == 2 and path[0] == "tasks" and path[1] in _TASK_COMMANDS:
        return task_names
    return None


if TYPE_CHECKING:  # generic from click 8.2 on
    _ParamType = click.ParamType[Any, Any]
else:
    _ParamType = click.ParamType


class _Completing(_ParamType):
    """The parameter's own type, plus a completer: converts as before, completes from the store."""

    def __init__(self, wrapped: _ParamType, completer: Completer) -> None:
        self.wrapped = wrapped
        self.completer = completer
        self.name = wrapped.name

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return self.wrapped.convert(value, param, ctx)

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        return self.completer(ctx, incomplete)


def _with_app(ctx: click.Context, read: Callable[[AppContext], list[CompletionItem]]) -> list[CompletionItem]:
    app = AppContext(config_file=ctx.find_root().params.get("config_file"))
    try:
        return read(app)
    except Exception:  # no config, no database, no schema: nothing to offer, and nothing to say
        return []
    finally:
        app.close()


def task_names(ctx: click.Context, incomplete: str) -> list[CompletionItem]:
    """Registered tasks whose name starts with what was typed, with their category as help."""

    def read(app: AppContext) -> list[CompletionItem]:
        return [
            CompletionItem(task.name, help=task.spec.description or task.spec.category)
            for task in app.store.tasks.list()
            if task.name.startswith(incomplete)
        ]

    return _with_app(ctx, read)


def recent_executions(ctx: click.Context, incomplete: str) -> list[CompletionItem]:
    """The newest executions' ids, each with its task and status as help."""

    def read(app: AppContext) -> list[CompletionItem]:
        return [
            CompletionItem(str(run.id), help=f"{run.task_name} {run.status.value} {run.scheduled_for:%Y-%m-%d %H:%M}")
            for run in app.store.executions.list(limit=RECENT_EXECUTIONS)
            if str(run.id).startswith(incomplete)
        ]

    return _with_app(ctx, read)
