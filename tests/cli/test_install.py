"""``smartcron install`` / ``uninstall``: crontab lines (idempotent, marked) or systemd units."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from smartcron.cli.install import BEGIN, END, UNIT_MARKER
from smartcron.cli.main import main

OTHER_LINES = "MAILTO=ops@example.com\n# nightly backup\n0 3 * * * /usr/local/bin/backup --all\n"


def run_main(*args: str) -> tuple[int, str, str]:
    runner = CliRunner()
    with runner.isolation() as (out, err, _):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue().decode(), err.getvalue().decode()


def smartcron_lines(crontab: str) -> list[str]:
    return [line for line in crontab.splitlines() if "smartcron" in line and not line.startswith("#")]


def test_install_adds_the_two_lines_with_absolute_path_and_home_and_keeps_other_lines(
    home: Path, tmp_path: Path
) -> None:
    crontab = tmp_path / "crontab"
    crontab.write_text(OTHER_LINES)
    code, out, _ = run_main("install", "--crontab-file", str(crontab))
    assert code == 0 and "added" in out
    text = crontab.read_text()
    assert text.startswith(OTHER_LINES)
    tick, health = smartcron_lines(text)
    executable = str(Path(sys.executable).parent / "smartcron")
    assert tick == f"* * * * * SMARTCRON_HOME={home} {executable} tick >/dev/null"
    assert health == f"*/5 * * * * SMARTCRON_HOME={home} {executable} health >/dev/null"
    assert Path(executable).is_file()


def test_install_twice_changes_nothing_and_uninstall_removes_exactly_its_lines(home: Path, tmp_path: Path) -> None:
    crontab = tmp_path / "crontab"
    crontab.write_text(OTHER_LINES)
    run_main("install", "--crontab-file", str(crontab))
    installed = crontab.read_text()
    code, out, _ = run_main("install", "--crontab-file", str(crontab))
    assert (code, crontab.read_text()) == (0, installed)
    assert "already installed" in out
    code, out, _ = run_main("uninstall", "--crontab-file", str(crontab))
    assert (code, crontab.read_text()) == (0, OTHER_LINES)
    assert (
        run_main("uninstall", "--crontab-file", str(crontab))[1]
        == "not installed: the crontab has no smartcron lines\n"
    )


def test_install_replaces_an_older_block_instead_of_adding_a_second(home: Path, tmp_path: Path) -> None:
    crontab = tmp_path / "crontab"
    crontab.write_text(f"{BEGIN}\n* * * * * /old/path/smartcron tick\n{END}\n{OTHER_LINES}")
    code, out, _ = run_main("install", "--crontab-file", str(crontab))
    assert code == 0 and "updated" in out
    text = crontab.read_text()
    assert text.count(BEGIN) == 1 and "/old/path" not in text and OTHER_LINES in text


def test_dry_run_shows_the_result_and_writes_nothing(home: Path, tmp_path: Path) -> None:
    crontab = tmp_path / "crontab"
    crontab.write_text(OTHER_LINES)
    code, out, _ = run_main("install", "--crontab-file", str(crontab), "--dry-run")
    assert code == 0 and len(smartcron_lines(out)) == 2
    assert crontab.read_text() == OTHER_LINES


def test_without_a_crontab_program_install_says_so_in_one_line(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    code, out, err = run_main("install")
    assert (code, out) == (2, "")
    assert err == "smartcron: the crontab program is not installed; install cron, or use --systemd\n"


def test_install_uses_the_crontab_program_when_there_is_one(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in `crontab` that keeps the table in a file, as the real one keeps it in /var/spool.
    table = tmp_path / "table"
    fake = tmp_path / "bin" / "crontab"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "-l" ]; then [ -f {table} ] && exec cat {table}; echo "no crontab for tester" >&2; exit 1; fi\n'
        f'if [ "$1" = "-" ]; then exec cat > {table}; fi\nexit 2\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    assert run_main("install")[0] == 0
    assert len(smartcron_lines(table.read_text())) == 2
    assert run_main("uninstall")[0] == 0
    assert table.read_text() == ""


def test_systemd_writes_a_daemon_service_and_a_health_timer_and_prints_the_systemctl_commands(
    home: Path, tmp_path: Path
) -> None:
    units = tmp_path / "units"
    code, out, _ = run_main("install", "--systemd", "--user", "--unit-dir", str(units))
    assert code == 0
    assert sorted(p.name for p in units.iterdir()) == [
        "smartcron-health.service",
        "smartcron-health.timer",
        "smartcron.service",
    ]
    service = (units / "smartcron.service").read_text()
    assert service.startswith(UNIT_MARKER)
    assert f"ExecStart={Path(sys.executable).parent / 'smartcron'} run --quiet" in service
    assert f'Environment="SMARTCRON_HOME={home}"' in service and "KillMode=mixed" in service
    assert "OnCalendar=*:0/5" in (units / "smartcron-health.timer").read_text()
    assert "systemctl --user enable --now smartcron.service smartcron-health.timer" in out
    code, out, _ = run_main("uninstall", "--systemd", "--user", "--unit-dir", str(units))
    assert code == 0 and list(units.iterdir()) == []
    assert "systemctl --user disable --now smartcron.service smartcron-health.timer" in out


def test_uninstall_systemd_leaves_unit_files_it_did_not_write(home: Path, tmp_path: Path) -> None:
    units = tmp_path / "units"
    units.mkdir()
    (units / "smartcron.service").write_text("[Unit]\nDescription=someone else's\n")
    assert run_main("uninstall", "--systemd", "--unit-dir", str(units))[0] == 0
    assert (units / "smartcron.service").exists()
