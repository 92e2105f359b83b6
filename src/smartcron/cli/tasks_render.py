"""How ``smartcron tasks`` shows things: the apply diff, the task table, one task in full, and JSON."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from smartcron.domain.schedule import describe
from smartcron.domain.task import Task, TaskOrigin
from smartcron.errors import ScheduleError
from smartcron.registry.service import ApplyPlan, Registry

NEXT_FIRE_TIMES = 5


def console() -> Console:
    """A console on the current stdout: colours on a terminal, plain and wide when piped."""
    stream = sys.stdout  # looked up now: the CLI test runner swaps it
    is_terminal = stream.isatty()
    return Console(file=stream, width=None if is_terminal else 200, highlight=False, soft_wrap=not is_terminal)


def local_time(moment: datetime | None, zone: str) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S %Z")


def iso_in_zone(moment: datetime | None, zone: str) -> str | None:
    return moment.astimezone(ZoneInfo(zone)).isoformat() if moment else None


def schedule_words(task: Task) -> str | None:
    """The task's schedule in plain words, or None for an expression that no longer parses."""
    try:
        return describe(task.spec.schedule, hash_key=task.name)
    except ScheduleError:
        return None


def state_of(task: Task) -> str:
    if not task.spec.enabled:
        return "disabled"
    return "paused" if task.paused else "enabled"


def task_summary(task: Task, registry: Registry) -> dict[str, Any]:
    """One task as ``tasks list --json`` prints it."""
    zone = registry.zone_of(task.spec)
    return {
        "name": task.name,
        "category": task.spec.category,
        "description": task.spec.description,
        "schedule": task.spec.schedule,
        "schedule_text": schedule_words(task),
        "timezone": zone,
        "enabled": task.spec.enabled,
        "paused": task.paused,
        "builtin": task.builtin,
        "priority": task.spec.priority,
        "timeout": task.spec.timeout,
        "retries": task.spec.retries,
        "next_run_at": iso_in_zone(task.next_run_at, zone),
        "last_status": task.last_status.value if task.last_status else None,
        "last_run_at": iso_in_zone(task.last_started_at, zone),
        "last_duration_ms": task.last_duration_ms,
        "last_success_at": iso_in_zone(task.last_success_at, zone),
    }


def task_detail(task: Task, registry: Registry, now: datetime) -> dict[str, Any]:
    """One task in full, as ``tasks show --json`` prints it: every key plus its state and next fire times."""
    zone = registry.zone_of(task.spec)
    try:
        upcoming = [iso_in_zone(moment, zone) for moment in registry.next_runs(task.spec, now, NEXT_FIRE_TIMES)]
    except ScheduleError:
        upcoming = []
    return (
        task.spec.to_dict()
        | {
            "timezone": zone,
            "timezone_is_default": task.spec.timezone is None,
            "schedule_text": schedule_words(task),
            "id": task.id,
            "state": state_of(task),
            "paused": task.paused,
            "builtin": task.builtin,
            "origin": task.origin.value if task.origin else None,
            "next_run_at": iso_in_zone(task.next_run_at, zone),
            "last_status": task.last_status.value if task.last_status else None,
            "last_execution_id": task.last_execution_id,
            "last_run_at": iso_in_zone(task.last_started_at, zone),
            "last_finished_at": iso_in_zone(task.last_finished_at, zone),
            "last_duration_ms": task.last_duration_ms,
            "last_success_at": iso_in_zone(task.last_success_at, zone),
            "created_at": iso_in_zone(task.created_at, zone),
            "updated_at": iso_in_zone(task.updated_at, zone),
        }
        | {"next_fire_times": upcoming}
    )


def print_task_table(tasks: list[Task], registry: Registry) -> None:
    out = console()
    if not tasks:
        out.print("no tasks registered; add some with `smartcron tasks apply FILE`")
        return
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    for column in ("name", "category", "schedule", "tz", "state", "prio", "timeout", "retries", "last", "next run"):
        table.add_column(column, no_wrap=column in ("name", "next run"))
    colours = {"enabled": "green", "paused": "yellow", "disabled": "dim"}
    for task in tasks:
        zone = registry.zone_of(task.spec)
        words = schedule_words(task)
        schedule = escape(task.spec.schedule) + (f" [dim]({escape(words)})[/dim]" if words else "")
        state = state_of(task)
        last = task.last_status.value if task.last_status else "-"
        table.add_row(
            escape(task.name),
            escape(task.spec.category),
            schedule,
            escape(zone),
            f"[{colours[state]}]{state}[/{colours[state]}]",
            str(task.spec.priority),
            f"{task.spec.timeout}s",
            str(task.spec.retries),
            _status_markup(last),
            local_time(task.next_run_at, zone),
        )
    out.print(table)
    out.print(f"{len(tasks)} task{'s' if len(tasks) != 1 else ''}")


def _status_markup(status: str) -> str:
    colour = {
        "success": "green",
        "failed": "red",
        "timeout": "red",
        "abandoned": "red",
        "killed": "red",
        "unknown_outcome": "yellow",
        "superseded": "yellow",
    }.get(status)
    return f"[{colour}]{status}[/{colour}]" if colour else status


def print_task_detail(detail: dict[str, Any]) -> None:
    out = console()
    width = max(len(key) for key in detail) + 2
    for key, value in detail.items():
        if key == "next_fire_times":
            continue
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        out.print(f"[bold]{key:<{width}}[/bold]{escape(shown)}")
    out.print(f"[bold]next {NEXT_FIRE_TIMES} fire times[/bold]")
    for moment in detail["next_fire_times"]:
        out.print(f"  {moment}")


def _shown(value: Any) -> str:
    return escape(json.dumps(value, ensure_ascii=False))


_MADE = {
    TaskOrigin.CLI: "made with the CLI",
    TaskOrigin.WEB: "made on the dashboard",
    TaskOrigin.API: "made through the API",
    TaskOrigin.EXEC: "made by smartcron exec",
    TaskOrigin.BUILTIN: "built in",
}


def _made(task: Task) -> str:
    if task.origin is None:
        return "of unknown origin (registered before smartcron kept it)"
    return _MADE.get(task.origin, f"made from {task.origin.value}")


def print_plan(plan: ApplyPlan, *, dry_run: bool) -> None:
    """The diff of an apply: added, changed (key: old -> new), removed, unchanged count."""
    out = console()
    for spec in plan.adds:
        out.print(
            f"[green]+ add[/green]     [bold]{escape(spec.name)}[/bold]  "
            f"({escape(spec.category)}, {escape(spec.schedule)})"
        )
    for update in plan.updates:
        out.print(f"[yellow]~ change[/yellow]  [bold]{escape(update.name)}[/bold]")
        for change in update.changes:
            out.print(f"      {change.field}: [red]{_shown(change.old)}[/red] -> [green]{_shown(change.new)}[/green]")
    elsewhere = {task.name for task in plan.removes_made_elsewhere}
    for task in plan.removes:
        made = f"; {_made(task)}, not from a task file" if task.name in elsewhere else ""
        out.print(f"[red]- remove[/red]  [bold]{escape(task.name)}[/bold]  ({escape(task.spec.category)}{made})")
    counts = (
        f"{len(plan.adds)} to add, {len(plan.updates)} to change, {len(plan.removes)} to remove, "
        f"{len(plan.unchanged)} unchanged"
    )
    if plan.is_empty:
        out.print(f"nothing changed ({len(plan.unchanged)} tasks unchanged)")
    elif dry_run:
        out.print(f"dry run: {counts}; nothing written")
    else:
        out.print(
            f"applied: {len(plan.adds)} added, {len(plan.updates)} changed, {len(plan.removes)} removed, "
            f"{len(plan.unchanged)} unchanged"
        )
