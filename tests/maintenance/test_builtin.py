"""Built-in tasks: registered by init with the seed's schedules, idempotent, runnable as they are."""

from __future__ import annotations

import os
import subprocess

from smartcron.config import Settings
from smartcron.domain.taskfields import RESERVED_PREFIX
from smartcron.maintenance.backup import list_backups
from smartcron.maintenance.builtin import ensure_builtin_tasks
from smartcron.services.setup import initialise
from smartcron.store import Store, open_store
from tests.conftest import utc

NOW = utc(2026, 3, 4, 12, 0)  # a Wednesday

SEED_SCHEDULES = {
    "smartcron.backup": ("0 1 * * *", utc(2026, 3, 5, 1)),
    "smartcron.rotate-logs": ("0 0 * * 0", utc(2026, 3, 8, 0)),
    "smartcron.cleanup": ("0 4 * * *", utc(2026, 3, 5, 4)),
    "smartcron.daily-report": ("0 7 * * *", utc(2026, 3, 5, 7)),
    "smartcron.disk-check": ("0 */6 * * *", utc(2026, 3, 4, 18)),
    "smartcron.error-summary": ("0 18 * * *", utc(2026, 3, 4, 18)),
    "smartcron.vacuum": ("0 3 * * 0", utc(2026, 3, 8, 3)),
}


def test_init_registers_the_built_in_tasks_with_the_seeds_schedules(settings: Settings) -> None:
    report = initialise(settings)

    assert sorted(report["builtin_added"]) == sorted(SEED_SCHEDULES)
    store = open_store(settings)
    try:
        tasks = {task.name: task for task in store.tasks.list(category="smartcron")}
        assert {name: task.spec.schedule for name, task in tasks.items()} == {
            name: schedule for name, (schedule, _next) in SEED_SCHEDULES.items()
        }
        for task in tasks.values():
            assert task.builtin and task.name.startswith(RESERVED_PREFIX) and task.active
            assert task.spec.timezone == settings.timezone
            assert task.spec.command[1:4] == ("-m", "smartcron", "--config")
            assert "maintenance" in task.spec.command
    finally:
        store.close()


def test_next_runs_follow_the_schedules_in_the_configured_zone(sqlite_store: Store, settings: Settings) -> None:
    ensure_builtin_tasks(settings, sqlite_store, now=NOW)

    assert {t.name: t.next_run_at for t in sqlite_store.tasks.list()} == {
        name: next_run for name, (_schedule, next_run) in SEED_SCHEDULES.items()
    }


def test_registering_again_adds_nothing_and_keeps_a_persons_changes(sqlite_store: Store, settings: Settings) -> None:
    ensure_builtin_tasks(settings, sqlite_store, now=NOW)
    sqlite_store.tasks.set_flags("smartcron.vacuum", now=NOW, paused=True)

    assert ensure_builtin_tasks(settings, sqlite_store, now=NOW) == []
    assert sqlite_store.tasks.get("smartcron.vacuum").paused
    assert sqlite_store.tasks.count() == len(SEED_SCHEDULES)


def test_a_built_in_command_runs_as_registered(settings: Settings) -> None:
    initialise(settings)
    store = open_store(settings)
    try:
        command = store.tasks.get("smartcron.backup").spec.command
    finally:
        store.close()
    # The runner passes its own environment on to a task (SMARTCRON_HOME here).
    env = dict(os.environ)

    done = subprocess.run(list(command), capture_output=True, text=True, env=env, timeout=120, check=False)

    assert done.returncode == 0, done.stderr
    assert "integrity ok" in done.stdout
    assert len(list_backups(settings.backup_dir, "sqlite")) == 1
