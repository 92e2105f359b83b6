"""``smartcron help TOPIC``: man-style pages for what no single command's --help covers.

Each page is built from what the code defines, so it cannot drift from it: ``configuration``
from the fields of :class:`~smartcron.config.Settings` and their metadata, ``statuses`` and
``policies`` from the enums and the docstring of each member, ``schedules`` from
docs/schedules.md (shipped with the package).
"""

from __future__ import annotations

import ast
import inspect
import os
import sys
import textwrap
from collections.abc import Callable
from dataclasses import MISSING, Field, fields
from enum import Enum
from importlib import resources
from itertools import pairwise

import click

from smartcron import config
from smartcron.domain import enums, task
from smartcron.domain.retry import SHELL_FATAL_CODES

WIDTH = 100


def member_docs(enum_class: type[Enum]) -> dict[str, str]:
    """Each member's docstring (the string right under it in the source), by member value."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(enum_class)))
    except (OSError, TypeError):  # no source (a frozen build): the names alone
        return {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    found: dict[str, str] = {}
    for statement, following in pairwise(body):
        if not (isinstance(statement, ast.Assign) and isinstance(statement.targets[0], ast.Name)):
            continue
        if isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant):
            doc = following.value.value
            if isinstance(doc, str):
                member = enum_class[statement.targets[0].id]
                found[str(member.value)] = " ".join(doc.split())
    return found


def _members(enum_class: type[Enum], indent: str = "  ") -> list[str]:
    docs = member_docs(enum_class)
    lines: list[str] = []
    for member in enum_class:
        value = str(member.value)
        lines.append(f"{indent}{value}")
        if value in docs:
            lines += textwrap.wrap(docs[value], WIDTH, initial_indent=indent * 3, subsequent_indent=indent * 3)
    return lines


def statuses_page() -> str:
    lines = ["STATUSES", "", "An execution (one row per task, slot and attempt) is in one of these states:", ""]
    lines += _members(enums.ExecutionStatus)
    lines += ["", "What started it (its trigger):", ""]
    lines += _members(enums.Trigger)
    lines += ["", "An alert's state:", ""]
    lines += _members(enums.AlertState)
    lines += ["", "An alert's severity (from the task's priority: 1 critical, 2 high, 3 low):", ""]
    lines += _members(enums.Severity)
    lines += ["", "A health check's result:", ""]
    lines += _members(enums.CheckStatus)
    return "\n".join(lines)


def policies_page() -> str:
    lines = ["POLICIES", "", "Task-file keys that say what happens when runs collide, are missed, or fail.", ""]
    lines += [f'overlap = "{enums.OverlapPolicy.FORBID}"   when a slot comes while the previous run still runs', ""]
    lines += _members(enums.OverlapPolicy)
    lines += [
        "",
        f'catchup = "{enums.CatchupPolicy.LATEST}"   slots missed while no runner ran (starting_deadline: how many',
        "                      seconds after its slot a run may still start; unset: no limit)",
        "",
    ]
    lines += _members(enums.CatchupPolicy)
    lines += [
        "",
        f"retries = {task.DEFAULT_RETRIES}   further attempts after a recoverable failure, with exponential backoff",
        f"            and jitter: retry_delay = {task.DEFAULT_RETRY_DELAY} s, doubling up to retry_max_delay = "
        f"{task.DEFAULT_RETRY_MAX_DELAY} s.",
        "",
    ]
    lines += _members(enums.ErrorCategory)
    lines += [
        "",
        f"  Fatal are a command that cannot start (exit {', '.join(map(str, sorted(SHELL_FATAL_CODES)))} from a shell)",
        "  and the exit codes the task lists in fatal_exit_codes. retry_unknown_outcome = true also retries a",
        "  run whose outcome a runner crash left unknown (only for tasks safe to run twice).",
        "",
        f"timeout = {task.DEFAULT_TIMEOUT}   seconds; then SIGTERM to the whole process group, kill_grace = "
        f"{task.DEFAULT_KILL_GRACE} s, then SIGKILL.",
    ]
    return "\n".join(lines)


# Settings whose default is worked out when the settings are loaded, not written in the field.
_DERIVED = ("data_dir", "log_dir", "run_dir", "node", "database_url", "backup_dir")


def configuration_page() -> str:
    lines = [
        "CONFIGURATION",
        "",
        "One TOML file plus SMARTCRON_* environment variables; the environment wins over the file, the",
        "file over the defaults. SMARTCRON_HOME puts config, database, logs and run files in one folder;",
        "SMARTCRON_CONFIG (or --config) names the file. Each setting below: its key in the file",
        "([section] key), its environment variable, its default, and what it is.",
    ]
    paths = config.default_paths(os.environ, os.geteuid())
    section = None
    for field in fields(config.Settings):
        if field.name in ("home", "config_file"):
            continue
        key = config.file_key(field.name)
        here = key.split(".")[0] if "." in key else ""
        if here != section:
            section = here
            lines += ["", f"[{section}]" if section else "top level", ""]
        default = f"{paths[field.name]} (in this environment)" if field.name in paths else _default(field)
        lines.append(f"  {key.split('.')[-1]}    {config.env_name(field.name)}    default: {default}")
        about = str(field.metadata.get("help", ""))
        low, high = field.metadata.get("min"), field.metadata.get("max")
        if low is not None and high is not None:
            about += f" ({low:g} to {high:g})"
        lines += textwrap.wrap(about, WIDTH, initial_indent="      ", subsequent_indent="      ")
    return "\n".join(lines)


def _default(field: Field[object]) -> str:
    value = field.default
    if field.name in _DERIVED:
        return "derived when the settings are loaded"
    if value is MISSING or value in ("", ()):
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)


def schedules_page() -> str:
    return resources.files("smartcron.cli").joinpath("topics/schedules.md").read_text(encoding="utf-8")


TOPICS: dict[str, tuple[str, Callable[[], str]]] = {
    "schedules": ("cron syntax: Debian's, the forms other crons bring, H, DST", schedules_page),
    "policies": ("overlap, catch-up, retries, timeouts", policies_page),
    "configuration": ("every setting: file key, environment variable, default", configuration_page),
    "statuses": ("what each execution status and trigger means", statuses_page),
}


@click.command("help")
@click.argument("topic", required=False, type=click.Choice(list(TOPICS)))
def help_cmd(topic: str | None) -> None:
    """Read a topic: schedules, policies, configuration or statuses (each command has --help)."""
    if topic is None:
        width = max(map(len, TOPICS))
        click.echo("smartcron help TOPIC, for TOPIC one of:")
        for name, (about, _) in TOPICS.items():
            click.echo(f"  {name:<{width}}  {about}")
        click.echo("Each command has its own --help: smartcron tasks apply --help.")
        return
    page = TOPICS[topic][1]()
    if sys.stdout.isatty():
        click.echo_via_pager(page)
    else:
        click.echo(page)
