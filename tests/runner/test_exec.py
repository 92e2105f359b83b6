"""``smartcron exec``, run as cron runs a line: ``/bin/sh -c``, no PATH, no HOME; database up and down."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from smartcron.config import Settings
from smartcron.domain.enums import CheckStatus, ExecutionStatus, Trigger
from smartcron.domain.task import TaskOrigin
from smartcron.monitor.wrapped import check_wrapped_tasks
from smartcron.store import Store
from tests.runner.runner_support import add_task, home_store, runs_of

SMARTCRON = Path(sys.executable).with_name("smartcron")
UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:9/nowhere"  # the discard port: refused at once


def cron_line(home: Path, line: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``line`` as cron runs it: /bin/sh -c, with only what cron gives (no PATH, no HOME)."""
    assignments = " ".join(f"{key}={value}" for key, value in {"SMARTCRON_HOME": str(home), **env}.items())
    return subprocess.run(
        ["/bin/sh", "-c", f"{assignments} {line}"], env={}, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def installed(tmp_path: Path) -> tuple[Path, Settings, Store]:
    home = tmp_path / "home"
    settings, store = home_store(home)
    return home, settings, store


def test_a_wrapped_line_runs_recorded_with_its_output_and_exits_with_the_commands_status(
    installed: tuple[Path, Settings, Store],
) -> None:
    home, _, store = installed
    done = cron_line(home, f"{SMARTCRON} exec pos_sync --schedule '*/5 * * * *' -- sh -c 'echo synced; exit 3'")
    assert (done.returncode, done.stdout, done.stderr) == (3, "", "")
    task = store.tasks.get("pos_sync")
    assert (task.origin, task.next_run_at, task.spec.schedule, task.spec.retries) == (
        TaskOrigin.EXEC, None, "*/5 * * * *", 0,
    )  # fmt: skip
    [run] = runs_of(store, task)
    assert (run.status, run.trigger, run.exit_code, run.output) == (
        ExecutionStatus.FAILED, Trigger.SCHEDULE, 3, "synced\n",
    )  # fmt: skip

    ok = cron_line(home, f"{SMARTCRON} exec pos_sync --schedule '*/5 * * * *' -- true")
    assert ok.returncode == 0
    assert [r.status for r in runs_of(store, task)] == [ExecutionStatus.FAILED, ExecutionStatus.SUCCESS]
    assert store.tasks.get("pos_sync").spec.command == ("true",)  # the crontab line is the truth


def test_a_command_that_times_out_exits_124_and_is_recorded_timeout(installed: tuple[Path, Settings, Store]) -> None:
    home, _, store = installed
    done = cron_line(home, f"{SMARTCRON} exec slow --schedule '@hourly' --timeout 1 -- sleep 30")
    assert done.returncode == 124
    [run] = runs_of(store, store.tasks.get("slow"))
    assert run.status is ExecutionStatus.TIMEOUT


def test_with_the_database_down_the_command_runs_and_its_record_is_written_later(
    installed: tuple[Path, Settings, Store],
) -> None:
    home, settings, store = installed
    before = datetime.now(UTC)
    offline = cron_line(home, f"{SMARTCRON} exec backup --schedule '0 2 * * *' -- sh -c 'echo offline'",
                        SMARTCRON_DATABASE_URL=UNREACHABLE)  # fmt: skip
    assert offline.returncode == 0, offline.stderr
    assert store.tasks.find("backup") is None
    kept = list((Path(settings.data_dir) / "spool" / "unrecorded").glob("*.json"))
    assert len(kept) == 1

    # The next smartcron command that reaches the database writes it, with its real time.
    tick = cron_line(home, f"{SMARTCRON} tick")
    assert tick.returncode == 0, tick.stderr
    [run] = runs_of(store, store.tasks.get("backup"))
    assert (run.status, run.output) == (ExecutionStatus.SUCCESS, "offline\n")
    assert run.started_at is not None and before <= run.started_at <= datetime.now(UTC)
    assert not kept[0].exists()


def test_a_task_smartcron_schedules_itself_is_not_wrapped(installed: tuple[Path, Settings, Store]) -> None:
    home, _, store = installed
    add_task(store, "payroll", ("true",), next_run_at=datetime.now(UTC) + timedelta(hours=1))
    done = cron_line(home, f"{SMARTCRON} exec payroll --schedule '0 1 * * *' -- true")
    assert done.returncode == 2
    assert "task 'payroll' is scheduled by smartcron itself" in done.stderr
    assert done.stderr.count("\n") == 1
    assert store.executions.count() == 0


def test_a_wrapped_line_cron_did_not_run_is_flagged(installed: tuple[Path, Settings, Store]) -> None:
    home, settings, store = installed
    assert cron_line(home, f"{SMARTCRON} exec hourly_report --schedule '0 * * * *' -- true").returncode == 0
    now = datetime.now(UTC)
    assert check_wrapped_tasks(store, settings, now).status is CheckStatus.OK
    later = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=2, minutes=10)
    result = check_wrapped_tasks(store, settings, later)
    assert result.status is CheckStatus.WARN
    assert "hourly_report" in result.message


def test_a_crontab_wrapped_line_by_line_runs_each_job_through_exec(installed: tuple[Path, Settings, Store]) -> None:
    from smartcron.registry.crontab_import import wrap_crontab

    home, _, store = installed
    crontab = "\n".join(
        [
            "MAILTO=ops@example.com",
            "# Sync the point of sale",
            "*/5 * * * * echo synced >&2; exit 0",
            "CRON_TZ=Pacific/Auckland",
            "30 6 * * 1-5 echo report",
            "0 3 * * * echo 50% done",
            "",
        ]
    )
    result = wrap_crontab(crontab, default_timezone="UTC", program=str(SMARTCRON), home=str(home))
    lines = result.text.split("\n")
    assert result.wrapped == ["sync_the_point_of_sale", "echo"]
    assert lines[0] == f"SMARTCRON_HOME={home}"
    assert lines[1:3] == ["MAILTO=ops@example.com", "# Sync the point of sale"]
    assert lines[3].startswith(f"*/5 * * * * {SMARTCRON} exec sync_the_point_of_sale --schedule '*/5 * * * *' --shell")
    assert "--tz Pacific/Auckland" in lines[5]
    assert lines[6] == "0 3 * * * echo 50% done"  # cron reads '%' first: left as it is, with a warning
    assert any("'%'" in warning for warning in result.warnings)

    # Each wrapped line, run as cron would run it, records its job.
    for line in (lines[3], lines[5]):
        command = line.split(None, 5)[5]
        done = cron_line(home, command)
        assert done.returncode == 0, done.stderr
    [sync] = runs_of(store, store.tasks.get("sync_the_point_of_sale"))
    assert (sync.status, sync.output) == (ExecutionStatus.SUCCESS, "synced\n")
    assert store.tasks.get("echo").spec.timezone == "Pacific/Auckland"
