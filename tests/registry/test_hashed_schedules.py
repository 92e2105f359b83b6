"""A task's H means the same times wherever its schedule is read: the registry's next_run_at,
the runner's planning, the dashboard's schedule view and ``smartcron next --task``."""

from __future__ import annotations

from datetime import UTC

from click.testing import CliRunner

from smartcron.cli.main import main
from smartcron.config import Settings
from smartcron.domain.schedule import parse_schedule
from smartcron.domain.task import TaskSpec
from smartcron.domain.taskfile import parse_task_file
from smartcron.registry.crontab_import import convert_crontab
from smartcron.registry.service import Registry
from smartcron.runner.scheduling.claims import Schedules
from smartcron.store import Store
from smartcron.web.schedule_view import describe_schedule, next_fire_times
from tests.conftest import utc

NOW = utc(2026, 3, 1, 9, 30)
NIGHTLY = "H H(0-5) * * *"


def test_each_task_gets_its_own_time_and_every_reader_agrees_on_it(store: Store) -> None:
    registry = Registry(store, Settings(timezone="Europe/Berlin"), actor="cli:alice")
    names = [f"nightly_{n}" for n in range(8)]
    for name in names:
        registry.add(TaskSpec(name, ("true",), NIGHTLY), now=NOW)
    planner = Schedules("Europe/Berlin")
    firsts = set()
    for task in store.tasks.list():
        expected = parse_schedule(NIGHTLY, "Europe/Berlin", hash_key=task.name).next_after(NOW)
        assert task.next_run_at == expected
        planned = planner.of(task)
        assert planned is not None and planned.next_after(NOW) == expected
        shown = next_fire_times(NIGHTLY, "Europe/Berlin", NOW, 2, task_name=task.name)
        assert not isinstance(shown, str) and shown[0].utc == expected.astimezone(UTC)
        assert f"H picked from the task name {task.name!r}" in describe_schedule(NIGHTLY, task_name=task.name)
        assert registry.next_runs(task.spec, NOW, 2)[0] == expected
        firsts.add(expected)
    assert len(firsts) > 4  # eight tasks, spread over six hours


def test_smartcron_next_with_the_task_name_shows_the_registered_times(store: Store) -> None:
    registry = Registry(store, Settings(timezone="UTC"), actor="cli:alice")
    task = registry.add(TaskSpec("payroll_export", ("true",), NIGHTLY), now=NOW)
    assert task.next_run_at is not None
    with CliRunner().isolation() as (out, _, _):
        main(["next", NIGHTLY, "--task", "payroll_export", "--tz", "UTC", "--after", NOW.isoformat(), "--count", "1"])
    assert out.getvalue().decode().split()[0] == task.next_run_at.isoformat()


def test_a_task_file_and_a_crontab_may_use_h() -> None:
    specs = parse_task_file(
        '[[task]]\nname = "a"\ncommand = ["true"]\nschedule = "H/15 * * * *"\n', default_timezone="UTC"
    )
    assert specs[0].schedule == "H/15 * * * *"
    result = convert_crontab("H 3 * * * /usr/local/bin/backup\n", default_timezone="UTC")
    assert [spec.schedule for spec in result.tasks] == ["H 3 * * *"]


def test_the_planner_hashes_by_name_so_a_schedule_without_a_name_is_never_needed(store: Store) -> None:
    registry = Registry(store, Settings(timezone="UTC"), actor="cli:alice")
    registry.add(TaskSpec("a", ("true",), "H * * * *"), now=NOW)
    schedule = Schedules("UTC").of(store.tasks.get("a"))
    assert schedule is not None and schedule.expr == "H * * * *"
