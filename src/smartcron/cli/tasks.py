"""``smartcron tasks ...``: the registry from the command line. Each command parses its input and
calls :class:`~smartcron.registry.service.Registry`; the rules live there."""

from __future__ import annotations

import getpass
import os
import shlex
import sys
import tomllib
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from smartcron.cli import tasks_render as render
from smartcron.cli.context import AppContext, echo_json, json_option, pass_app
from smartcron.clock import SystemClock
from smartcron.domain.task import Task, TaskOrigin
from smartcron.domain.taskfile import decode_task_file, parse_task_file, spec_from_mapping
from smartcron.errors import SmartcronError, TaskSpecError, UserError
from smartcron.registry.service import ApplyPlan, Registry, origin_text


def cli_actor() -> str:
    """``cli:<login name>``, as the audit log records changes made here."""
    try:
        login = getpass.getuser()
    except (OSError, KeyError):  # no passwd entry, as in some containers
        login = f"uid{os.getuid()}"
    return f"cli:{login}"


def _registry(app: AppContext) -> Registry:
    return Registry(app.store, app.settings, actor=cli_actor())


def _now() -> datetime:
    return SystemClock().now()


def _read_task_file(path: str) -> tuple[str, str]:
    """(text, name to show in errors) of a task file; ``-`` reads standard input."""
    if path == "-":
        return decode_task_file(sys.stdin.buffer.read(), source="<stdin>"), "<stdin>"
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise TaskSpecError(f"cannot read: {exc.strerror or exc}", source=path) from None
    return decode_task_file(data, source=path), path


def _names(tasks: Sequence[Task], *, origins: bool = False) -> str:
    shown = [f"{task.name} ({origin_text(task)})" if origins else task.name for task in tasks[:5]]
    return ", ".join(shown) + (" ..." if len(tasks) > 5 else "")


def _confirm_removals(plan: ApplyPlan, source: str, yes: bool) -> None:
    """Removing tasks needs a 'y' or --yes; removing tasks no task file made needs --yes."""
    elsewhere = plan.removes_made_elsewhere
    if elsewhere and not yes:
        click.echo(
            f"smartcron: {len(elsewhere)} of the tasks --prune would remove were not made from a task file: "
            f"{_names(elsewhere, origins=True)}",
            err=True,
        )
        raise UserError(f"--prune: pass --yes to remove {len(elsewhere)} task(s) made elsewhere; nothing changed")
    question = f"remove {len(plan.removes)} task(s) not in {source} ({_names(plan.removes)}) and their history"
    _confirm_or_fail(question, yes)


def _confirm_or_fail(question: str, yes: bool) -> None:
    """Destructive changes need --yes, or a 'y' typed on a terminal."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise UserError(f"{question}: pass --yes to confirm")
    if not click.confirm(question + "?", default=False):
        raise UserError("nothing changed")


@click.group()
def tasks() -> None:
    """Register, change and inspect tasks."""


@tasks.command("apply")
@click.argument("file")
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@click.option("--prune", is_flag=True, help="Also remove registered tasks that the file does not list.")
@click.option(
    "--yes", "-y", is_flag=True, help="Do not ask before removing tasks (needed for tasks not made from a task file)."
)
@json_option
@pass_app
def apply_cmd(app: AppContext, file: str, dry_run: bool, prune: bool, yes: bool, as_json: bool) -> None:
    """Sync the registry with the task file FILE (TOML, one [[task]] per task; - reads stdin).

    Shows what it adds, changes and removes, then applies everything in one transaction.
    Built-in tasks are never pruned. Applying the same file again changes nothing. --prune
    removes tasks made with the CLI, the API, the dashboard or `exec` only with --yes.
    """
    text, source = _read_task_file(file)
    specs = parse_task_file(text, source=source, default_timezone=app.settings.timezone)
    registry = _registry(app)
    now = _now()
    plan = registry.plan_apply(specs, prune=prune, now=now)
    if not dry_run and plan.removes:
        _confirm_removals(plan, source, yes)
    if not dry_run:
        registry.apply(plan, now=now)
    if as_json:
        echo_json(plan.to_dict() | {"dry_run": dry_run, "applied": not dry_run and not plan.is_empty})
    else:
        render.print_plan(plan, dry_run=dry_run)


@tasks.command("export")
@click.option("--output", "-o", metavar="FILE", help="Write the task file here instead of printing it.")
@pass_app
def export_cmd(app: AppContext, output: str | None) -> None:
    """Print the registry as a task file (TOML) that `tasks apply` takes back unchanged.

    Built-in tasks are left out (`smartcron init` registers them).
    """
    from smartcron.registry.export import export_task_file

    text = export_task_file(app.store.tasks.list(), now=_now(), source=app.store.url)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"--output {output}: cannot write: {exc.strerror or exc}") from None
    click.echo(f"wrote {output}", err=True)


@tasks.command("list")
@click.option("--category", "-c", help="Only tasks of this category.")
@json_option
@pass_app
def list_cmd(app: AppContext, category: str | None, as_json: bool) -> None:
    """All registered tasks: schedule, state, last status and next run (in the task's time zone)."""
    registry = _registry(app)
    found = app.store.tasks.list(category=category)
    if as_json:
        echo_json([render.task_summary(task, registry) for task in found])
    else:
        render.print_task_table(found, registry)


@tasks.command("show")
@click.argument("name")
@json_option
@pass_app
def show_cmd(app: AppContext, name: str, as_json: bool) -> None:
    """Every field of task NAME, its state, and its next 5 fire times."""
    registry = _registry(app)
    detail = render.task_detail(app.store.tasks.get(name), registry, _now())
    if as_json:
        echo_json(detail)
    else:
        render.print_task_detail(detail)


def _number_or_text(value: str | None) -> Any:
    """An integer option as an integer; anything else passes through so the check names the problem."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return value


def toml_value(assignment: str) -> tuple[str, Any]:
    """``key=value`` with the value read as TOML (``60``, ``true``, ``["a", "b"]``, ``"text"``).

    A value that is not TOML is taken as a plain string, so ``schedule=*/5 * * * *`` works unquoted;
    the task check still rejects a string where a number belongs.
    """
    key, sep, raw = assignment.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UserError(f"--set {assignment!r}: expected key=value")
    try:
        return key, tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        return key, raw


def _key_values(pairs: tuple[str, ...], option: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError(f"{option} {pair!r}: expected KEY=VALUE")
        found[key] = value
    return found


def _command_value(command: str | None, argv: tuple[str, ...], shell: bool) -> Any:
    if command is not None and argv:
        raise UserError("give the command either with --command or after --, not both")
    if shell:
        return command if command is not None else (shlex.join(argv) if argv else None)
    if argv:
        return list(argv)
    if command is None:
        return None
    try:
        return shlex.split(command)
    except ValueError as exc:
        raise UserError(f"--command: {exc}") from None


def _print_task(app: AppContext, name: str, verb: str, as_json: bool) -> None:
    task = app.store.tasks.get(name)
    registry = _registry(app)
    if as_json:
        echo_json(render.task_summary(task, registry))
        return
    zone = registry.zone_of(task.spec)
    click.echo(f"{verb} {task.name}: {render.state_of(task)}, next run {render.local_time(task.next_run_at, zone)}")


@tasks.command("add")
@click.argument("name", required=False)
@click.argument("argv", nargs=-1)
@click.option("--file", "file", help="Add the one task defined in this task file.")
@click.option("--schedule", "-s", help="Cron expression, e.g. '*/30 * * * *' or '@daily'.")
@click.option("--command", "command", help="The command line (split like a shell would; or give argv after --).")
@click.option("--shell", is_flag=True, help="Run --command through /bin/sh.")
@click.option("--category", help="Category [default].")
@click.option("--description", help="What the task does.")
@click.option("--timezone", "--tz", "timezone", help="IANA time zone [the configured default].")
@click.option("--priority", help="1 critical, 2 high, 3 low [2].")
@click.option("--timeout", help="Seconds [300].")
@click.option("--retries", help="Extra attempts after a recoverable failure [3].")
@click.option("--working-dir", help="Absolute directory to run in.")
@click.option("--env", "env", multiple=True, help="KEY=VALUE for the task's environment (repeatable).")
@click.option("--disabled", is_flag=True, help="Register it disabled.")
@click.option("--no-notify", is_flag=True, help="Do not alert on failure.")
@click.option("--overlap", help="forbid, queue, replace or allow [forbid].")
@click.option("--catchup", help="latest, all or none [latest].")
@click.option("--max-memory-mb", help="Memory limit in MiB.")
@click.option("--nice", help="Niceness from -20 to 19.")
@click.option("--notify-email", "notify_emails", multiple=True, help="Extra alert recipient (repeatable).")
@click.option("--set", "assignments", multiple=True, help="Any other task-file key: key=TOML value (repeatable).")
@json_option
@pass_app
def add_cmd(app: AppContext, /, name: str | None, argv: tuple[str, ...], file: str | None, **options: Any) -> None:
    """Register task NAME. The command follows -- as arguments, or comes with --command.

    \b
    smartcron tasks add backup --schedule '0 1 * * *' -- /usr/local/bin/backup --full
    smartcron tasks add report -s '@daily' --shell --command 'report.sh | mail ops'
    smartcron tasks add --file one-task.toml
    """
    as_json = options.pop("as_json")
    registry = _registry(app)
    if file is not None:
        text, source = _read_task_file(file)
        specs = parse_task_file(text, source=source, default_timezone=app.settings.timezone)
        if len(specs) != 1:
            raise TaskSpecError(f"must define exactly one task for `add --file`, found {len(specs)}", source=source)
        if name is not None and name != specs[0].name:
            raise UserError(f"NAME {name!r} differs from the file's task {specs[0].name!r}")
        spec, origin = specs[0], TaskOrigin.FILE
    else:
        if name is None:
            raise UserError("give the task NAME (or --file FILE)")
        spec = spec_from_mapping(_mapping_from_options(name, argv, options), default_timezone=app.settings.timezone)
        origin = TaskOrigin.CLI
    registry.add(spec, now=_now(), origin=origin)
    _print_task(app, spec.name, "added", as_json)


def _mapping_from_options(name: str, argv: tuple[str, ...], options: dict[str, Any]) -> dict[str, Any]:
    shell = bool(options["shell"])
    data: dict[str, Any] = dict(toml_value(item) for item in options["assignments"])
    data |= {
        "name": name,
        "schedule": options["schedule"],
        "command": _command_value(options["command"], argv, shell),
        "shell": True if shell else data.get("shell"),
        "category": options["category"],
        "description": options["description"],
        "timezone": options["timezone"],
        "priority": _number_or_text(options["priority"]),
        "timeout": _number_or_text(options["timeout"]),
        "retries": _number_or_text(options["retries"]),
        "working_dir": options["working_dir"],
        "env": _key_values(options["env"], "--env") or data.get("env"),
        "enabled": False if options["disabled"] else data.get("enabled"),
        "notify_on_failure": False if options["no_notify"] else data.get("notify_on_failure"),
        "overlap": options["overlap"],
        "catchup": options["catchup"],
        "max_memory_mb": _number_or_text(options["max_memory_mb"]),
        "nice": _number_or_text(options["nice"]),
        "notify_emails": list(options["notify_emails"]) or data.get("notify_emails"),
    }
    given = {key: value for key, value in data.items() if value is not None}
    if given.get("command") is None:
        raise UserError("give the command after -- (e.g. -- php /path/job.php) or with --command")
    return given


@tasks.command("edit")
@click.argument("name")
@click.option("--set", "assignments", multiple=True, help="key=value, value as TOML: timeout=60, 'command=[\"a\"]'.")
@click.option("--unset", "unset", multiple=True, help="Reset a key to its default (repeatable).")
@json_option
@pass_app
def edit_cmd(app: AppContext, name: str, assignments: tuple[str, ...], unset: tuple[str, ...], as_json: bool) -> None:
    """Change keys of task NAME; the result is checked like a task-file entry.

    \b
    smartcron tasks edit payroll_sync --set timeout=600 --set 'schedule=0 */2 * * *'
    smartcron tasks edit payroll_sync --unset max_memory_mb
    """
    if not assignments and not unset:
        raise UserError("nothing to change: give --set key=value or --unset key")
    changes: dict[str, Any] = {key: None for key in unset}
    changes |= dict(toml_value(item) for item in assignments)
    _registry(app).edit(name, changes, now=_now())
    _print_task(app, name, "edited", as_json)


@tasks.command("remove")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask.")
@pass_app
def remove_cmd(app: AppContext, name: str, yes: bool) -> None:
    """Unregister task NAME (its run history goes with it)."""
    task = app.store.tasks.get(name)  # a missing task is reported before any question
    if not task.builtin:  # a built-in one is refused by the registry without asking
        _confirm_or_fail(f"remove task {name!r} and its history", yes)
    _registry(app).remove(name, now=_now())
    click.echo(f"removed {name}")


def _flag_command(verb: str, past: str, doc: str) -> click.Command:
    @click.command(verb, help=doc)
    @click.argument("name")
    @json_option
    @pass_app
    def command(app: AppContext, name: str, as_json: bool) -> None:
        getattr(_registry(app), verb)(name, now=_now())
        _print_task(app, name, past, as_json)

    return command


tasks.add_command(_flag_command("enable", "enabled", "Enable task NAME; its next slot after now is its next run."))
tasks.add_command(_flag_command("disable", "disabled", "Disable task NAME: no runs until it is enabled."))
tasks.add_command(
    _flag_command("pause", "paused", "Pause task NAME (recorded in the audit log); missed slots are not caught up.")
)
tasks.add_command(_flag_command("resume", "resumed", "Resume task NAME from its next slot after now."))


@tasks.command("run")
@click.argument("name")
@click.option("--wait", is_flag=True, help="Wait for the run to finish; exit 0 on success, 1 otherwise.")
@json_option
@pass_app
def run_cmd(app: AppContext, name: str, wait: bool, as_json: bool) -> None:
    """Run task NAME now (the runner picks it up; with no runner alive, it runs here)."""
    try:
        from smartcron.runner.manual import trigger
    except ModuleNotFoundError as exc:
        raise SmartcronError("the runner is not available in this installation") from exc
    app.store.tasks.get(name)
    execution = trigger(app.settings, app.store, name, wait=wait, by=cli_actor())
    if as_json:
        echo_json(
            {
                "id": execution.id,
                "task": execution.task_name,
                "status": execution.status.value,
                "exit_code": execution.exit_code,
                "duration_ms": execution.duration_ms,
            }
        )
    elif wait:
        exit_code = "-" if execution.exit_code is None else execution.exit_code
        click.echo(f"execution {execution.id}: {execution.status.value} (exit code {exit_code})")
    else:
        click.echo(f"execution {execution.id} queued for {execution.task_name}")
    if wait and execution.status.value != "success":
        sys.exit(1)


@tasks.command("import-crontab")
@click.argument("file", required=False)
@click.option("--system", is_flag=True, help="FILE is in the /etc/crontab format: a user field after the time.")
@click.option("--output", "-o", help="Write the task file here instead of printing it.")
@click.option("--wrap", is_flag=True, help="Instead: rewrite the crontab so each job goes through `smartcron exec` "
              "(shown as a diff).")  # fmt: skip
@click.option("--write", is_flag=True, help="With --wrap: install the rewritten crontab, keeping a backup.")
@pass_app
def import_crontab_cmd(
    app: AppContext, file: str | None, system: bool, output: str | None, wrap: bool, write: bool
) -> None:
    """Turn a crontab into a task file. FILE, - for stdin, or (default) your own `crontab -l`.

    With --wrap, keep the crontab and its schedules instead, and send each job through `smartcron
    exec`, which runs, records and alerts on it: a team adopts smartcron line by line. The change
    is shown as a diff, and made only with --write (a backup of the old crontab is kept)."""
    from smartcron.registry import crontab_import

    if write and not wrap:
        raise UserError("option --write: only with --wrap (a task file goes to --output)")
    text = _read_crontab(file)
    if wrap:
        from smartcron.cli.crontab_wrap import wrap as wrap_text

        wrap_text(app.settings, text, file=file, system=system, write=write)
        return
    source = "<stdin>" if file == "-" else (file or "crontab -l")
    # Without --system the importer tells the two formats apart by the text itself.
    result = crontab_import.convert_crontab(
        text, default_timezone=app.settings.timezone, system=True if system else None, source=source
    )
    toml_text, warnings = result.toml, result.warnings
    for warning in warnings:
        click.echo(f"smartcron: warning: {warning}", err=True)
    if output:
        Path(output).write_text(toml_text, encoding="utf-8")
        click.echo(f"wrote {output}; check it, then `smartcron tasks apply {output}`", err=True)
    else:
        click.echo(toml_text, nl=False)


def _read_crontab(file: str | None) -> str:
    import subprocess

    if file == "-":
        return sys.stdin.read()
    if file is not None:
        try:
            return Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"{file}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        listed = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=False)
    except OSError as exc:
        raise UserError(f"cannot run `crontab -l` ({exc.strerror}); give the crontab FILE instead") from None
    if listed.returncode != 0:
        problem = (listed.stderr.strip().splitlines() or ["failed"])[0]
        raise UserError(f"`crontab -l`: {problem}")
    return listed.stdout
