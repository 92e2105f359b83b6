"""``smartcron runs`` (the history of runs) and ``smartcron logs`` (one run's full output)."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import click

from smartcron.cli.context import AppContext, echo_json, json_option, pass_app
from smartcron.domain.enums import ExecutionStatus
from smartcron.domain.execution import Execution

MAX_LIMIT = 10_000
PREVIEW_WIDTH = 40


def execution_to_dict(execution: Execution) -> dict[str, Any]:
    return {
        "id": execution.id,
        "task": execution.task_name,
        "status": execution.status.value,
        "reason": execution.reason,
        "trigger": execution.trigger.value,
        "attempt": execution.attempt,
        "retry_of": execution.retry_of,
        "scheduled_for": _iso(execution.scheduled_for),
        "started_at": _iso(execution.started_at),
        "finished_at": _iso(execution.finished_at),
        "exit_code": execution.exit_code,
        "signal": execution.signal,
        "error_category": execution.error_category.value if execution.error_category else None,
        "duration_ms": execution.duration_ms,
        "cpu_user_ms": execution.cpu_user_ms,
        "cpu_sys_ms": execution.cpu_sys_ms,
        "max_rss_kb": execution.max_rss_kb,
        "max_rss_kb_below": execution.max_rss_kb_below,
        "output": execution.output,
        "output_bytes": execution.output_bytes,
        "truncated": execution.truncated,
        "node": execution.node,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


@click.group("runs", invoke_without_command=True)
@click.option("--task", "task_name", metavar="NAME", help="Only runs of this task.")
@click.option("--status", type=click.Choice([s.value for s in ExecutionStatus]), help="Only runs with this status.")
@click.option(
    "--limit", type=click.IntRange(1, MAX_LIMIT), default=50, show_default=True, help="How many runs, newest first."
)
@json_option
@click.pass_context
def runs_cmd(ctx: click.Context, task_name: str | None, status: str | None, limit: int, as_json: bool) -> None:
    """The history of runs, newest first; `smartcron runs cancel ID` stops one.

    Every slot that came due has a row: runs (success, failed, timeout, killed, abandoned) and slots
    that did not run (missed, skipped). `smartcron logs ID` prints one run's full output.
    """
    if ctx.invoked_subcommand is not None:
        return
    app = ctx.find_object(AppContext)
    assert app is not None  # the root command made it
    store = app.store
    task_id = store.tasks.get(task_name).id if task_name else None
    wanted = ExecutionStatus(status) if status else None
    executions = store.executions.list(task_id=task_id, status=wanted, limit=limit)
    if as_json:
        echo_json([execution_to_dict(x) for x in executions])
        return
    if not executions:
        click.echo("no runs")
        return
    zone = ZoneInfo(app.settings.timezone)
    rows = [_table_row(x, zone) for x in executions]
    header = ("ID", "TASK", "STATUS", "TRIGGER", "SCHEDULED", "STARTED", "DURATION", "EXIT", "OUTPUT")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, str(row[-1])]).rstrip())


@runs_cmd.command("cancel")
@click.argument("execution_id", type=click.IntRange(min=1), metavar="EXECUTION_ID")
@json_option
@pass_app
def runs_cancel_cmd(app: AppContext, execution_id: int, as_json: bool) -> None:
    """Cancel a queued or running run.

    A queued run is cancelled at once. A running run is marked, and the runner that runs it (on
    whichever node) stops its process group within a few seconds, at its next lease renewal: TERM,
    then KILL after the task's kill_grace; the run is recorded as cancelled, "cancelled by
    cli:USER". Exit status 2, with one line, for an unknown id or a run that has already ended.
    The cancel is recorded in the audit log.
    """
    from smartcron.cli.tasks import cli_actor
    from smartcron.services.cancel import cancel_run, describe_cancel

    run = cancel_run(app.store, execution_id, by=cli_actor())
    if as_json:
        echo_json(execution_to_dict(run) | {"cancel_requested_by": run.cancel_requested_by})
        return
    click.echo(describe_cancel(run))


def _table_row(execution: Execution, zone: ZoneInfo) -> tuple[str, ...]:
    status = execution.status.value
    if execution.reason and execution.status in (ExecutionStatus.KILLED, ExecutionStatus.SKIPPED):
        status = f"{status} ({execution.reason})"
    trigger = execution.trigger.value + (f" #{execution.attempt}" if execution.attempt else "")
    exit_text = (
        str(execution.exit_code)
        if execution.exit_code is not None
        else (f"sig {execution.signal}" if execution.signal is not None else "")
    )
    return (
        str(execution.id),
        execution.task_name,
        status,
        trigger,
        _local(execution.scheduled_for, zone),
        _local(execution.started_at, zone),
        _duration(execution.duration_ms),
        exit_text,
        _last_line(execution.output),
    )


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _duration(ms: int | None) -> str:
    if ms is None:
        return ""
    if ms < 1000:
        return f"{ms} ms"
    if ms < 120_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms // 60_000} min {ms % 60_000 // 1000} s"


def _last_line(output: str | None) -> str:
    lines = [line for line in (output or "").splitlines() if line.strip()]
    text = lines[-1].strip() if lines else ""
    return text if len(text) <= PREVIEW_WIDTH else text[: PREVIEW_WIDTH - 1] + "…"


@click.command("logs")
@click.argument("execution_id", type=click.IntRange(min=1), metavar="EXECUTION_ID")
@click.option("--follow", "-f", is_flag=True, help="Keep printing while the run is still going.")
@pass_app
def logs_cmd(app: AppContext, execution_id: int, follow: bool) -> None:
    """Print one run's full output, from its task's log file (rotated and compressed logs too).

    EXECUTION_ID is the id `smartcron runs` shows. With --follow, output is printed as the run
    writes it until the run ends.
    """
    from smartcron.runner.process.runlog import follow_run_output, read_run_output

    store = app.store
    execution = store.executions.get(execution_id)
    task = store.tasks.get_by_id(execution.task_id)
    log_dir, category, name = app.settings.log_dir, task.spec.category, task.spec.name
    out = sys.stdout.buffer
    if follow and not execution.status.is_final:
        for line in follow_run_output(
            log_dir,
            category=category,
            name=name,
            execution_id=execution_id,
            still_running=lambda: not store.executions.get(execution_id).status.is_final,
        ):
            out.write(line)
            out.flush()
        return
    lines = read_run_output(log_dir, category=category, name=name, execution_id=execution_id)
    if lines is None:
        if execution.started_at is None:
            click.echo(f"execution {execution_id} did not run ({execution.status.value})", err=True)
            sys.exit(1)
        click.echo(
            f"smartcron: the task log no longer holds execution {execution_id}; showing the tail kept in the database",
            err=True,
        )
        out.write((execution.output or "").encode())
        return
    for line in lines:
        out.write(line)
