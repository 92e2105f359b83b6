"""``smartcron alerts ...``: see, acknowledge and resolve alerts, test the channels, manage rules.

Commands parse their input and call the alert service, the rule functions or the store; the
rules of the alert lifecycle live in ``smartcron.alerts``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from smartcron.alerts.channels import OutgoingMessage, build_channels
from smartcron.alerts.messages import MessageContext, safe_line, test_message
from smartcron.cli.context import AppContext, echo_json, json_option, pass_app
from smartcron.cli.silences import silence
from smartcron.cli.tasks import cli_actor
from smartcron.cli.tasks_render import console, local_time
from smartcron.clock import utcnow
from smartcron.config import Settings
from smartcron.domain.alert_rules import RuleKind
from smartcron.domain.alerts import Alert
from smartcron.domain.enums import AlertState, Severity
from smartcron.domain.silences import silenced_until
from smartcron.errors import UserError
from smartcron.services.alert_actions import acknowledge_alert, resolve_alert, snooze_alert
from smartcron.services.rule_actions import add_alert_rule, remove_alert_rule, set_alert_rule_enabled

ISO_FORMATS = ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d %H:%M%z"]
SEVERITY_STYLE = {Severity.CRITICAL: "bold red", Severity.HIGH: "dark_orange", Severity.LOW: "grey50"}


def delivery_note(settings: Settings) -> str | None:
    """Why alerts would not reach anyone, in one line, or None when a channel is configured."""
    if not settings.smtp_host and not settings.alert_urls:
        return (
            "no alert channel is configured: alerts are stored and shown but not sent "
            "(set SMARTCRON_SMTP_HOST and SMARTCRON_ALERT_EMAIL_TO, or SMARTCRON_ALERT_URLS)"
        )
    if settings.smtp_host and not settings.alert_email_to:
        return "email has no recipients (SMARTCRON_ALERT_EMAIL_TO): only tasks with notify_emails get mail"
    return None


def _note(settings: Settings) -> None:
    note = delivery_note(settings)
    if note:
        click.echo(f"note: {note}", err=True)


@click.group()
def alerts() -> None:
    """Alerts raised by failed runs, the health monitor and custom rules."""


@alerts.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include resolved alerts (history).")
@click.option("--limit", type=click.IntRange(1, 10000), default=100, show_default=True)
@json_option
@pass_app
def list_cmd(app: AppContext, show_all: bool, limit: int, as_json: bool) -> None:
    """Active alerts (open and acknowledged), newest first. An open alert that a silence holds
    back says so in its state (``open, silenced``; ``silenced_until`` with --json)."""
    store = app.store
    found = store.alerts.list(active_only=not show_all, limit=limit)
    now = store.database_now()
    silences = store.silences.active(now)
    quiet = {
        alert.id: until
        for alert in found
        if alert.state is AlertState.OPEN
        and (until := silenced_until(silences, alert.kind, alert.task_id, now)) is not None
    }
    if as_json:
        echo_json([alert.to_dict() | {"silenced_until": _iso(quiet.get(alert.id))} for alert in found])
        return
    _note(app.settings)
    if not found:
        click.echo("no alerts" if show_all else "no active alerts")
        return
    zone = app.settings.timezone
    table = Table(box=None, pad_edge=False)
    for column in ("ID", "SEVERITY", "STATE", "TASK", "COUNT", "LAST SEEN", "MESSAGE"):
        table.add_column(column, no_wrap=column != "MESSAGE")
    for alert in found:
        table.add_row(
            str(alert.id),
            f"[{SEVERITY_STYLE[alert.severity]}]{alert.severity.value}[/]",
            alert.state.value + (", silenced" if alert.id in quiet else ""),
            escape(alert.task_name or "-"),
            str(alert.count),
            local_time(alert.last_seen, zone),
            escape(alert.message),
        )
    console().print(table)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


@alerts.command("show")
@click.argument("alert_id", type=int)
@json_option
@pass_app
def show_cmd(app: AppContext, alert_id: int, as_json: bool) -> None:
    """One alert in full, with the messages sent about it."""
    alert = app.store.alerts.get(alert_id)
    sent = app.store.notifications.list(alert_id=alert_id, limit=50)
    if as_json:
        messages = [
            {
                "id": n.id,
                "kind": n.kind.value,
                "channel": n.channel,
                "recipients": list(n.recipients),
                "subject": n.subject,
                "state": n.state.value,
                "attempts": n.attempts,
                "last_error": n.last_error,
                "created_at": n.created_at,
                "sent_at": n.sent_at,
            }
            for n in sent
        ]
        echo_json(alert.to_dict() | {"notifications": messages})
        return
    _print_alert(console(), alert, app.settings.timezone)
    if sent:
        click.echo("\nmessages:")
        for n in reversed(sent):
            outcome = n.state.value + (f" ({n.last_error})" if n.last_error else "")
            when = local_time(n.sent_at or n.created_at, app.settings.timezone)
            click.echo(f"  {n.id}  {n.kind.value:<8} {when}  {n.channel}  {outcome}  attempts={n.attempts}")


def _print_alert(out: Console, alert: Alert, zone: str) -> None:
    rows: list[tuple[str, Any]] = [
        ("id", alert.id),
        ("severity", f"[{SEVERITY_STYLE[alert.severity]}]{alert.severity.value}[/]"),
        ("state", alert.state.value),
        ("kind", escape(alert.kind)),
        ("task", escape(alert.task_name or "-")),
        ("message", escape(alert.message)),
        ("count", alert.count),
        ("first seen", local_time(alert.first_seen, zone)),
        ("last seen", local_time(alert.last_seen, zone)),
        ("notified", local_time(alert.notified_at, zone)),
        ("acknowledged", f"{local_time(alert.acknowledged_at, zone)} by {escape(alert.acknowledged_by or '-')}"),
        ("resolved", local_time(alert.resolved_at, zone)),
    ]
    if alert.active and alert.snoozed_until is not None:
        rows.append(("snoozed until", local_time(alert.snoozed_until, zone)))
    for key, value in sorted((alert.details or {}).items()):
        if key != "output_tail" and value is not None:
            rows.append((key.replace("_", " "), escape(safe_line(str(value), 300))))
    for key, value in rows:
        out.print(f"{key + ':':<16}{value}")
    tail = (alert.details or {}).get("output_tail")
    if tail:
        out.print("\nlast lines of output:")
        for line in str(tail).split("\n"):
            out.print(f"  | {escape(line)}")


@alerts.command("ack")
@click.argument("alert_id", type=int)
@click.option("--by", help="Who is on it (default: cli:<your login>).")
@pass_app
def ack_cmd(app: AppContext, alert_id: int, by: str | None) -> None:
    """Acknowledge an alert: someone is on it, so no more reminders."""
    alert = acknowledge_alert(app.store, app.settings, alert_id, by=by or cli_actor())
    click.echo(f"alert {alert.id} acknowledged by {alert.acknowledged_by}")


@alerts.command("resolve")
@click.argument("alert_id", type=int)
@pass_app
def resolve_cmd(app: AppContext, alert_id: int) -> None:
    """Resolve an alert by hand (a success of the task would resolve its failure alert anyway)."""
    alert = resolve_alert(app.store, app.settings, alert_id, by=cli_actor())
    click.echo(f"alert {alert.id} resolved")


@alerts.command("snooze")
@click.argument("alert_id", type=int)
@click.option("--for", "duration", metavar="DURATION", help="How long: 30m, 2h, 1d (1 min to 30 days).")
@click.option("--until", "until", type=click.DateTime(ISO_FORMATS), help="Until this time (ISO 8601, with an offset).")
@pass_app
def snooze_cmd(app: AppContext, alert_id: int, duration: str | None, until: datetime | None) -> None:
    """Send no message about an alert for a while; it stays active and shown.

    When the snooze ends, its reminders resume. A task's next failure still counts on the alert.

    \b
    smartcron alerts snooze 42 --for 2h
    smartcron alerts snooze 42 --until 2026-03-02T08:00:00+13:00
    """
    if duration is None and until is None:
        raise UserError("give --for DURATION or --until TIME")
    alert = snooze_alert(app.store, alert_id, by=cli_actor(), duration=duration, until=until)
    click.echo(f"alert {alert.id} snoozed until {local_time(alert.snoozed_until, app.settings.timezone)}")


@alerts.command("test")
@json_option
@pass_app
def test_cmd(app: AppContext, as_json: bool) -> None:
    """Send a test message through every configured channel now and report each result.

    Exits 1 when a channel failed or none is configured.
    """
    settings = app.settings
    channels, problems = build_channels(settings)
    context = MessageContext(settings.web_base_url, settings.node, settings.timezone)
    subject, body = test_message(context, utcnow())
    results: list[dict[str, Any]] = [{"channel": p.label, "ok": False, "error": p.problem} for p in problems]
    for channel in channels:
        recipients = tuple(settings.alert_email_to) if channel.addressed else ()
        if channel.addressed and not recipients:
            results.append({"channel": channel.label, "ok": False, "error": "no recipients (alert.email_to)"})
            continue
        outcome = channel.deliver([OutgoingMessage(subject, body, recipients, reference="test")])[0]
        entry: dict[str, Any] = {"channel": channel.label, "ok": outcome.ok, "recipients": list(recipients)}
        if outcome.error is not None:
            entry["error"] = outcome.error.message
        elif outcome.note:
            entry["note"] = outcome.note
        results.append(entry)
    if as_json:
        echo_json(results)
    else:
        if not results:
            click.echo(f"FAIL  {delivery_note(settings)}")
        for entry in results:
            to = f" -> {', '.join(entry['recipients'])}" if entry.get("recipients") else ""
            problem = f": {entry['error']}" if "error" in entry else ""
            click.echo(f"{'ok  ' if entry['ok'] else 'FAIL'}  {entry['channel']}{to}{problem}")
    if not results or not all(entry["ok"] for entry in results):
        raise click.exceptions.Exit(1)


# -- rules ----------------------------------------------------------------------------------------


@alerts.group("rules")
def rules() -> None:
    """Custom rules: long runs, failure rate, no success (dead man's switch), short runs."""


@rules.command("list")
@json_option
@pass_app
def rules_list_cmd(app: AppContext, as_json: bool) -> None:
    """Every rule, with what it means in plain words."""
    found = app.store.alert_rules.list()
    if as_json:
        echo_json([rule.to_dict() for rule in found])
        return
    if not found:
        click.echo("no alert rules")
        return
    table = Table(box=None, pad_edge=False)
    for column in ("NAME", "KIND", "SEVERITY", "ENABLED", "RULE"):
        table.add_column(column, no_wrap=column != "RULE")
    for rule in found:
        table.add_row(
            escape(rule.name),
            rule.kind.value,
            rule.severity.value,
            "yes" if rule.enabled else "no",
            escape(rule.describe()),
        )
    console().print(table)


@rules.command("add")
@click.argument("name")
@click.option("--kind", required=True, type=click.Choice([k.value for k in RuleKind]), help="What the rule watches.")
@click.option(
    "--threshold",
    required=True,
    help="A duration (90s, 15m, 2h, 1d) for long_run, short_run and no_success; a percentage for failure_rate.",
)
@click.option("--task", help="Only this task (default: every task).")
@click.option("--window", help="failure_rate: the time window (default 1h).")
@click.option("--min-runs", type=int, help="failure_rate: runs needed in the window before it judges (default 3).")
@click.option(
    "--severity", type=click.Choice([s.value for s in Severity]), default=Severity.HIGH.value, show_default=True
)
@json_option
@pass_app
def rules_add_cmd(
    app: AppContext,
    name: str,
    kind: str,
    threshold: str,
    task: str | None,
    window: str | None,
    min_runs: int | None,
    severity: str,
    as_json: bool,
) -> None:
    """Add the rule NAME.

    \b
    Examples:
      smartcron alerts rules add payroll-slow --kind long_run --threshold 1h --task payroll_auto_start
      smartcron alerts rules add flaky --kind failure_rate --threshold 20 --window 6h --min-runs 5
      smartcron alerts rules add backup-alive --kind no_success --threshold 26h --task nightly_backup
    """
    rule = add_alert_rule(
        app.store,
        by=cli_actor(),
        name=name,
        kind=kind,
        threshold=threshold,
        task=task,
        window=window,
        min_runs=min_runs,
        severity=severity,
    )
    if as_json:
        echo_json(rule.to_dict())
    else:
        click.echo(f"added rule {rule.name}: {rule.describe()}")


@rules.command("remove")
@click.argument("name")
@pass_app
def rules_remove_cmd(app: AppContext, name: str) -> None:
    """Remove the rule NAME (its open alerts are resolved)."""
    remove_alert_rule(app.store, name, by=cli_actor())
    click.echo(f"removed rule {name}")


@rules.command("enable")
@click.argument("name")
@pass_app
def rules_enable_cmd(app: AppContext, name: str) -> None:
    """Turn the rule NAME on again: the runner judges by it within 30 s."""
    set_alert_rule_enabled(app.store, name, enabled=True, by=cli_actor())
    click.echo(f"enabled rule {name}")


@rules.command("disable")
@click.argument("name")
@pass_app
def rules_disable_cmd(app: AppContext, name: str) -> None:
    """Turn the rule NAME off (kept, not evaluated); its open alerts are resolved."""
    set_alert_rule_enabled(app.store, name, enabled=False, by=cli_actor())
    click.echo(f"disabled rule {name}")


alerts.add_command(silence)
