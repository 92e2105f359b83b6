"""``smartcron next`` and ``smartcron explain``: when a cron expression fires, and what it means.

Neither touches the database; settings are read only when ``--tz`` is not given.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import click

from smartcron.cli.context import AppContext, echo_json, json_option, pass_app
from smartcron.clock import SystemClock
from smartcron.domain.schedule import Schedule, describe, dst_transitions, parse_schedule
from smartcron.domain.task import NAME_PATTERN
from smartcron.errors import ScheduleError, UserError

MAX_COUNT = 1000
DEFAULT_COUNT = 5
EXPLAIN_COUNT = 3
# Past this gap between two listed times a DST marker says little (a year holds two changes).
_MARKER_SPAN = timedelta(days=366)


task_option = click.option(
    "--task",
    "task",
    metavar="NAME",
    help="The task name an H picks its values from (the task need not exist yet).",
)


@click.command("next")
@click.argument("expr")
@click.option("--tz", "zone", metavar="TZ", help="IANA time zone (default: the configured timezone).")
@click.option("--after", metavar="ISO8601", help="List times strictly after this (default: now; no offset: in TZ).")
@click.option("--count", default=str(DEFAULT_COUNT), metavar="N", help=f"How many times, 1-{MAX_COUNT}.")
@task_option
@json_option
@pass_app
def next_cmd(
    app: AppContext, expr: str, zone: str | None, after: str | None, count: str, task: str | None, as_json: bool
) -> None:
    """Print the next fire times of the cron expression EXPR.

    Each line shows the local time with its UTC offset, then the same instant in UTC; a line
    starting with '~' marks a daylight-saving change between two times. --json prints an array of
    ISO 8601 strings with offsets, local to TZ. How smartcron read forms that Debian cron does not
    have ('?', a step without a range, H) is said on standard error.
    """
    how_many = _parse_count(count)
    schedule = _schedule(app, expr, zone, task)
    start = _parse_after(after, schedule.timezone) if after else SystemClock().now()
    times = _next_times(schedule, start, how_many)
    local = [moment.astimezone(schedule.timezone) for moment in times]
    for note in schedule.notes:
        click.echo(f"note: {note}", err=True)
    if as_json:
        echo_json([moment.isoformat() for moment in local])
        return
    for line in _lines(schedule.timezone, local):
        click.echo(line)


@click.command("explain")
@click.argument("expr")
@click.option("--tz", "zone", metavar="TZ", help="IANA time zone (default: the configured timezone).")
@task_option
@json_option
@pass_app
def explain_cmd(app: AppContext, expr: str, zone: str | None, task: str | None, as_json: bool) -> None:
    """Say in plain words when the cron expression EXPR fires, with its next three times."""
    schedule = _schedule(app, expr, zone, task)
    words = describe(expr, hash_key=task)
    upcoming = [t.astimezone(schedule.timezone) for t in _next_times(schedule, SystemClock().now(), EXPLAIN_COUNT)]
    if as_json:
        echo_json(
            {
                "expression": schedule.expr,
                "timezone": schedule.timezone.key,
                "description": words,
                "notes": list(schedule.notes),
                "next": [moment.isoformat() for moment in upcoming],
            }
        )
        return
    click.echo(f"{schedule.expr}  ({schedule.timezone.key})")
    click.echo(words)
    click.echo("next:")
    for line in _lines(schedule.timezone, upcoming):
        click.echo(f"  {line}")


def _schedule(app: AppContext, expr: str, zone: str | None, task: str | None) -> Schedule:
    if task is not None:
        _check_task_name(task)
    try:
        parse_schedule(expr, "UTC", hash_key=task)  # the expression's own problems first, named as such
    except ScheduleError as exc:
        raise ScheduleError(f"schedule {_shown(expr)}: {exc.message}") from None
    try:
        return parse_schedule(expr, zone if zone is not None else app.settings.timezone, hash_key=task)
    except ScheduleError as exc:
        raise ScheduleError(f"{'--tz' if zone is not None else 'setting timezone'}: {exc.message}") from None


def _check_task_name(name: str) -> None:
    if not NAME_PATTERN.match(name):
        raise UserError(f"--task: {name!r} is not a task name (letters, digits, '_', '.', '-'; at most 128)")


def _shown(expr: str) -> str:
    text = expr.strip()
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _parse_count(raw: str) -> int:
    try:
        count = int(raw)
    except ValueError:
        raise UserError(f"--count: {raw!r} is not a whole number") from None
    if not 1 <= count <= MAX_COUNT:
        raise UserError(f"--count: must be from 1 to {MAX_COUNT}, got {count}")
    return count


def _parse_after(raw: str, zone: ZoneInfo) -> datetime:
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise UserError(f"--after: {raw!r} is not an ISO 8601 date and time such as 2026-09-27T01:00") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=zone)
    return moment


def _next_times(schedule: Schedule, start: datetime, count: int) -> list[datetime]:
    times: list[datetime] = []
    try:
        for moment in schedule.iter_after(start):
            times.append(moment)
            if len(times) >= count:
                break
    except ScheduleError as exc:
        raise ScheduleError(f"schedule {_shown(schedule.expr)}: {exc.message}") from None
    if not times:
        raise ScheduleError(f"schedule {_shown(schedule.expr)}: no fire time after {start.isoformat()}")
    return times


def _lines(zone: ZoneInfo, times: list[datetime]) -> list[str]:
    lines: list[str] = []
    for index, moment in enumerate(times):
        if index and moment - times[index - 1] <= _MARKER_SPAN:
            lines.extend(_markers(zone, times[index - 1], moment))
        lines.append(f"{moment.isoformat()}  {_utc(moment)}")
    return lines


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _markers(zone: ZoneInfo, earlier: datetime, later: datetime) -> list[str]:
    lines = []
    for instant, before, after in dst_transitions(zone, earlier, later):
        if instant <= earlier:
            continue
        direction = "forward" if after > before else "back"
        lines.append(
            f"~ {instant.astimezone(zone).isoformat()}: clocks go {direction} {_span(abs(after - before))} "
            f"({_offset(before)} -> {_offset(after)})"
        )
    return lines


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds()) // 60
    hours, rest = divmod(minutes, 60)
    if rest == 0:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    if hours == 0:
        return f"{rest} minutes"
    return f"{hours} h {rest} min"


def _offset(delta: timedelta) -> str:
    sign = "-" if delta < timedelta(0) else "+"
    minutes = abs(int(delta.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
