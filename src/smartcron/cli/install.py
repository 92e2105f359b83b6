"""``smartcron install`` / ``uninstall``: the seed's two crontab lines, or systemd units instead.

The crontab gets one marked block (runner every minute, health every 5 minutes), written through
``crontab -l`` / ``crontab -``; installing again replaces the block, and uninstalling removes
exactly it, leaving every other line as it was. With ``--systemd`` the daemon runs as a service and
health as a timer; the unit files carry a marker line so uninstall removes only files it wrote.
"""

from __future__ import annotations

import getpass
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import click

from smartcron.cli.context import AppContext, pass_app
from smartcron.errors import UserError

BEGIN = "# >>> smartcron: managed by `smartcron install`; `smartcron uninstall` removes this block >>>"
END = "# <<< smartcron <<<"
UNIT_MARKER = "# Written by `smartcron install --systemd`; `smartcron uninstall --systemd` removes it."
UNITS = ("smartcron.service", "smartcron-health.service", "smartcron-health.timer")
PASSED_VARIABLES = ("SMARTCRON_HOME", "SMARTCRON_CONFIG", "SMARTCRON_DATABASE_URL")
"""Variables that decide which configuration and database the installed commands use."""


def smartcron_command() -> list[str]:
    """How cron or systemd should start this smartcron: an absolute path, never a PATH lookup."""
    beside_python = Path(sys.executable).parent / "smartcron"
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return [str(beside_python)]
    found = shutil.which("smartcron")
    if found:
        return [str(Path(found).resolve())]
    return [sys.executable, "-m", "smartcron"]


def passed_environment(env: Mapping[str, str], config_file: str | None) -> dict[str, str]:
    chosen = {name: env[name] for name in PASSED_VARIABLES if env.get(name)}
    if config_file:
        chosen["SMARTCRON_CONFIG"] = str(Path(config_file).absolute())
    return chosen


def crontab_block(command: list[str], env: Mapping[str, str]) -> str:
    def line(schedule: str, subcommand: str) -> str:
        assignments = [f"{name}={shlex.quote(value)}" for name, value in sorted(env.items())]
        words = [*assignments, *(shlex.quote(word) for word in command), subcommand]
        # cron turns an unescaped % into a newline; stdout is dropped, errors reach cron's mail.
        return f"{schedule} {' '.join(words)} >/dev/null".replace("%", "\\%")

    return "\n".join([BEGIN, line("* * * * *", "tick"), line("*/5 * * * *", "health"), END]) + "\n"


def without_block(crontab: str) -> str:
    kept: list[str] = []
    inside = False
    for line in crontab.splitlines(keepends=True):
        if line.rstrip("\n") == BEGIN:
            inside = True
        elif inside and line.rstrip("\n") == END:
            inside = False
        elif not inside:
            kept.append(line)
    return "".join(kept)


def with_block(crontab: str, block: str) -> str:
    rest = without_block(crontab)
    if rest and not rest.endswith("\n"):
        rest += "\n"
    return rest + block


class Crontab:
    """The user's crontab (through the ``crontab`` program), or a file standing in for it."""

    def __init__(self, file: str | None) -> None:
        self.file = Path(file) if file else None

    def read(self) -> str:
        if self.file is not None:
            return self.file.read_text() if self.file.exists() else ""
        result = self._crontab(["-l"], None)
        if result.returncode != 0:
            if "no crontab" in result.stderr.lower():
                return ""
            raise UserError(f"crontab -l failed: {result.stderr.strip() or result.returncode}")
        return result.stdout

    def write(self, text: str) -> None:
        if self.file is not None:
            self.file.write_text(text)
            return
        result = self._crontab(["-"], text)
        if result.returncode != 0:
            raise UserError(f"crontab - failed: {result.stderr.strip() or result.returncode}")

    @staticmethod
    def _crontab(args: list[str], text: str | None) -> subprocess.CompletedProcess[str]:
        program = shutil.which("crontab")
        if program is None:
            raise UserError("the crontab program is not installed; install cron, or use --systemd")
        return subprocess.run([program, *args], input=text, capture_output=True, text=True, check=False)


def unit_files(command: list[str], env: Mapping[str, str], *, user: bool, workdir: str, grace: float) -> dict[str, str]:
    exec_line = " ".join(shlex.quote(word) for word in command)
    environment = "".join(f'Environment="{name}={value}"\n' for name, value in sorted(env.items()))
    account = "" if user or os.geteuid() == 0 else f"User={getpass.getuser()}\n"
    wanted_by = "default.target" if user else "multi-user.target"
    service = (
        f"{UNIT_MARKER}\n[Unit]\nDescription=smartcron scheduler: runs every registered task on time, safely\n"
        "After=network-online.target\nWants=network-online.target\n\n"
        f"[Service]\nType=simple\nExecStart={exec_line} run --quiet\n{environment}{account}"
        f"WorkingDirectory={workdir}\n"
        # SIGTERM to the runner only: it lets tasks finish for its grace, then kills and records them.
        f"KillMode=mixed\nTimeoutStopSec={int(grace) + 30}\nRestart=on-failure\nRestartSec=5\n\n"
        f"[Install]\nWantedBy={wanted_by}\n"
    )
    health = (
        f"{UNIT_MARKER}\n[Unit]\nDescription=smartcron health monitor\n\n"
        f"[Service]\nType=oneshot\nExecStart={exec_line} health\n{environment}{account}"
    )
    timer = (
        f"{UNIT_MARKER}\n[Unit]\nDescription=smartcron health monitor every 5 minutes\n\n"
        "[Timer]\nOnCalendar=*:0/5\nAccuracySec=1s\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n"
    )
    return dict(zip(UNITS, (service, health, timer), strict=True))


def default_unit_dir(user: bool) -> Path:
    return Path.home() / ".config/systemd/user" if user else Path("/etc/systemd/system")


def systemctl(user: bool, *args: str) -> str:
    return " ".join(["systemctl", *(["--user"] if user else []), *args])


SYSTEMD_OPTIONS = [
    click.option("--systemd", is_flag=True, help="systemd units (daemon service, health timer) instead of crontab."),
    click.option("--user", "user_units", is_flag=True, help="With --systemd: user units in ~/.config/systemd/user."),
    click.option("--unit-dir", type=click.Path(file_okay=False), help="With --systemd: write the units here."),
    click.option("--crontab-file", type=click.Path(dir_okay=False), help="Edit this file instead of the crontab."),
    click.option("--dry-run", is_flag=True, help="Show what would change; change nothing."),
]


def systemd_options(function: click.decorators.FC) -> click.decorators.FC:
    for option in reversed(SYSTEMD_OPTIONS):
        function = option(function)
    return function


@click.command("install")
@systemd_options
@pass_app
def install_cmd(
    app: AppContext, systemd: bool, user_units: bool, unit_dir: str | None, crontab_file: str | None, dry_run: bool
) -> None:
    """Run smartcron from cron: `tick` every minute and `health` every 5 minutes.

    Adds the two lines to your crontab in a marked block (running it again updates the block).
    With --systemd, writes smartcron.service (the daemon) and smartcron-health.timer instead, and
    prints the systemctl commands that enable them.
    """
    command = smartcron_command()
    env = passed_environment(os.environ, app.config_file)
    if systemd:
        directory = Path(unit_dir) if unit_dir else default_unit_dir(user_units)
        units = unit_files(command, env, user=user_units, workdir=os.getcwd(), grace=app.settings.runner_shutdown_grace)
        for name, text in units.items():
            if dry_run:
                click.echo(f"--- {directory / name}\n{text}")
                continue
            directory.mkdir(parents=True, exist_ok=True)
            (directory / name).write_text(text)
            click.echo(f"wrote {directory / name}")
        click.echo("then run:" if not dry_run else "would then need:")
        click.echo(f"  {systemctl(user_units, 'daemon-reload')}")
        click.echo(f"  {systemctl(user_units, 'enable', '--now', 'smartcron.service', 'smartcron-health.timer')}")
        return
    crontab = Crontab(crontab_file)
    before = crontab.read()
    after = with_block(before, crontab_block(command, env))
    if dry_run:
        click.echo(after, nl=False)
        return
    if after == before:
        click.echo("already installed: the crontab is unchanged")
        return
    crontab.write(after)
    click.echo(("updated" if BEGIN in before else "added") + " the smartcron lines to the crontab:")
    click.echo(crontab_block(command, env), nl=False)


@click.command("uninstall")
@systemd_options
@pass_app
def uninstall_cmd(
    app: AppContext, systemd: bool, user_units: bool, unit_dir: str | None, crontab_file: str | None, dry_run: bool
) -> None:
    """Remove what `smartcron install` added (exactly that: other crontab lines stay)."""
    if systemd:
        directory = Path(unit_dir) if unit_dir else default_unit_dir(user_units)
        click.echo("first run:" if not dry_run else "would first need:")
        click.echo(f"  {systemctl(user_units, 'disable', '--now', 'smartcron.service', 'smartcron-health.timer')}")
        for name in UNITS:
            path = directory / name
            if not path.is_file() or not path.read_text().startswith(UNIT_MARKER):
                continue
            if not dry_run:
                path.unlink()
            click.echo(f"{'would remove' if dry_run else 'removed'} {path}")
        click.echo(f"  {systemctl(user_units, 'daemon-reload')}")
        return
    crontab = Crontab(crontab_file)
    before = crontab.read()
    after = without_block(before)
    if dry_run:
        click.echo(after, nl=False)
        return
    if after == before:
        click.echo("not installed: the crontab has no smartcron lines")
        return
    crontab.write(after)
    click.echo("removed the smartcron lines from the crontab")
