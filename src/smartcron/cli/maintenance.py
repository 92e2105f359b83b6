"""``smartcron maintenance cleanup|rotate-logs|backup|vacuum|report|disk-check``.

The built-in tasks run these on the seed's schedule; people run them by hand too. Long work shows
a progress bar on a terminal (never in ``--json`` output or a log file).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from smartcron.cli.context import AppContext, echo_json, json_option, pass_app
from smartcron.clock import utcnow
from smartcron.config import Settings
from smartcron.domain.enums import CheckStatus


def _start(app: AppContext) -> Settings:
    from smartcron.logs import configure

    settings = app.settings
    configure(settings.log_dir, "maintenance")
    return settings


@contextmanager
def _progress(title: str, *, quiet: bool, total: int | None = None) -> Iterator[Callable[[str], None]]:
    """A progress bar on stderr (a spinner when the amount of work is unknown); each call of the
    yielded function is one step, its text what is being done."""
    console = Console(stderr=True)
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[step]}")]
    with Progress(
        *columns, TimeElapsedColumn(), console=console, transient=True, disable=quiet or not console.is_terminal
    ) as bar:
        task = bar.add_task(title, total=total, step="")

        def advance(step: str) -> None:
            bar.update(task, advance=1, step=step[:60])

        yield advance


def _rotation_report(settings: Settings, quiet: bool) -> dict[str, list[str]]:
    from smartcron.maintenance.rotation import rotate_logs

    with _progress("rotating logs", quiet=quiet) as step:
        report = rotate_logs(
            settings.log_dir,
            now=utcnow(),
            zone=settings.tzinfo,
            compress_after_days=settings.retention_compress_after_days,
            keep_days=settings.retention_logs_days,
            progress=step,
        )
    return report.to_dict()


def _echo_rotation(report: dict[str, list[str]]) -> None:
    click.echo(
        f"logs: {len(report['rotated'])} rotated, {len(report['compressed'])} compressed, "
        f"{len(report['deleted'])} deleted"
    )


@click.group("maintenance")
def maintenance() -> None:
    """Upkeep: retention, log rotation, backups, database upkeep, reports.

    Built-in tasks (`smartcron tasks list --category smartcron`) run these on a schedule.
    """


@maintenance.command("cleanup")
@json_option
@pass_app
def cleanup_cmd(app: AppContext, as_json: bool) -> None:
    """Delete history past its retention (in short transactions) and rotate the logs."""
    from smartcron.maintenance.retention import apply_retention

    settings = _start(app)
    with _progress("deleting old rows", quiet=as_json) as step:
        retention = apply_retention(app.store, settings, utcnow(), progress=lambda name, n: step(f"{name} -{n}"))
    rotation = _rotation_report(settings, as_json)
    if as_json:
        echo_json({"retention": retention.to_dict(), "logs": rotation})
        return
    click.echo(
        f"deleted: {retention.executions} executions, {retention.alerts} alerts and messages, "
        f"{retention.health_checks} health results, {retention.metrics_deleted} metric samples "
        f"({retention.metrics_downsampled} folded into hourly averages)"
    )
    _echo_rotation(rotation)


@maintenance.command("rotate-logs")
@json_option
@pass_app
def rotate_logs_cmd(app: AppContext, as_json: bool) -> None:
    """Rename each log to NAME.log.YYYY-MM-DD once a day, gzip old ones, delete expired ones."""
    settings = _start(app)
    rotation = _rotation_report(settings, as_json)
    if as_json:
        echo_json(rotation)
    else:
        _echo_rotation(rotation)


@maintenance.command("backup")
@json_option
@pass_app
def backup_cmd(app: AppContext, as_json: bool) -> None:
    """Back up the database into the backup directory, verify it, keep the last few."""
    from smartcron.maintenance.backup import backup_database

    settings = _start(app)
    with _progress(f"backing up to {settings.backup_dir}", quiet=as_json):
        backup = backup_database(settings.database_url, settings.backup_dir, utcnow(), keep=settings.backup_keep)
    if as_json:
        echo_json(backup.to_dict())
        return
    click.echo(f"backup {backup.path} ({backup.size_bytes / 1024:.0f} KiB): {backup.verified}")
    for removed in backup.removed:
        click.echo(f"removed old backup {removed}")


@maintenance.command("vacuum")
@json_option
@pass_app
def vacuum_cmd(app: AppContext, as_json: bool) -> None:
    """Database upkeep: SQLite ANALYZE/VACUUM/checkpoint, PostgreSQL VACUUM ANALYZE, MySQL ANALYZE/OPTIMIZE."""
    from smartcron.maintenance.vacuum import vacuum_database, vacuum_steps

    _start(app)
    store = app.store
    with _progress("database upkeep", quiet=as_json, total=len(vacuum_steps(store.dialect))) as step:
        report = vacuum_database(store, progress=step)
    if as_json:
        echo_json(report.to_dict())
        return
    sizes = ""
    if report.size_before is not None and report.size_after is not None:
        sizes = f": {report.size_before / 1024:.0f} KiB -> {report.size_after / 1024:.0f} KiB"
    click.echo(f"{report.dialect}: {len(report.statements)} statements{sizes}")


@maintenance.command("report")
@click.option("--errors", "errors_only", is_flag=True, help="The 6 pm error summary: failures of the last 24 hours.")
@click.option("--email", is_flag=True, help="Also mail it to [alert] email_to when a mail server is configured.")
@json_option
@pass_app
def report_cmd(app: AppContext, errors_only: bool, email: bool, as_json: bool) -> None:
    """Yesterday's runs, failures, slowest tasks and disk (or, with --errors, the last 24 hours' failures)."""
    from smartcron.maintenance.report import daily_report, email_report, error_summary, render_text

    settings = _start(app)
    store = app.store
    now = utcnow()
    report = error_summary(store, settings, now) if errors_only else daily_report(store, settings, now)
    mailed = email_report(store, settings, report, now) if email else None
    if as_json:
        data: dict[str, Any] = report.to_dict()
        if mailed is not None:
            data["email"] = mailed
        echo_json(data)
        return
    click.echo(render_text(report, settings), nl=False)
    if mailed is not None:
        click.echo(f"\nemail: {mailed}")


@maintenance.command("disk-check")
@json_option
@pass_app
def disk_check_cmd(app: AppContext, as_json: bool) -> None:
    """Disk use of the data and log directories and the size of the logs; exit 1 when a disk is
    past the critical threshold."""
    from smartcron.monitor.checks import SystemReaders, check_disk, check_log_dir, read_snapshot

    settings = _start(app)
    snapshot = read_snapshot(settings, SystemReaders())
    results = [
        check_disk("disk_data", settings.data_dir, snapshot.disk_data_percent, settings),
        check_disk("disk_logs", settings.log_dir, snapshot.disk_logs_percent, settings),
        check_log_dir(snapshot, settings),
    ]
    if as_json:
        echo_json([result.to_dict() for result in results])
    else:
        for result in results:
            click.echo(f"{result.status.value:<4}  {result.name:<12}  {result.message}")
    if any(result.status is CheckStatus.FAIL for result in results):
        sys.exit(1)  # a value returned through click would be lost under `python -m smartcron`
