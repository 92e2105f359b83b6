"""``smartcron why TASK``: what became of each slot of a task, and why; then its next times."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import click

from smartcron.cli.context import AppContext, echo_json, json_option, pass_app
from smartcron.domain.alert_rules import parse_duration
from smartcron.domain.schedule import parse_schedule
from smartcron.domain.why_lines import next_lines, why_lines
from smartcron.errors import UserError
from smartcron.services.why import DEFAULT_WINDOW

MAX_WINDOW = timedelta(days=366)


@click.command("why")
@click.argument("task_name", metavar="TASK")
@click.option(
    "--since",
    metavar="WHEN",
    help="Start of the window: a duration back from now (90m, 6h, 2d) or an ISO 8601 time "
    "(2026-03-28T00:00; no offset: in the task's zone). Default: 24h.",
)
@json_option
@pass_app
def why_cmd(app: AppContext, task_name: str, since: str | None, as_json: bool) -> None:
    """Say what became of each slot of TASK in a window, and why; then its next three times.

    \b
    One line per slot, in the task's time zone:
      ran       the run (#id on node: status, duration); retries and manual runs
                have lines of their own (retry, manual: who asked, when recorded)
      skipped   the previous run was still going (overlap), naming that run
      paused    paused, or disabled: by whom and when (from the audit log)
      missed    no runner was alive from T1 to T2, and the catch-up policy or the
                starting deadline let the slot go
      no runner the task is pinned to nodes or tags no live runner has
      not due   a daylight-saving change: the time did not exist, or came twice
                (Debian cron's rule, as the scheduler applies it)
      waiting, running, cancelled (before it started)
      no record before the task was added, or a slot of a schedule since changed

    Cancelled, timed-out, abandoned, superseded and unknown-outcome runs show the reason
    recorded with them. When there are more than 100 lines (a task every minute, or with
    seconds), three or more consecutive slots with the same outcome and status share one line: "14:00:00-14:59:58
    CET  ran  1,800 times, all success". --json prints {"task", "timezone", "since", "until",
    "slots": [{slot, outcome, reason, execution_id, node, status, trigger, attempt, actor, dst}],
    "next", "truncated", "state"}, every slot on its own, times with the zone's offset.
    """
    from smartcron.services.why import explain_task

    store = app.store
    task = store.tasks.get(task_name)
    zone = parse_schedule(task.spec.schedule, task.spec.timezone or app.settings.timezone, hash_key=task.name).timezone
    now = store.database_now()
    start = parse_since(since, zone, now) if since is not None else now - DEFAULT_WINDOW
    report = explain_task(store, app.settings, task.name, since=start, now=now)
    if as_json:
        echo_json(
            {
                "task": report.task,
                "timezone": report.timezone,
                "since": report.since.astimezone(zone).isoformat(),
                "until": report.until.astimezone(zone).isoformat(),
                "slots": [record.to_dict(zone) for record in report.slots],
                "next": [moment.astimezone(zone).isoformat() for moment in report.next],
                "truncated": report.truncated,
                "state": report.state,
            }
        )
        return
    lines = why_lines(report)
    if report.truncated:
        click.echo("(only the newest slots are listed: narrow --since to see older ones)")
    if not lines:
        click.echo(f"no slot of {report.task} between {report.since.astimezone(zone):%Y-%m-%d %H:%M %Z} and now")
    width = max((len(line.outcome) for line in lines), default=0)
    when_width = max((len(line.when) for line in lines), default=0)
    for line in lines:
        click.echo(line.render(width, when_width))
    click.echo("next:" + (f" ({report.state})" if report.state else ""))
    for text in next_lines(report):
        click.echo(f"  {text}")


def parse_since(raw: str, zone: ZoneInfo, now: datetime) -> datetime:
    """``6h``, ``2d``, ``90m`` back from ``now``, or an ISO 8601 time (no offset: in ``zone``)."""
    text = raw.strip()
    seconds = parse_duration(text)
    if seconds is not None:
        start = now - timedelta(seconds=seconds)
    else:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise UserError(
                f"--since: {raw!r} is neither a duration such as 6h or 2d nor an ISO 8601 time such as 2026-03-28T02:00"
            ) from None
        start = moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)
    if start >= now:
        raise UserError(f"--since: {raw!r} is not in the past")
    if now - start > MAX_WINDOW:
        raise UserError(f"--since: {raw!r} is more than {MAX_WINDOW.days} days back")
    return start
