"""``smartcron tasks import-crontab --wrap``: a crontab rewritten so each job goes through ``smartcron exec``."""

from __future__ import annotations

import difflib
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import click

from smartcron.config import Settings
from smartcron.errors import UserError


def smartcron_program() -> str:
    """The absolute path cron should run (cron gives commands next to no PATH)."""
    called = Path(sys.argv[0])
    if called.name == "smartcron" and called.exists():
        return str(called.resolve())
    found = shutil.which("smartcron")
    if found:
        return str(Path(found).resolve())
    return str(Path(sys.executable).with_name("smartcron"))


def wrap(settings: Settings, text: str, *, file: str | None, system: bool, write: bool) -> None:
    """Show the rewritten crontab as a diff; with ``write``, install it, keeping a backup."""
    from smartcron.registry.crontab_import import wrap_crontab

    result = wrap_crontab(
        text,
        default_timezone=settings.timezone,
        program=smartcron_program(),
        system=True if system else None,
        home=settings.home,
    )
    for warning in result.warnings:
        click.echo(f"smartcron: warning: {warning.replace('not imported', 'left as it is')}", err=True)
    source = "<stdin>" if file == "-" else (file or "crontab -l")
    diff = difflib.unified_diff(
        text.splitlines(keepends=True), result.text.splitlines(keepends=True), source, f"{source} (wrapped)"
    )
    click.echo("".join(diff), nl=False)
    if not result.wrapped:
        click.echo("nothing to wrap", err=True)
        return
    if not write:
        click.echo(f"{len(result.wrapped)} line(s) would go through smartcron exec; --write installs it", err=True)
        return
    if file == "-":
        raise UserError("option --write: a crontab read from stdin has nowhere to go back to; give FILE")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    if file is not None:
        backup = Path(f"{file}.smartcron-backup-{stamp}")
        shutil.copy2(file, backup)
        Path(file).write_text(result.text, encoding="utf-8")
    else:
        backup = Path(settings.data_dir) / f"crontab-backup-{stamp}.txt"
        backup.parent.mkdir(parents=True, exist_ok=True)
        backup.write_text(text, encoding="utf-8")
        with tempfile.NamedTemporaryFile("w", suffix=".crontab", delete=False) as new:
            new.write(result.text)
        installed = subprocess.run(["crontab", new.name], capture_output=True, text=True, check=False)
        Path(new.name).unlink(missing_ok=True)
        if installed.returncode != 0:
            problem = (installed.stderr.strip().splitlines() or ["failed"])[0]
            raise UserError(f"`crontab`: {problem} (nothing changed; the old one is also in {backup})")
    click.echo(f"wrapped {len(result.wrapped)} line(s); the old crontab is in {backup}", err=True)
