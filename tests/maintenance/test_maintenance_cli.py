"""``smartcron maintenance ...`` as the built-in tasks run it: real processes, exit codes, JSON."""

from __future__ import annotations

import json
from pathlib import Path

from smartcron.config import Settings
from smartcron.services.setup import initialise
from tests.monitor.test_health_cli import smartcron


def test_cleanup_reports_what_it_deleted_and_rotates_the_logs(settings: Settings) -> None:
    initialise(settings)
    (Path(settings.log_dir) / "master.log").write_text("a line\n")

    done = smartcron("maintenance", "cleanup", "--json")

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["retention"]["executions"] == 0
    assert str(Path(settings.log_dir) / "master.log") in report["logs"]["rotated"]
    # Cleanup logs what it deleted, then rotates cleanup.log itself along with the others.
    logged = "".join(p.read_text() for p in sorted(Path(settings.log_dir).glob("cleanup.log*")))
    assert "retention:" in logged and "log rotation: 2 rotated" in logged


def test_disk_check_fails_past_the_critical_threshold(settings: Settings) -> None:
    initialise(settings)

    calm = smartcron("maintenance", "disk-check", "--json")
    full = smartcron(
        "maintenance",
        "disk-check",
        SMARTCRON_HEALTH_DISK_WARN_PERCENT="1",
        SMARTCRON_HEALTH_DISK_CRITICAL_PERCENT="1",
    )

    assert calm.returncode == 0 and {c["name"] for c in json.loads(calm.stdout)} == {
        "disk_data",
        "disk_logs",
        "log_dir_size",
    }
    assert full.returncode == 1 and full.stdout.startswith("fail")


def test_backup_and_vacuum_print_one_line_each(settings: Settings) -> None:
    initialise(settings)

    backup = smartcron("maintenance", "backup")
    vacuum = smartcron("maintenance", "vacuum", "--json")

    assert backup.returncode == 0 and "integrity ok" in backup.stdout
    assert vacuum.returncode == 0 and json.loads(vacuum.stdout)["dialect"] == "sqlite"


def test_a_backup_that_cannot_be_made_is_one_line_and_exit_1(settings: Settings) -> None:
    done = smartcron("maintenance", "backup", SMARTCRON_DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none")

    assert done.returncode == 1
    assert done.stderr.startswith("smartcron: ") and len(done.stderr.strip().splitlines()) == 1
