"""``smartcron users`` and ``smartcron tokens``: who may use the dashboard and the API."""

from __future__ import annotations

import getpass
import sys

import click

from smartcron.cli.context import AppContext, echo_json, json_option, pass_app
from smartcron.clock import utcnow
from smartcron.errors import UserError
from smartcron.web.accounts import Accounts, check_password, parse_role

ROLE_CHOICE = click.Choice(["viewer", "operator", "admin"])


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise UserError("password: nothing on standard input")
        return check_password(line.rstrip("\r\n"))
    first = click.prompt("Password", hide_input=True)
    check_password(first)
    second = click.prompt("Repeat password", hide_input=True)
    if first != second:
        raise UserError("password: the two entries differ")
    return str(first)


@click.group()
def users() -> None:
    """Dashboard users: viewers read, operators also run/pause/resume/acknowledge, admins change everything."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=ROLE_CHOICE, required=True, help="What the user may do.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (one line).")
@pass_app
def users_add(app: AppContext, name: str, role: str, password_stdin: bool) -> None:
    """Add a user NAME."""
    from smartcron.web.accounts import check_username

    check_username(name)
    if app.store.users.find(name) is not None:
        raise UserError(f"user {name!r} already exists")
    password = _read_password(password_stdin)
    Accounts(app.store, actor=_actor()).add_user(name, password=password, role=parse_role(role), now=utcnow())
    click.echo(f"added {role} {name}")


@users.command("remove")
@click.argument("name")
@pass_app
def users_remove(app: AppContext, name: str) -> None:
    """Remove user NAME (their sessions end at once)."""
    Accounts(app.store, actor=_actor()).remove_user(name, now=utcnow())
    click.echo(f"removed {name}")


@users.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input (one line).")
@pass_app
def users_passwd(app: AppContext, name: str, password_stdin: bool) -> None:
    """Set a new password for NAME (their other sessions end)."""
    app.store.users.get(name)
    password = _read_password(password_stdin)
    Accounts(app.store, actor=_actor()).change_password(name, password=password, now=utcnow())
    click.echo(f"password of {name} changed")


@users.command("timezone")
@click.argument("name")
@click.argument("zone", required=False)
@click.option("--clear", is_flag=True, help="Back to the installation's display zone (web.display_timezone).")
@pass_app
def users_timezone(app: AppContext, name: str, zone: str | None, clear: bool) -> None:
    """Show, set or clear the time zone user NAME reads the dashboard in (an IANA name such as
    Pacific/Auckland); without one, the installation's display zone. Audited as user.timezone."""
    if zone is not None and clear:
        raise UserError("give a ZONE or --clear, not both")
    if zone is None and not clear:
        own = app.store.users.get(name).timezone
        click.echo(own or f"{app.settings.display_timezone} (the installation's)")
        return
    Accounts(app.store, actor=_actor()).set_timezone(name, None if clear else zone, now=utcnow())
    click.echo(f"{name} reads times in {zone}" if zone else f"{name} reads times in the installation's zone")


@users.command("list")
@json_option
@pass_app
def users_list(app: AppContext, as_json: bool) -> None:
    """List users."""
    found = app.store.users.list()
    if as_json:
        echo_json(
            [
                {
                    "name": u.username,
                    "role": u.role.value,
                    "created_at": u.created_at,
                    "last_login_at": u.last_login_at,
                    "timezone": u.timezone,
                }
                for u in found
            ]
        )
        return
    if not found:
        click.echo("no users; add one with: smartcron users add NAME --role admin")
    for u in found:
        last = u.last_login_at.strftime("%Y-%m-%d %H:%M") if u.last_login_at else "never"
        click.echo(f"{u.username:<24} {u.role.value:<9} last login {last}")


@click.group()
def tokens() -> None:
    """API tokens for scripts: `Authorization: Bearer TOKEN`, with the same roles as users."""


@tokens.command("create")
@click.argument("name")
@click.option("--role", type=ROLE_CHOICE, required=True, help="What the token may do.")
@json_option
@pass_app
def tokens_create(app: AppContext, name: str, role: str, as_json: bool) -> None:
    """Create token NAME and print it once (only its hash is stored)."""
    plain, record = Accounts(app.store, actor=_actor()).create_token(name, role=parse_role(role), now=utcnow())
    if as_json:
        echo_json({"name": record.name, "role": record.role.value, "token": plain})
        return
    click.echo(plain)
    click.echo(f"token {name} ({role}) created; it is shown only now, keep it safe", err=True)


@tokens.command("list")
@json_option
@pass_app
def tokens_list(app: AppContext, as_json: bool) -> None:
    """List tokens (never their values)."""
    found = app.store.tokens.list()
    if as_json:
        echo_json(
            [
                {"name": t.name, "role": t.role.value, "created_at": t.created_at, "last_used_at": t.last_used_at}
                for t in found
            ]
        )
        return
    if not found:
        click.echo("no tokens")
    for t in found:
        used = t.last_used_at.strftime("%Y-%m-%d %H:%M") if t.last_used_at else "never"
        click.echo(f"{t.name:<24} {t.role.value:<9} last used {used}")


@tokens.command("revoke")
@click.argument("name")
@pass_app
def tokens_revoke(app: AppContext, name: str) -> None:
    """Revoke token NAME at once."""
    Accounts(app.store, actor=_actor()).revoke_token(name, now=utcnow())
    click.echo(f"revoked {name}")
